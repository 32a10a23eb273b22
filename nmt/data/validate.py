"""Reading and checking parallel text: alignment, encoding, empty and over-long pairs."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from nmt.errors import DataError


def decode_lines(data: bytes, name: str) -> list[str]:
    """Split UTF-8 ``data`` into lines (on ``\\n`` only; a trailing ``\\r`` is dropped).

    Invalid UTF-8 raises DataError naming ``name`` and the 1-based line number.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise DataError(
            f"{name}: line {line} is not valid UTF-8 (byte 0x{data[e.start]:02x}); "
            "re-encode the file as UTF-8"
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def read_lines(path: Path) -> list[str]:
    """The lines of a text file, gzip-compressed when its name ends in ``.gz``."""
    try:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; check the path in the data config") from None
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: cannot read it ({e}); fetch or write it again") from None
    return decode_lines(data, str(path))


def check_aligned(src: list[str], tgt: list[str], src_name: str, tgt_name: str) -> None:
    """DataError naming both files and both line counts unless they agree."""
    if len(src) != len(tgt):
        raise DataError(
            f"line counts differ: {src_name} has {len(src)} lines, {tgt_name} has "
            f"{len(tgt)}; parallel files must have one sentence per line, line-aligned"
        )


def read_parallel(src_path: Path, tgt_path: Path) -> tuple[list[str], list[str]]:
    """Read two line-aligned files (DataError on differing counts or bad UTF-8)."""
    src, tgt = read_lines(src_path), read_lines(tgt_path)
    check_aligned(src, tgt, str(src_path), str(tgt_path))
    return src, tgt


@dataclass
class FilterReport:
    """What happened to a split's pairs on the way to the model."""

    split: str
    total: int = 0
    empty: int = 0  # either side blank
    too_long_chars: int = 0  # either side over max_chars characters
    too_long_tokens: int = 0  # either side over max_len subword tokens
    truncated: int = 0  # eval pairs cut to max_len tokens (their text stays whole)
    removed_overlap: int = 0  # test pairs dropped because they occur in training

    @property
    def kept(self) -> int:
        return self.total - self.empty - self.too_long_chars - self.too_long_tokens

    def __str__(self) -> str:
        parts = [f"{self.split}: {self.kept}/{self.total} pairs kept"]
        for label, n in (
            ("empty", self.empty),
            ("over max_chars", self.too_long_chars),
            ("over max_len tokens", self.too_long_tokens),
            ("truncated to max_len", self.truncated),
            ("removed as in training", self.removed_overlap),
        ):
            if n:
                parts.append(f"{n} {label}")
        return ", ".join(parts)


def kept_pairs(
    pairs: Iterable[tuple[str, str]], max_chars: int, report: FilterReport | None = None
) -> Iterator[tuple[str, str]]:
    """``pairs`` without a blank side or a side over ``max_chars`` characters, one at a
    time (a stream of any size); each is counted in ``report`` when given."""
    report = report if report is not None else FilterReport("")
    for s, t in pairs:
        report.total += 1
        if not s.strip() or not t.strip():
            report.empty += 1
        elif len(s) > max_chars or len(t) > max_chars:
            report.too_long_chars += 1
        else:
            yield s, t


def filter_pairs(
    src: list[str], tgt: list[str], max_chars: int, report: FilterReport
) -> tuple[list[str], list[str]]:
    """Drop pairs with a blank side or a side over ``max_chars``; count them in ``report``."""
    report.total = 0
    kept = list(kept_pairs(zip(src, tgt, strict=True), max_chars, report))
    return [s for s, _ in kept], [t for _, t in kept]
