"""WMT14 en-de and IWSLT14 de-en: fake archives with the published layout (the same member
names, a few lines each) served over HTTP on 127.0.0.1; checksums pinned on first fetch in
the lock file, verified extraction, and the SGM / IWSLT readers and splits."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import json
import os
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from nmt.data.catalogue import CATALOGUE, Corpus, RemoteFile, SplitSpec
from nmt.data.cli import main
from nmt.data.config import DataConfig
from nmt.data.corpora import load_corpus_text, read_catalogue_split
from nmt.data.fetch import LOCK_NAME, fetch_corpus
from nmt.data.formats import sgm_segments
from nmt.data.validate import read_lines
from nmt.errors import DataError

pytestmark = pytest.mark.usefixtures("no_env_mirror")

WMT = "wmt14_en-de"
IWSLT = "iwslt14_de-en"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tgz(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    """A gzipped tar holding ``members`` (name -> bytes) and symlinks (name -> target)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buf.getvalue()


def text(*lines: str) -> bytes:
    return "".join(f"{line}\n" for line in lines).encode("utf-8")


def sgm(kind: str, lang: str, segs: list[str]) -> bytes:
    """A newstest2014 SGM file as statmt.org writes them (``<seg`` lines at column 0)."""
    head = f'<{kind}set setid="newstest2014" srclang="any" trglang="{lang}">'
    body = [f'<seg id="{i}">{s}</seg>' for i, s in enumerate(segs, 1)]
    lines = [head, '<doc sysid="ref" docid="1012-bbc" genre="news" origlang="en">', "<p>"]
    lines += [*body[:2], '  <seg id="99">indented: sacreBLEU skips it</seg>', *body[2:]]
    return text(*lines, "</p>", "</doc>", f"</{kind}set>")


DE_2014 = [
    "Gutach: Mehr Sicherheit für Fußgänger",
    "  Sie   stehen\tda  ",
    "Standard &amp; Poor's &lt;b&gt; &quot;AG&quot;",
    'Ende</seg> danach <seg id="x">mehr',
]
EN_2014 = [
    "Gutach: Increased safety for pedestrians",
    " They   are there ",
    "Standard &amp; Poor's &lt;b&gt; &quot;Inc&quot;",
    "The end",
]


def wmt14_archives() -> dict[str, bytes]:
    """The five WMT14 archives with the member names fairseq's and sacreBLEU's scripts read,
    plus members of other language pairs (never extracted)."""

    def pair(stem: str, n: int, tag: str) -> dict[str, bytes]:
        return {
            f"{stem}.de": text(*(f"{tag} de {i}" for i in range(n))),
            f"{stem}.en": text(*(f"{tag} en {i}" for i in range(n))),
        }

    ep = pair("training/europarl-v7.de-en", 3, "europarl")
    cc = pair("commoncrawl.de-en", 2, "crawl")
    nc = pair("training/news-commentary-v9.de-en", 2, "nc")
    return {
        "training-parallel-europarl-v7.tgz": tgz(
            {**ep, "training/europarl-v7.fr-en.fr": text("pas ici")}
        ),
        "training-parallel-commoncrawl.tgz": tgz({**cc, "commoncrawl.fr-en.fr": text("non")}),
        "training-parallel-nc-v9.tgz": tgz(nc),
        "dev.tgz": tgz(
            {
                "dev/newstest2013.de": text("Dev eins", "Dev zwei"),
                "dev/newstest2013.en": text("Dev one", "Dev two"),
                "dev/newstest2013-src.de.sgm": text('<seg id="1">nicht gelesen</seg>'),
            }
        ),
        "test-full.tgz": tgz(
            {
                "test-full/newstest2014-deen-src.de.sgm": sgm("src", "de", DE_2014),
                "test-full/newstest2014-deen-ref.en.sgm": sgm("ref", "en", EN_2014),
                "test-full/newstest2014-deen-src.en.sgm": sgm("src", "en", [*EN_2014[:3], "EN"]),
                "test-full/newstest2014-deen-ref.de.sgm": sgm("ref", "de", [*DE_2014[:3], "DE"]),
            }
        ),
    }


