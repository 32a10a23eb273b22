"""What a catalogued corpus is: its published files, its splits and how each is read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from nmt.errors import DataError


@dataclass(frozen=True)
class RemoteFile:
    """One published file: ``url`` is ``base_url/name``.

    ``sha256`` None: the publisher gives no checksum; the first fetch records one in the
    corpus folder's lock file (``SHA256.lock``) and every later use is checked against it.
    ``members``: the file is a tar archive (.tgz, .tar.gz, .tar) and these are the member
    paths to extract into the corpus folder (where the splits name them); no others are.
    """

    name: str
    sha256: str | None
    base_url: str
    members: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"{self.base_url.rstrip('/')}/{self.name}"


#: How a split's files are read (nmt/data/formats.py): ``plain`` one segment per line;
#: ``sgm`` WMT's SGML, the ``<seg>`` lines as sacreBLEU reads them; ``iwslt_xml`` IWSLT's
#: XML test sets, the ``<seg id`` lines; ``iwslt_tags`` IWSLT's ``train.tags`` files, the
#: talk metadata lines dropped as fairseq's prepare-iwslt14.sh does.
FORMATS = ("plain", "sgm", "iwslt_xml", "iwslt_tags")
KEEP = ("all", "held", "rest")


@dataclass(frozen=True)
class SplitSpec:
    """A split: per language, the files concatenated in order.

    ``extra_refs`` gives, per target language, further reference files (one
    stream each) for multi-reference test sets. ``format`` says how the files are read
    (:data:`FORMATS`). ``every`` with ``keep``: of the pairs read, keep only every
    ``every``-th (pairs ``every``, ``2 * every``, ... counted from 1: ``held``) or all the
    others (``rest``): one file giving a training and a held-out split.
    ``directions`` replaces ``files`` for one direction ``"<src>-<tgt>"`` where the
    published set has direction-specific files (WMT's ``src``/``ref`` SGM files).
    """

    files: Mapping[str, tuple[str, ...]]
    extra_refs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    format: str = "plain"
    every: int = 0
    keep: str = "all"
    directions: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"SplitSpec.format {self.format!r}: not one of {FORMATS}")
        if self.keep not in KEEP or self.every < 0 or (self.keep == "all") != (self.every == 0):
            raise ValueError(f"SplitSpec: every={self.every}, keep={self.keep!r} do not agree")

    def files_for_pair(self, src: str, tgt: str) -> Mapping[str, tuple[str, ...]]:
        """Per language, the files read for the direction ``src`` -> ``tgt``."""
        return self.directions.get(f"{src}-{tgt}", self.files)

    def names(self, lang: str) -> set[str]:
        """Every file of ``lang`` this split may read (any direction, references too)."""
        found = set(self.files.get(lang, ())) | set(self.extra_refs.get(lang, ()))
        for files in self.directions.values():
            found.update(files.get(lang, ()))
        return found


@dataclass(frozen=True)
class Corpus:
    """A catalogued corpus; ``reader`` names the code that turns files into splits."""

    name: str
    folder: str
    description: str
    languages: tuple[str, ...]
    default_pair: tuple[str, str]
    default_splits: tuple[str, str, str]  # train, valid, test
    default_extra_tests: tuple[str, ...]
    files: tuple[RemoteFile, ...]
    splits: Mapping[str, SplitSpec]
    reader: str = "parallel"  # parallel | tatoeba
    default_max_len: int = 100  # subword tokens per side (nmt/configs/data/<name>.yaml agrees)

    def file(self, name: str) -> RemoteFile:
        for f in self.files:
            if f.name == name:
                return f
        raise DataError(f"corpus {self.name!r} has no file {name!r}")

    def split_languages(self, split: str) -> tuple[str, ...]:
        return tuple(lang for lang in self.languages if lang in self.splits[split].files)

    def files_for(self, langs: tuple[str, ...] | None = None) -> tuple[RemoteFile, ...]:
        """The files needed for ``langs`` (all files when None), in catalogue order: those
        a split names, and the archives holding a member a split names."""
        if langs is None:
            return self.files
        needed: set[str] = set()
        for spec in self.splits.values():
            for lang in langs:
                needed.update(spec.names(lang))
        return tuple(f for f in self.files if f.name in needed or needed & set(f.members))
