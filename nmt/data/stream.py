"""The training split as a stream of pairs, with a digest of what it is read from.

A corpus of millions of pairs is never held as Python lists: its lines are read file by
file, as they are needed, each time the stream is opened. Small training splits that
are made rather than read (a joined, Tatoeba or synthetic split) are built in memory as
before and streamed from there.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from nmt.data.catalogue import check_pair, get_corpus
from nmt.data.config import DataConfig, data_root
from nmt.data.corpora import joined_split
from nmt.data.fetch import fetch_corpus, sha256_file
from nmt.data.text import read_text
from nmt.errors import DataError

Log = Callable[[str], None]
Pairs = Iterator[tuple[str, str]]


@dataclass(frozen=True)
class TrainSource:
    """Where the training pairs come from: ``open()`` starts a fresh stream of (source,
    target) pairs; ``digest`` changes exactly when the text it streams may have."""

    description: str
    digest: str
    open: Callable[[], Pairs]


def iter_lines(path: Path) -> Iterator[str]:
    """The lines of a text file (gzip when its name ends in ``.gz``), one at a time, as
    :func:`nmt.data.validate.read_lines` gives them: a leading BOM and a trailing ``\\r``
    dropped, invalid UTF-8 a one-line DataError naming the file and line."""
    if not path.is_file():
        raise DataError(f"{path}: file not found; check the path in the data config")
    with gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb") as f:
        for number, raw in enumerate(f, 1):
            line = raw[:-1] if raw.endswith(b"\n") else raw
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataError(
                    f"{path}: line {number} is not valid UTF-8 (byte 0x{line[e.start]:02x}); "
                    "re-encode the file as UTF-8"
                ) from None
            if number == 1 and text.startswith("\ufeff"):
                text = text[1:]
            yield text[:-1] if text.endswith("\r") else text


def iter_parallel(pairs: list[tuple[Path, Path]]) -> Pairs:
    """Line-aligned file pairs one after the other; a count mismatch is a DataError."""
    end = object()
    for src_path, tgt_path in pairs:
        counts = [0, 0]
        lines = itertools.zip_longest(iter_lines(src_path), iter_lines(tgt_path), fillvalue=end)
        for s, t in lines:
            counts[0] += s is not end
            counts[1] += t is not end
            if s is not end and t is not end:
                yield s, t
        if counts[0] != counts[1]:
            raise DataError(
                f"line counts differ: {src_path} has {counts[0]} lines, {tgt_path} has "
                f"{counts[1]}; parallel files must have one sentence per line, line-aligned"
            )


def iter_tsv(path: Path) -> Pairs:
    for number, line in enumerate(iter_lines(path), 1):
        cols = line.split("\t")
        if len(cols) < 2:
            raise DataError(
                f"{path}: line {number} has no TAB; each line must be source<TAB>target"
            )
        yield cols[0], cols[1]


def file_digests(paths: list[Path], root: Path) -> list[str]:
    """sha256 of each file, remembered in ``<root>/prepared/digests.json`` by path, size
    and modification time, so a large corpus is hashed once, not at every start."""
    cache_path = root / "prepared" / "digests.json"
    try:
        cache = json.loads(cache_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = {}
    out, changed = [], False
    for path in paths:
        st = path.stat()
        key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
        if key not in cache:
            cache[key], changed = sha256_file(path), True
        out.append(cache[key])
    if changed:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_path.with_name(f".{cache_path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(cache, indent=1), encoding="utf-8")
        os.replace(tmp, cache_path)
    return out


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _file_pairs(cfg: DataConfig, log: Log) -> tuple[str, list[tuple[Path, Path]] | Path] | None:
    """The files the train split reads, when it is read as it is stored (not made)."""
    if joined_split(cfg.train)[1] is not None:
        return None
    if cfg.name == "files":
        base = Path(cfg.train).expanduser()
        tsv = base if base.suffix == ".tsv" else Path(f"{base}.tsv")
        if tsv.is_file():
            return f"{tsv}", tsv
        found = []
        for lang in (cfg.src, cfg.tgt):
            options = [Path(f"{base}.{lang}"), Path(f"{base}.{lang}.gz")]
            path = next((p for p in options if p.is_file()), None)
            if path is None:
                return None  # the in-memory reader names what is missing
            found.append(path)
        return f"{found[0]} + {found[1]}", [(found[0], found[1])]
    if cfg.name == "synthetic":
        return None
    corpus = get_corpus(cfg.name)
    if corpus.reader != "parallel":
        return None  # a split made from the corpus (Tatoeba's held-out valid)
    check_pair(corpus, cfg.src, cfg.tgt, [cfg.train])
    spec = corpus.splits[cfg.train]
    if spec.format != "plain" or spec.every:
        return None  # read its own way (XML, SGM) or a held-out share of a file
    folder = fetch_corpus(corpus, cfg.root, cfg.mirror, langs=(cfg.src, cfg.tgt), log=log)
    files = spec.files_for_pair(cfg.src, cfg.tgt)
    pairs = [(folder / s, folder / t) for s, t in zip(files[cfg.src], files[cfg.tgt], strict=True)]
    return f"{cfg.name} {cfg.train} ({len(pairs)} file pair(s))", pairs


def train_source(cfg: DataConfig, log: Log = print) -> TrainSource:
    """The training split of ``cfg`` as a :class:`TrainSource`."""
    settings = (cfg.name, cfg.src, cfg.tgt, cfg.train)
    files = _file_pairs(cfg, log)
    if files is not None:
        description, where = files
        paths = [where] if isinstance(where, Path) else [p for pair in where for p in pair]
        digest = _digest(settings, file_digests(paths, data_root(cfg.root)))
        if isinstance(where, Path):
            return TrainSource(description, digest, lambda: iter_tsv(where))
        return TrainSource(description, digest, lambda: iter_parallel(where))
    text = read_text(cfg, log, roles=("train",))[0]["train"]
    digest = hashlib.sha256()
    for lines in (text.src, text.tgt):
        for line in lines:
            digest.update(line.encode("utf-8") + b"\n")
        digest.update(b"\0")
    return TrainSource(
        f"{cfg.name} {cfg.train} ({len(text)} pairs, made in memory)",
        _digest(settings, digest.hexdigest()),
        lambda: iter(zip(text.src, text.tgt, strict=True)),
    )
