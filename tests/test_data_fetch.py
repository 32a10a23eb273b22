"""Fetching: verified copies from a mirror or a real local HTTP server, nothing partial left."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from nmt.data.catalogue import CATALOGUE, Corpus, RemoteFile, SplitSpec
from nmt.data.fetch import fetch_corpus
from nmt.errors import DataError

pytestmark = pytest.mark.usefixtures("no_env_mirror")

GOOD = b"ein Hund\nzwei Katzen\n"
BAD = b"ein Hund\nzwei Katzen!\n"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tiny_corpus(*names: str, base_url: str = "http://127.0.0.1:9/none") -> Corpus:
    """A fake catalogue entry whose files all have the checksum of GOOD."""
    files = tuple(RemoteFile(n, sha(GOOD), base_url) for n in names)
    return Corpus(
        name="tiny",
        folder="tiny_folder",
        description="test corpus",
        languages=("de", "en"),
        default_pair=("de", "en"),
        default_splits=("train", "train", "train"),
        default_extra_tests=(),
        files=files,
        splits={"train": SplitSpec({"de": names[:1], "en": names[1:2]})},
    )


def files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()] if path.exists() else []


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTP server on 127.0.0.1 serving ``<served>/tiny_folder/<file>``."""
    served = tmp_path / "served"
    (served / "tiny_folder").mkdir(parents=True)
    handler = functools.partial(QuietHandler, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", served / "tiny_folder"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_http_download_verifies_and_places_the_file(server, tmp_path):
    base, folder = server
    (folder / "good.de").write_bytes(GOOD)
    (folder / "good.en").write_bytes(GOOD)
    root = tmp_path / "data"
    out = fetch_corpus(tiny_corpus("good.de", "good.en"), root, url_base=base, log=lambda m: None)
    assert (out / "good.de").read_bytes() == GOOD
    assert sorted(p.name for p in files_under(root)) == ["good.de", "good.en"]


def test_official_url_is_used_without_a_base_override(server, tmp_path):
    base, folder = server
    (folder / "good.de").write_bytes(GOOD)
    corpus = tiny_corpus("good.de", base_url=f"{base}/tiny_folder")
    fetch_corpus(corpus, tmp_path / "data", log=lambda m: None)
    assert (tmp_path / "data" / "tiny_folder" / "good.de").read_bytes() == GOOD


def test_http_corrupt_download_is_a_checksum_error_and_leaves_nothing(server, tmp_path):
    base, folder = server
    (folder / "train.de.gz").write_bytes(BAD)
    root = tmp_path / "data"
    with pytest.raises(DataError) as err:
        fetch_corpus(tiny_corpus("train.de.gz"), root, url_base=base, log=lambda m: None)
    msg = str(err.value)
    assert "checksum" in msg and "train.de.gz" in msg
    assert sha(GOOD) in msg and sha(BAD) in msg and "\n" not in msg
    assert files_under(root) == []


def test_http_missing_file_is_an_error_naming_the_url(server, tmp_path):
    base, _ = server
    root = tmp_path / "data"
    with pytest.raises(DataError, match=r"HTTP 404.*NMT_DATA_MIRROR") as err:
        fetch_corpus(tiny_corpus("absent.de"), root, url_base=base, log=lambda m: None)
    assert f"{base}/tiny_folder/absent.de" in str(err.value)
    assert files_under(root) == []


def test_unreachable_host_is_an_error_naming_the_url(tmp_path):
    corpus = tiny_corpus("x.de", base_url="http://127.0.0.1:9/none")  # port 9: refused
    with pytest.raises(DataError, match=r"cannot download http://127\.0\.0\.1:9/none/x\.de"):
        fetch_corpus(corpus, tmp_path / "data", log=lambda m: None)
    assert files_under(tmp_path / "data") == []


def test_mirror_copy_and_flipped_byte(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "tiny_folder").mkdir(parents=True)
    (mirror / "tiny_folder" / "a.de").write_bytes(GOOD)
    (mirror / "tiny_folder" / "b.en").write_bytes(BAD)
    root = tmp_path / "data"
    with pytest.raises(DataError) as err:
        fetch_corpus(tiny_corpus("a.de", "b.en"), root, mirror, log=lambda m: None)
    assert "checksum" in str(err.value) and "b.en" in str(err.value)
    assert [p.name for p in files_under(root)] == ["a.de"]  # the good one stays, verified


def test_file_missing_from_mirror_names_the_path(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    with pytest.raises(DataError, match=r"missing from the mirror.*unset NMT_DATA_MIRROR") as err:
        fetch_corpus(tiny_corpus("a.de"), tmp_path / "data", mirror, log=lambda m: None)
    assert str(mirror / "tiny_folder" / "a.de") in str(err.value)


def test_env_mirror_is_used_when_none_is_given(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    (mirror / "tiny_folder").mkdir(parents=True)
    (mirror / "tiny_folder" / "a.de").write_bytes(GOOD)
    monkeypatch.setenv("NMT_DATA_MIRROR", str(mirror))
    out = fetch_corpus(tiny_corpus("a.de"), tmp_path / "data", log=lambda m: None)
    assert (out / "a.de").read_bytes() == GOOD


def test_corrupt_file_in_data_dir_is_replaced_never_used(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "tiny_folder").mkdir(parents=True)
    (mirror / "tiny_folder" / "a.de").write_bytes(GOOD)
    local = tmp_path / "data" / "tiny_folder"
    local.mkdir(parents=True)
    (local / "a.de").write_bytes(BAD)
    messages: list[str] = []
    fetch_corpus(tiny_corpus("a.de"), tmp_path / "data", mirror, log=messages.append)
    assert (local / "a.de").read_bytes() == GOOD
    assert any("checksum" in m for m in messages)


def test_verified_file_in_data_dir_needs_no_source(tmp_path):
    local = tmp_path / "data" / "tiny_folder"
    local.mkdir(parents=True)
    (local / "a.de").write_bytes(GOOD)
    fetch_corpus(tiny_corpus("a.de"), tmp_path / "data", tmp_path / "no-mirror", log=print)


def test_catalogue_checksums_match_the_mirror(corpora_mirror):
    for corpus in CATALOGUE.values():
        if not any(f.sha256 for f in corpus.files):
            continue  # nothing pinned (wmt14, iwslt14): the lock file pins it on first fetch
        sums = {}
        for line in (corpora_mirror / corpus.folder / "SHA256SUMS").read_text().splitlines():
            digest, name = line.split()
            sums[name] = digest
        for f in corpus.files:
            assert sums[f.name] == f.sha256, f.name
