"""The nmt-data command: list, fetch (one-line errors, no traceback), stats."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest

from nmt.data.cli import main

BIN = Path(sys.executable).parent


@pytest.fixture
def corrupt_mirror(corpora_mirror, tmp_path) -> Path:
    """A mirror whose multi30k/train.de.gz (the first file fetched) has one flipped byte."""
    mirror = tmp_path / "mirror"
    (mirror / "multi30k").mkdir(parents=True)
    data = bytearray((corpora_mirror / "multi30k" / "train.de.gz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (mirror / "multi30k" / "train.de.gz").write_bytes(bytes(data))
    return mirror


def test_list_shows_every_corpus(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("multi30k", "wmt_news", "tatoeba", "files", "synthetic"):
        assert name in out


def test_fetch_with_corrupt_mirror_fails_in_one_line(corrupt_mirror, tmp_path, capsys):
    root = tmp_path / "data"
    assert main(["fetch", "multi30k", "--mirror", str(corrupt_mirror), "--root", str(root)]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("nmt-data: error:") and "checksum" in err and "train.de.gz" in err
    assert not [p for p in root.rglob("*") if p.is_file()]


def test_console_script_prints_no_traceback(corrupt_mirror, tmp_path):
    proc = subprocess.run(
        [str(BIN / "nmt-data"), "fetch", "multi30k", "--root", str(tmp_path / "data")],
        env={"NMT_DATA_MIRROR": str(corrupt_mirror), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "checksum" in proc.stderr and "train.de.gz" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_fetch_from_the_real_mirror(corpora_mirror, tmp_path, capsys):
    assert (
        main(["fetch", "multi30k", "--mirror", str(corpora_mirror), "--root", str(tmp_path)]) == 0
    )
    assert len(list((tmp_path / "multi30k").iterdir())) == 15
    assert "verified" in capsys.readouterr().out


def test_stats_prints_a_table(tmp_path, capsys):
    lines = [f"w{i % 7} w{i % 5}\tv{i % 3} v{i % 4}" for i in range(200)]
    for split in ("train", "dev"):
        (tmp_path / f"{split}.tsv").write_text("\n".join(lines) + "\n")
    args = [
        "stats",
        "files",
        "--src",
        "xx",
        "--tgt",
        "yy",
        "--vocab-size",
        "30",
        "--train",
        str(tmp_path / "train"),
        "--valid",
        str(tmp_path / "dev"),
        "--test",
        str(tmp_path / "dev"),
        "--root",
        str(tmp_path / "data"),
    ]
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split()[:4] == ["split", "pairs", "src", "mean"]
    rows = {line.split()[0]: line.split() for line in out[3:]}
    assert set(rows) == {"train", "valid", "test"} and rows["train"][1] == "200"


def test_export_writes_a_split_as_training_and_testing_read_it(corpora_mirror, tmp_path, capsys):
    """Plain files of a catalogued split: every reference of a multi-reference test set, a
    joined stress split, and a one-line error for a split the corpus does not have."""
    root, where = tmp_path / "data", ["--mirror", str(corpora_mirror), "--root", str(tmp_path)]
    wmt = corpora_mirror / "wmt_news_de-en"
    assert main(["export", "wmt_news", "newstest2020", str(root / "nt20"), *where]) == 0
    for name, official in (("nt20.de", "newstest2020.de"), ("nt20.en", "newstest2020.en"),
                           ("nt20.ref2.en", "newstestB2020.en")):  # fmt: skip
        assert (root / name).read_bytes() == (wmt / official).read_bytes(), name
    assert main(["export", "multi30k", "test_2016_flickr.join2", str(root / "j2"), *where]) == 0
    with gzip.open(corpora_mirror / "multi30k" / "test_2016_flickr.en.gz", "rt") as f:
        first = [next(f).strip() for _ in range(2)]
    joined = (root / "j2.en").read_text(encoding="utf-8").splitlines()
    assert len(joined) == 500 and joined[0] == " ".join(first)
    assert "500 pairs" in capsys.readouterr().out
    assert main(["export", "wmt_news", "newstest2099", str(root / "x"), *where]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("nmt-data: error:")
    assert "no split 'newstest2099'" in err[-1] and "newstest2014" in err[-1]
    assert not list(root.glob("x.*"))