def talk(lang: str, talk_id: int, n: int) -> list[str]:
    """One talk of ``train.tags``: metadata lines, then ``n`` sentences."""
    return [
        f"<url>http://www.ted.com/talks/{talk_id}.html</url>",
        f"<keywords>talks, {lang}</keywords>",
        f"<talkid>{talk_id}</talkid>",
        f"<title>{lang} title {talk_id}</title>",
        f"<description>{lang} description {talk_id}</description>",
        *(f"{lang} talk {talk_id} line {i} & more" for i in range(n)),
    ]


IWSLT_TESTS = [
    "IWSLT14.TED.dev2010",
    "IWSLT14.TEDX.dev2012",
    "IWSLT14.TED.tst2010",
    "IWSLT14.TED.tst2011",
    "IWSLT14.TED.tst2012",
]


def iwslt_xml(prefix: str, lang: str) -> bytes:
    return text(
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<mteval>",
        f'<srcset setid="{prefix}" srclang="{lang}">',
        '<doc docid="535" genre="lectures">',
        "<url>http://www.ted.com/talks/535.html</url>",
        "<talkid>535</talkid>",
        f"<title>{prefix} title</title>",
        f'<seg id="1"> {prefix} {lang} one &amp; &quot;two&quot; </seg>',
        f'   <seg id="2">{prefix}  {lang}   &#252;ber &lt;3</seg>',
        "</doc>",
        "</srcset>",
        "</mteval>",
    )


