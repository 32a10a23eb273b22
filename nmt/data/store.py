"""The prepared training split: token ids on disk, read pair by pair.

``nmt-data prepare`` (and training, on first use) streams the training pairs once,
filters them as training always has (a blank side, a side over ``data.max_chars``
characters, over ``data.max_len`` subword tokens), encodes them in chunks (SentencePiece
encodes a chunk on every core) and writes, into ``<data root>/prepared/<name>.<key>/``:

- ``src.bin``, ``tgt.bin``: every kept pair's ids, one after the other (uint16 when both
  vocabularies have at most 65,536 pieces, else uint32), without BOS or EOS;
- ``lengths.npy``: (N, 2) token counts (source, target) per pair, the index: offsets are
  their running sums, kept per block of 256 pairs when the store is opened;
- ``joint.model`` (or ``src.model`` + ``tgt.model``): the SentencePiece models;
- ``meta.json``: what it was made from and of, and how many pairs each filter dropped.

The folder's ``key`` digests the source (the files' sha256, or the made split's text),
the split and filter settings and the tokenizer (its settings, or a given model's
fingerprint), so a second run, or the next variant of a sweep, starts from the store
without reading the corpus again, and a change to any of them prepares a new one. A
store is written into a temporary folder and renamed into place when complete.

Reading pair ``i`` costs two ``pread`` calls: the ids are never mapped into the
process; in memory a pair costs its two lengths (4 bytes) and a share of a block offset,
and the batch sampler adds a few bytes more.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from nmt import EOS_ID, UNK_ID
from nmt.data.batching import Example
from nmt.data.stream import TrainSource
from nmt.data.tokenizer import Tokenizer
from nmt.data.validate import FilterReport, kept_pairs
from nmt.errors import DataError

FORMAT = 1
CHUNK = 20_000  # pairs encoded at a time
BLOCK = 256  # pairs per entry of the in-memory offsets index
Log = Callable[[str], None]


def store_key(source: TrainSource, settings: dict[str, Any], tokenizer: str) -> str:
    """The digest naming a store: source, split and filter settings, tokenizer."""
    blob = json.dumps([FORMAT, source.digest, settings, tokenizer], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _chunks(pairs: Iterable[tuple[str, str]], size: int) -> Iterator[list[tuple[str, str]]]:
    chunk: list[tuple[str, str]] = []
    for pair in pairs:
        chunk.append(pair)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _ids_dtype(tokenizer: Tokenizer) -> np.dtype:
    most = max(tokenizer.src_vocab_size, tokenizer.tgt_vocab_size)
    return np.dtype(np.uint16 if most <= 1 << 16 else np.uint32)


def build_store(
    folder: Path,
    source: TrainSource,
    tokenizer: Tokenizer,
    *,
    max_len: int,
    max_chars: int,
    meta: dict[str, Any],
    log: Log = print,
    total: int | None = None,
) -> FilterReport:
    """Write the store of ``source`` into ``folder`` (a temporary folder beside it first;
    if another process finished the same store meanwhile, its copy is kept). ``total``:
    the pairs the filters keep, when known (the progress bar's ETA)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    report = FilterReport("train")
    dtype = _ids_dtype(tokenizer)
    lengths: list[np.ndarray] = []
    words: Counter[int] = Counter()
    start = time.perf_counter()
    try:
        with (
            (tmp / "src.bin").open("wb") as fs,
            (tmp / "tgt.bin").open("wb") as ft,
            tqdm(desc=f"prepare {folder.name}", total=total, unit=" pairs", unit_scale=True) as bar,
        ):
            for chunk in _chunks(kept_pairs(source.open(), max_chars, report), CHUNK):
                src = tokenizer.encode_src_batch([s for s, _ in chunk])
                tgt = tokenizer.encode_tgt_batch([t for _, t in chunk])
                keep = [i for i, (s, t) in enumerate(zip(src, tgt, strict=True))
                        if len(s) <= max_len and len(t) <= max_len]  # fmt: skip
                report.too_long_tokens += len(chunk) - len(keep)
                if keep:
                    for f, ids in ((fs, src), (ft, tgt)):
                        flat = itertools.chain.from_iterable(ids[i] for i in keep)
                        f.write(np.fromiter(flat, dtype).tobytes())
                    lengths.append(np.array([(len(src[i]), len(tgt[i])) for i in keep]))
                    words.update(len(chunk[i][0].split()) for i in keep)
                bar.update(len(chunk))
        n_lengths = np.concatenate(lengths) if lengths else np.zeros((0, 2), dtype=np.int64)
        if len(n_lengths) == 0:
            raise DataError(
                f"the train split of {source.description} has no usable pairs ({report}); "
                "check that its files hold parallel text"
            )
        np.save(
            tmp / "lengths.npy", n_lengths.astype(np.uint16 if max_len < 1 << 16 else np.uint32)
        )
        for name, proto in tokenizer.model_files().items():
            (tmp / name).write_bytes(proto)
        seconds = time.perf_counter() - start
        record = {
            **meta,
            "format": FORMAT,
            "source": source.description,
            "pairs": len(n_lengths),
            "src_tokens": int(n_lengths[:, 0].sum()),
            "tgt_tokens": int(n_lengths[:, 1].sum()),
            "dtype": dtype.name,
            "report": {k: v for k, v in vars(report).items() if k != "split"},
            "src_words": {str(k): v for k, v in sorted(words.items())},
            "tokenizer_fingerprint": tokenizer.fingerprint,
            "seconds": round(seconds, 1),
        }
        (tmp / "meta.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        try:
            os.rename(tmp, folder)
        except OSError:
            if not (folder / "meta.json").is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process made it first
        log(f"data: prepared {record['pairs']:,} training pairs in {seconds:.0f} s "
            f"({record['pairs'] / max(seconds, 1e-9):,.0f} pairs/s) -> {folder}")  # fmt: skip
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report


class TokenStore:
    """A prepared split, opened: ``store[i]`` is pair ``i`` as an :class:`Example`;
    ``lengths()`` gives every pair's (source + EOS, target + 1) for the batch sampler."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        try:
            self.meta = json.loads((self.folder / "meta.json").read_text(encoding="utf-8"))
            counts = np.load(self.folder / "lengths.npy")
        except (OSError, ValueError) as e:
            raise DataError(
                f"{self.folder}: not a complete prepared split ({e}); delete the folder and "
                "prepare it again (nmt-data prepare, or just train)"
            ) from None
        if self.meta.get("format") != FORMAT:
            raise DataError(
                f"{self.folder}: prepared in format {self.meta.get('format')}, this nmt reads "
                f"{FORMAT}; delete the folder and prepare it again"
            )
        self.dtype = np.dtype(self.meta["dtype"])
        # (N, 2) padded lengths: source + EOS, target + 1 (BOS or EOS), what the batch
        # sampler reads; a pair's token counts are one less. The smallest dtype that holds
        # them (uint16 up to max_len 65,534): 4 bytes a pair
        wide = np.uint16 if int(counts.max(initial=0)) < (1 << 16) - 1 else np.uint32
        self.padded = counts.astype(wide)
        self.padded += 1
        del counts
        # where each block of BLOCK pairs starts in the token files (a pair's offset is its
        # block's plus the lengths before it in the block): ~0.1 byte a pair
        self.src_block, self.tgt_block = (self._block_starts(k) for k in (0, 1))
        self._files: tuple[int, int, int] | None = None  # (pid, src fd, tgt fd)

    def _block_starts(self, side: int) -> np.ndarray:
        counts = self.padded[:, side]
        n = len(counts)
        starts = np.arange(0, n, BLOCK)
        sums = np.add.reduceat(counts, starts, dtype=np.int64) if n else np.zeros(0, np.int64)
        sums -= np.diff(np.append(starts, n))  # padded lengths are counts + 1
        return np.concatenate([[0], np.cumsum(sums)]).astype(np.int64)

    def _offset(self, i: int, side: int, blocks: np.ndarray) -> tuple[int, int]:
        """(first id, count) of pair ``i`` on ``side`` (0 source, 1 target)."""
        b = i // BLOCK
        before = self.padded[b * BLOCK : i, side]
        start = int(blocks[b]) + int(before.sum(dtype=np.int64)) - len(before)
        return start, int(self.padded[i, side]) - 1

    def __len__(self) -> int:
        return len(self.padded)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_files": None}  # a worker process opens its own

    def _fds(self) -> tuple[int, int]:
        if self._files is None or self._files[0] != os.getpid():
            src = os.open(self.folder / "src.bin", os.O_RDONLY)
            tgt = os.open(self.folder / "tgt.bin", os.O_RDONLY)
            self._files = (os.getpid(), src, tgt)
        return self._files[1], self._files[2]

    def _read(self, fd: int, offset: int, n: int) -> list[int]:
        size = self.dtype.itemsize
        data = os.pread(fd, n * size, offset * size)
        if len(data) != n * size:
            raise DataError(f"{self.folder}: the token file is shorter than its index; "
                            "delete the folder and prepare it again")  # fmt: skip
        return np.frombuffer(data, dtype=self.dtype).tolist()

    def __getitem__(self, i: int) -> Example:
        fs, ft = self._fds()
        src = self._read(fs, *self._offset(i, 0, self.src_block))
        tgt = self._read(ft, *self._offset(i, 1, self.tgt_block))
        return Example([*src, EOS_ID], tgt, int(i))

    def __iter__(self) -> Iterator[Example]:
        return (self[i] for i in range(len(self)))

    def lengths(self) -> np.ndarray:
        """(N, 2): source length with EOS, target length + 1 (BOS or EOS); the store's own
        array, not a copy (read only)."""
        view = self.padded.view()
        view.flags.writeable = False
        return view

    def disk_bytes(self) -> int:
        """Bytes of the ids and the index on disk."""
        return sum((self.folder / n).stat().st_size for n in ("src.bin", "tgt.bin", "lengths.npy"))

    def tokenizer(self) -> Tokenizer:
        return Tokenizer.from_model_files(self.folder)

    def unknown_share(self) -> tuple[float, float]:
        """Shares of unknown pieces among the source and the target ids (read in chunks)."""
        out = []
        for name in ("src.bin", "tgt.bin"):
            ids = np.memmap(self.folder / name, dtype=self.dtype, mode="r")
            step = 1 << 24
            unknown = sum(
                int((ids[i : i + step] == UNK_ID).sum()) for i in range(0, len(ids), step)
            )
            out.append(unknown / max(1, len(ids)))
            del ids
        return out[0], out[1]

    def source_words(self) -> dict[int, int]:
        """Kept training pairs per source length in words (the comparison's bucket counts)."""
        return {int(k): int(v) for k, v in self.meta.get("src_words", {}).items()}
