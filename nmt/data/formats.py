"""Readers of the published file formats a catalogue split may name (``SplitSpec.format``).

- ``plain``: one segment per line.
- ``sgm``: WMT's SGML test sets (newstest2014's ``*.sgm``), read exactly as sacreBLEU
  reads them (``sacrebleu.dataset.fake_sgml.FakeSGMLDataset._convert_format``): every line
  that starts with ``<seg ``, the text between the tags, stripped, whitespace runs made one
  space. No entity is decoded: sacreBLEU keeps the text verbatim, and so do we, so the
  references are sacreBLEU's ``wmt14/full`` ones byte for byte.
- ``iwslt_xml``: IWSLT's XML test sets, the lines holding ``<seg id`` (as fairseq's
  prepare-iwslt14.sh selects them), the text between the tags cleaned as above and its
  XML character references decoded (``&amp;`` -> ``&``, as an XML parser reads the file;
  the training text is plain text, not XML).
- ``iwslt_tags``: IWSLT's ``train.tags.*`` files with fairseq's rule: lines holding
  ``<url>``, ``<talkid>`` or ``<keywords>`` dropped, the ``<title>``/``<description>`` tags
  (not their text) removed; nothing else changed (fairseq then Moses-tokenizes and
  lowercases: we do not).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from nmt.data.validate import read_lines
from nmt.errors import DataError

_SEG = re.compile(r"<seg.*?>(.*)</seg>.*?")  # sacreBLEU's, verbatim
_XML_REF = re.compile(r"&(amp|lt|gt|quot|apos|#[0-9]+|#[xX][0-9a-fA-F]+);")
_XML_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
IWSLT_DROP = ("<url>", "<talkid>", "<keywords>")  # fairseq: grep -v
IWSLT_STRIP = ("<title>", "</title>", "<description>", "</description>")  # fairseq: sed


def clean(text: str) -> str:
    """sacreBLEU's ``Dataset._clean``: strip, and make each whitespace run one space."""
    return re.sub(r"\s+", " ", text.strip())


def sgm_segments(lines: Iterable[str]) -> list[str]:
    """The segments of a WMT ``.sgm`` file, as sacreBLEU extracts them."""
    return [clean(_SEG.sub(r"\1", line)) for line in lines if line.startswith("<seg ")]


def _xml_char(match: re.Match[str]) -> str:
    ref = match.group(1)
    if ref in _XML_NAMED:
        return _XML_NAMED[ref]
    code = int(ref[2:], 16) if ref[1] in "xX" else int(ref[1:])
    try:
        return chr(code)
    except (ValueError, OverflowError):
        return match.group(0)


def xml_unescape(text: str) -> str:
    """Decode XML's five named entities and numeric character references (nothing else)."""
    return _XML_REF.sub(_xml_char, text)


def iwslt_xml_segments(lines: Iterable[str]) -> list[str]:
    """The segments of an IWSLT ``.xml`` test file (see the module's docstring)."""
    return [
        clean(xml_unescape(_SEG.sub(r"\1", line).strip())) for line in lines if "<seg id" in line
    ]


def iwslt_tags_lines(lines: Iterable[str]) -> list[str]:
    """The text lines of an IWSLT ``train.tags.*`` file (fairseq's rule, see above)."""
    out = []
    for line in lines:
        if any(tag in line for tag in IWSLT_DROP):
            continue
        for tag in IWSLT_STRIP:
            line = line.replace(tag, "")
        out.append(line)
    return out


_READERS = {"sgm": sgm_segments, "iwslt_xml": iwslt_xml_segments, "iwslt_tags": iwslt_tags_lines}


def read_format(path: Path, fmt: str) -> list[str]:
    """The segments of one file of a split, read as ``fmt`` (``SplitSpec.format``)."""
    lines = read_lines(path)
    if fmt == "plain":
        return lines
    if fmt not in _READERS:
        raise DataError(f"{path}: unknown file format {fmt!r}; known: plain, {', '.join(_READERS)}")
    return _READERS[fmt](lines)


def every_nth(n: int, every: int, keep: str) -> list[int]:
    """Indices (0-based) of ``n`` pairs to keep: ``held`` = pairs ``every``, ``2 * every``,
    ... counted from 1 (awk's ``NR % every == 0``), ``rest`` = the others, ``all`` = all."""
    if keep == "all" or every <= 0:
        return list(range(n))
    held = keep == "held"
    return [i for i in range(n) if ((i + 1) % every == 0) == held]


def select(lines: Sequence[str], indices: Sequence[int]) -> list[str]:
    return [lines[i] for i in indices]