def iwslt_archive() -> bytes:
    members = {
        f"de-en/train.tags.de-en.{lang}": text(*talk(lang, 1, 30), *talk(lang, 2, 20))
        for lang in ("de", "en")
    }
    for prefix in IWSLT_TESTS:
        for lang in ("de", "en"):
            members[f"de-en/{prefix}.de-en.{lang}.xml"] = iwslt_xml(prefix, lang)
    members["de-en/README"] = text("not extracted")
    return tgz(members)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTP server on 127.0.0.1 serving ``<served>/<corpus folder>/<archive>`` with the
    fake WMT14 and IWSLT14 archives; yields its base URL and the served folder."""
    root = tmp_path / "served"
    for name, data in wmt14_archives().items():
        (root / WMT).mkdir(parents=True, exist_ok=True)
        (root / WMT / name).write_bytes(data)
    (root / IWSLT).mkdir(parents=True)
    (root / IWSLT / "de-en.tgz").write_bytes(iwslt_archive())
    handler = functools.partial(QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()


def files_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())


def fetch(name: str, root: Path, base: str, messages: list[str] | None = None) -> Path:
    log = messages.append if messages is not None else (lambda m: None)
    return fetch_corpus(name, root, url_base=base, log=log)


# ------------------------------------------------------------------ fetching, the lock file


def test_first_download_records_the_sha256_and_extracts_only_the_catalogued_members(
    served, tmp_path
):
    base, root = served
    messages: list[str] = []
    folder = fetch("iwslt14", tmp_path / "data", base, messages)
    lock_path = folder / LOCK_NAME
    archive = (root / IWSLT / "de-en.tgz").read_bytes()
    recorded = [m for m in messages if "recorded" in m]
    assert len(recorded) == 1 and "\n" not in recorded[0]
    assert "de-en.tgz" in recorded[0] and sha(archive) in recorded[0]
    assert str(lock_path) in recorded[0]
    lock = json.loads(lock_path.read_text())
    assert lock["sha256"] == {"de-en.tgz": sha(archive)}
    assert lock["extracted"]["de-en.tgz"]["sha256"] == sha(archive)
    members = CATALOGUE["iwslt14"].files[0].members
    assert files_under(folder) == sorted([LOCK_NAME, "de-en.tgz", *members])  # no README
    assert (folder / "de-en" / "train.tags.de-en.de").read_bytes().startswith(b"<url>")


def test_later_uses_are_checked_against_the_lock_and_skip_extraction(served, tmp_path):
    base, _ = served
    folder = fetch("iwslt14", tmp_path / "data", base)
    messages: list[str] = []
    fetch("iwslt14", tmp_path / "data", "http://127.0.0.1:9/none", messages)  # no source needed
    assert messages == []  # verified against the lock, nothing downloaded or extracted
    member = folder / "de-en" / "IWSLT14.TED.tst2012.de-en.en.xml"
    member.write_text("truncated")  # an extracted file changed: extracted again
    fetch("iwslt14", tmp_path / "data", "http://127.0.0.1:9/none", messages)
    assert [m.split()[0] for m in messages] == ["extracting"]
    assert member.read_text().startswith("<?xml")


def test_a_changed_archive_in_the_data_folder_is_refused_in_one_line(served, tmp_path):
    base, _ = served
    folder = fetch("iwslt14", tmp_path / "data", base)
    archive = folder / "de-en.tgz"
    good = sha(archive.read_bytes())
    archive.write_bytes(iwslt_archive()[:-10] + b"0123456789")
    with pytest.raises(DataError) as err:
        fetch("iwslt14", tmp_path / "data", base)
    msg = str(err.value)
    assert "\n" not in msg and str(archive) in msg and str(folder / LOCK_NAME) in msg
    assert good in msg and sha(archive.read_bytes()) in msg and "delete" in msg


def test_a_changed_archive_at_the_source_is_refused_and_nothing_is_used(served, tmp_path):
    base, root = served
    folder = fetch("iwslt14", tmp_path / "data", base)
    good = sha((folder / "de-en.tgz").read_bytes())
    before = (folder / "de-en" / "train.tags.de-en.en").read_bytes()
    (folder / "de-en.tgz").unlink()  # fetched again: the new download must match the lock
    changed = tgz({"de-en/train.tags.de-en.en": text("another release")})
    (root / IWSLT / "de-en.tgz").write_bytes(changed)
    with pytest.raises(DataError) as err:
        fetch("iwslt14", tmp_path / "data", base)
    msg = str(err.value)
    assert "\n" not in msg and "checksum mismatch for de-en.tgz" in msg
    assert good in msg and sha(changed) in msg and str(folder / LOCK_NAME) in msg
    assert not (folder / "de-en.tgz").exists() and not list(folder.glob(".*part"))
    assert (folder / "de-en" / "train.tags.de-en.en").read_bytes() == before


def archive_corpus(members: tuple[str, ...]) -> Corpus:
    return Corpus(
        name="tiny_tar",
        folder="tiny_tar",
        description="test archive",
        languages=("de", "en"),
        default_pair=("de", "en"),
        default_splits=("train", "train", "train"),
        default_extra_tests=(),
        files=(RemoteFile("a.tgz", None, "http://127.0.0.1:9/none", members),),
        splits={"train": SplitSpec({"de": members[:1], "en": members[1:2]})},
    )


@pytest.mark.parametrize("member", ["../outside.de", "/tmp/abs.de", "x/../../outside.de"])
def test_a_member_path_escaping_the_corpus_folder_is_refused(tmp_path, member):
    mirror = tmp_path / "mirror"
    (mirror / "tiny_tar").mkdir(parents=True)
    (mirror / "tiny_tar" / "a.tgz").write_bytes(tgz({member: b"x\n", "b.en": b"y\n"}))
    with pytest.raises(DataError, match=r"refusing to extract .*corpus folder"):
        fetch_corpus(archive_corpus((member, "b.en")), tmp_path / "data", mirror, log=print)
    assert files_under(tmp_path / "data" / "tiny_tar") == [LOCK_NAME, "a.tgz"]
    assert not (tmp_path / "data" / "outside.de").exists()


def test_a_link_member_and_a_missing_member_are_refused(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "tiny_tar").mkdir(parents=True)
    (mirror / "tiny_tar" / "a.tgz").write_bytes(tgz({"b.en": b"y\n"}, {"a.de": "/etc/passwd"}))
    with pytest.raises(DataError, match=r"'a.de' is not a plain file"):
        fetch_corpus(archive_corpus(("a.de", "b.en")), tmp_path / "data", mirror, log=print)
    assert not (tmp_path / "data" / "tiny_tar" / "a.de").exists()
    (mirror / "tiny_tar" / "a.tgz").write_bytes(tgz({"b.en": b"y\n"}))
    with pytest.raises(DataError, match=r"a.tgz has no a.de: not the release"):
        fetch_corpus(archive_corpus(("a.de", "b.en")), tmp_path / "data2", mirror, log=print)


def test_the_mirror_layout_serves_the_archives(served, tmp_path):
    _, root = served  # the served folder has the mirror's layout: <dir>/<folder>/<file>
    messages: list[str] = []
    folder = fetch_corpus("wmt14", tmp_path / "data", root, log=messages.append)
    copied = [m for m in messages if m.startswith("copying")]
    assert len(copied) == 5 and all(str(root / WMT) in m for m in copied)
    assert sum("recorded" in m for m in messages) == 5
    assert json.loads((folder / LOCK_NAME).read_text())["sha256"] == {
        name: sha(data) for name, data in wmt14_archives().items()
    }
    text_ = read_catalogue_split(CATALOGUE["wmt14"], folder, "newstest2013", "en", "de")
    assert (text_.src, text_.tgt) == (["Dev one", "Dev two"], ["Dev eins", "Dev zwei"])


# ------------------------------------------------------------------ readers and splits


def test_sgm_reader_gives_what_sacrebleu_gives(tmp_path):
    from sacrebleu.dataset.fake_sgml import FakeSGMLDataset

    path = tmp_path / "newstest2014-deen-src.de.sgm"
    path.write_bytes(sgm("src", "de", DE_2014).replace(b"</seg>\n", b"</seg>\r\n", 1))
    ours = sgm_segments(read_lines(path))
    FakeSGMLDataset("nmt-test", langpairs={})._convert_format(str(path), str(tmp_path / "out"))
    assert ours == (tmp_path / "out").read_text(encoding="utf-8").splitlines()
    assert ours == [
        "Gutach: Mehr Sicherheit für Fußgänger",
        "Sie stehen da",
        "Standard &amp; Poor's &lt;b&gt; &quot;AG&quot;",  # sacreBLEU decodes no entity
        'Ende</seg> danach <seg id="x">mehr',
    ]


def test_wmt14_splits_in_both_directions(served, tmp_path):
    base, _ = served
    corpus = CATALOGUE["wmt14"]
    folder = fetch("wmt14", tmp_path / "data", base)
    train = read_catalogue_split(corpus, folder, "train", "en", "de")
    assert train.name == "train" and len(train) == 7
    assert train.src[:4] == ["europarl en 0", "europarl en 1", "europarl en 2", "crawl en 0"]
    assert train.tgt[-1] == "nc de 1" and train.refs == [train.tgt]
    ende = read_catalogue_split(corpus, folder, "newstest2014", "en", "de")
    deen = read_catalogue_split(corpus, folder, "newstest2014", "de", "en")
    assert ende.src[-1] == "EN" and ende.tgt[-1] == "DE"  # src.en.sgm / ref.de.sgm
    assert deen.src == sgm_segments(sgm("src", "de", DE_2014).decode().splitlines())
    assert deen.tgt[1] == "They are there"
    assert len(deen) == len(ende) == 4
    assert not (folder / "training" / "europarl-v7.fr-en.fr").exists()


def test_iwslt14_split_as_fairseq_makes_it(served, tmp_path):
    base, _ = served
    corpus = CATALOGUE["iwslt14"]
    folder = fetch("iwslt14", tmp_path / "data", base)
    # 2 talks: title and description (tags removed) + 30 and 20 sentences = 54 lines
    lines = [*talk("de", 1, 30), *talk("de", 2, 20)]
    kept = [x.replace("<title>", "").replace("</title>", "") for x in lines]
    kept = [x.replace("<description>", "").replace("</description>", "") for x in kept]
    kept = [x for x in kept if not x.startswith(("<url>", "<keywords>", "<talkid>"))]
    assert len(kept) == 54 and kept[0] == "de title 1"
    train = read_catalogue_split(corpus, folder, "train", "de", "en")
    valid = read_catalogue_split(corpus, folder, "valid", "de", "en")
    assert valid.src == [kept[22], kept[45]]  # lines 23 and 46 (awk's NR % 23 == 0)
    assert valid.tgt == [kept[22].replace("de ", "en ", 1), kept[45].replace("de ", "en ", 1)]
    assert train.src == [x for i, x in enumerate(kept, 1) if i % 23]
    assert len(train) == 52 and train.tgt[0] == "en title 1"
    assert train.src[2] == "de talk 1 line 0 & more"  # as published: not tokenized, cased
    test = read_catalogue_split(corpus, folder, "test", "de", "en")
    assert len(test) == 10 and test.name == "test"
    assert test.src[::2] == [f'{p} de one & "two"' for p in IWSLT_TESTS]  # fairseq's order
    assert test.tgt[1] == "IWSLT14.TED.dev2010 en über <3"
    single = read_catalogue_split(corpus, folder, "dev2012", "en", "de")
    assert single.src == test.tgt[2:4] and single.tgt == test.src[2:4]


def test_load_corpus_text_reads_the_configured_roles(served, tmp_path):
    _, root = served
    cfg = DataConfig(name="iwslt14", valid="valid", test="test", extra_tests=["tst2012"])
    cfg.root, cfg.mirror = str(tmp_path / "data"), str(root)
    texts, removed = load_corpus_text(cfg, log=lambda m: None)
    assert removed == {} and sorted(texts) == ["test", "train", "tst2012", "valid"]
    assert (len(texts["train"]), len(texts["valid"]), len(texts["tst2012"])) == (52, 2, 2)


def test_nmt_data_lists_and_fetches_the_new_corpora(served, tmp_path, capsys, monkeypatch):
    base, _ = served
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "wmt14" in out and "iwslt14" in out and "newstest2014" in out
    monkeypatch.setenv("NMT_DATA_URL_BASE", base)
    assert main(["fetch", "wmt14", "--root", str(tmp_path / "data")]) == 0
    captured = capsys.readouterr()
    assert "wmt14: all files present and verified" in captured.out
    assert captured.err.count("recorded its sha256") == 5
    assert (tmp_path / "data" / WMT / "test-full" / "newstest2014-deen-ref.de.sgm").is_file()


def test_nmt_train_on_wmt14_streams_its_files_into_the_prepared_store(served, tmp_path):
    """`nmt-train data=wmt14` against a source of the right layout: the training text is
    streamed from the extracted files into the prepared store and trained from it."""
    import subprocess
    import sys

    from nmt.data.store import TokenStore
    from tests.runs import QUIET, TINY_BAHDANAU

    base, _ = served
    env = {**os.environ, "NMT_DATA_URL_BASE": base, "PYTHONUNBUFFERED": "1"}
    env.pop("NMT_DATA_MIRROR", None)
    cmd = [str(Path(sys.executable).parent / "nmt-train"), f"hydra.run.dir={tmp_path / 'run'}",
           "data=wmt14", f"data.root={tmp_path / 'data'}", "data.tokenizer.vocab_size=60",
           "data.tokenizer.type=unigram", "data.max_tokens=400", "train.max_steps=2",
           *TINY_BAHDANAU, *QUIET]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (folder,) = (tmp_path / "data" / "prepared").glob("wmt14.en-de.train.*")
    store = TokenStore(folder)
    assert len(store) == 7 and "3 file pair(s)" in store.meta["source"]
    assert "prepared 7 training pairs" in proc.stdout
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["corpus"] == "wmt14" and results["steps"] == 2
