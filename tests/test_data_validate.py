"""Reading parallel text: alignment, encoding errors, filtered pairs, the user's files."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from nmt.data.corpora import read_files_split
from nmt.data.validate import FilterReport, filter_pairs, read_lines, read_parallel
from nmt.errors import DataError


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_differing_line_counts_name_both_files_and_counts(tmp_path):
    src = write(tmp_path / "train.de", "a\nb\nc\n")
    tgt = write(tmp_path / "train.en", "a\nb\n")
    with pytest.raises(DataError) as err:
        read_parallel(src, tgt)
    msg = str(err.value)
    assert str(src) in msg and str(tgt) in msg and " 3 " in msg and " 2;" in msg


def test_invalid_utf8_names_file_and_line(tmp_path):
    path = write(tmp_path / "bad.en", b"fine\nalso fine\nbroken \xff here\n")
    with pytest.raises(DataError, match=r"bad\.en: line 3 is not valid UTF-8"):
        read_lines(path)


def test_invalid_utf8_inside_gzip_names_line(tmp_path):
    path = write(tmp_path / "bad.de.gz", gzip.compress(b"\xc3\n"))
    with pytest.raises(DataError, match="line 1 is not valid UTF-8"):
        read_lines(path)


def test_lines_split_only_on_newline(tmp_path):
    path = write(tmp_path / "x.en", "a\u2028b\r\nc\x85d\n\n")
    assert read_lines(path) == ["a\u2028b", "c\x85d", ""]


def test_empty_and_overlong_pairs_are_filtered_and_counted():
    src = ["ok", "  ", "fine", "x" * 11, "good", "y"]
    tgt = ["ok", "leer", "", "long", "z" * 11, "y"]
    report = FilterReport("train")
    s, t = filter_pairs(src, tgt, max_chars=10, report=report)
    assert (s, t) == (["ok", "y"], ["ok", "y"])
    assert (report.total, report.empty, report.too_long_chars, report.kept) == (6, 2, 2, 2)
    assert "2/6 pairs kept" in str(report) and "2 empty" in str(report)


def test_files_split_from_plain_and_gz(tmp_path):
    write(tmp_path / "train.de", "eins\nzwei\n")
    write(tmp_path / "train.en.gz", gzip.compress(b"one\ntwo\n"))
    split = read_files_split(str(tmp_path / "train"), "de", "en")
    assert (split.name, split.src, split.tgt, split.refs) == (
        "train",
        ["eins", "zwei"],
        ["one", "two"],
        [["one", "two"]],
    )


def test_files_split_prefers_tsv(tmp_path):
    write(tmp_path / "dev.tsv", "eins\tone\tattribution\nzwei\ttwo\n")
    split = read_files_split(str(tmp_path / "dev"), "de", "en")
    assert (split.src, split.tgt) == (["eins", "zwei"], ["one", "two"])


def test_files_split_errors(tmp_path):
    write(tmp_path / "dev.tsv", "eins\tone\nno tab\n")
    with pytest.raises(DataError, match=r"dev\.tsv: line 2 has no TAB"):
        read_files_split(str(tmp_path / "dev"), "de", "en")
    with pytest.raises(DataError, match=r"no .*test\.de.*test\.tsv"):
        read_files_split(str(tmp_path / "test"), "de", "en")
