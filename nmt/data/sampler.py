"""A token-budget batch sampler over lengths held as arrays: sharded, seeded, resumable.

Its batches are those of the list-based sampler it replaces, pair for pair (a test holds
the two side by side), in memory that does not grow with Python objects per pair: the
lengths are one (N, 2) integer array, an epoch's order one index array, and each batch a
view into it. A corpus of millions of pairs costs tens of bytes a pair, not hundreds.
"""

from __future__ import annotations

import array
import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from torch.utils.data import Sampler

from nmt.errors import DataError


def python_shuffle(rng: random.Random, n: int) -> np.ndarray:
    """``list(range(n))`` shuffled exactly as ``rng.shuffle`` shuffles it (the same
    Fisher-Yates draws, CPython's algorithm), as an int32 array, without a Python object
    per element (an ``array.array`` of machine integers is shuffled in place)."""
    x = array.array("i", range(n))  # 4 bytes an element (int32: n < 2**31), no other copy
    randbelow = rng._randbelow  # what random.shuffle draws from
    for i in range(n - 1, 0, -1):
        j = randbelow(i + 1)
        x[i], x[j] = x[j], x[i]
    return np.frombuffer(x, dtype=np.int32) if n else np.zeros(0, dtype=np.int32)


class TokenBatchSampler(Sampler[list[int]]):
    """Length-bucketed batches within a token budget, sharded, seeded and resumable.

    Pairs are sorted by padded length (random tie-break per epoch when shuffling) and cut
    so that ``batch size x max(src, tgt) length <= max_tokens``. The batch count is made a
    multiple of ``num_shards`` by splitting the largest batches, so every rank gets the
    same number; each group of ``num_shards`` neighbouring batches (similar lengths) is
    dealt one per rank and the groups' order is shuffled per ``(seed, epoch)``.

    ``lengths``: per pair (source length, target length) as a sequence of pairs or an
    (N, 2) integer array. ``state_dict()`` counts the batches this sampler has yielded in
    the epoch; with DataLoader workers prefetching, save the count of batches trained on.
    """

    def __init__(
        self,
        lengths: Sequence[tuple[int, int]] | np.ndarray,
        max_tokens: int,
        shuffle: bool = True,
        seed: int = 0,
        num_shards: int = 1,
        shard_id: int = 0,
        log: Callable[[str], None] = print,
    ) -> None:
        if not 0 <= shard_id < num_shards:
            raise DataError(f"shard_id {shard_id} is not in [0, {num_shards})")
        if max_tokens < 1:
            raise DataError(f"max_tokens must be positive, got {max_tokens}")
        pairs = np.asarray(lengths).reshape(-1, 2)
        if pairs.dtype.kind not in "iu":
            pairs = pairs.astype(np.int64)
        self.src, self.tgt = pairs[:, 0], pairs[:, 1]  # (N,) views, in the given dtype
        self.lengths = np.maximum(self.src, self.tgt)  # (N,) padded length of each pair
        self.max_tokens = max_tokens
        self.shuffle = shuffle
        self.seed = seed
        self.num_shards = num_shards
        self.shard_id = shard_id
        self.epoch = 0
        self.position = 0
        self._cache: tuple[int, list[np.ndarray]] | None = None
        over = int((self.lengths > max_tokens).sum())
        if over:
            log(
                f"warning: {over} pairs are longer than max_tokens={max_tokens}; "
                "each gets a batch of its own"
            )
        self._len = len(self._shard(0))

    def __len__(self) -> int:
        return self._len

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch's order; a new epoch starts at position 0."""
        if epoch != self.epoch:
            self.epoch, self.position = epoch, 0

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        if not 0 <= self.position <= len(self):
            raise DataError(f"sampler position {self.position} is outside [0, {len(self)}]")

    def __iter__(self) -> Iterator[list[int]]:
        batches = self._shard(self.epoch)
        while self.position < len(batches):
            self.position += 1
            yield batches[self.position - 1].tolist()
        self.epoch, self.position = self.epoch + 1, 0

    def _shard(self, epoch: int) -> list[np.ndarray]:
        if self._cache is None or self._cache[0] != epoch:
            groups = self._groups(epoch)
            self._cache = (epoch, [group[self.shard_id] for group in groups])
        return self._cache[1]

    def _groups(self, epoch: int) -> list[list[np.ndarray]]:
        rng = random.Random(f"{self.seed}:{epoch}")
        n = len(self.lengths)
        tie = python_shuffle(rng, n) if self.shuffle else np.arange(n, dtype=np.int32)
        order = np.lexsort((tie, self.tgt, self.src, self.lengths))  # last key sorts first
        del tie
        order = order.astype(np.int32) if n < 1 << 31 else order  # each batch views it
        batches = self._equalize(self._cut(order))
        k = self.num_shards
        groups = [batches[j : j + k] for j in range(0, len(batches), k)]
        if self.shuffle:
            rng.shuffle(groups)
            for group in groups:
                rng.shuffle(group)
        return groups

    def _cut(self, order: np.ndarray) -> list[np.ndarray]:
        """Consecutive runs of ``order`` (sorted by length, so a batch's longest pair is
        its last) as long as ``count x length of the last <= max_tokens``; a pair is never
        left without a batch. Each run is found by binary search: (count x its last
        length) only grows along a run."""
        sorted_len = self.lengths[order]
        n, budget = len(order), self.max_tokens
        batches: list[np.ndarray] = []
        start = 0
        while start < n:
            lo, hi = start, min(n - 1, start + budget - 1)
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if (mid - start + 1) * int(sorted_len[mid]) <= budget:
                    lo = mid
                else:
                    hi = mid - 1
            batches.append(order[start : lo + 1])
            start = lo + 1
        return batches

    def _cost(self, batch: np.ndarray) -> int:
        return len(batch) * int(self.lengths[batch].max())

    def _equalize(self, batches: list[np.ndarray]) -> list[np.ndarray]:
        """Split the costliest batches (or, too few pairs, merge the shortest) until
        the count is a multiple of ``num_shards``."""
        k, n = self.num_shards, len(self.lengths)
        if n == 0:
            return []
        if n < k:
            raise DataError(f"{n} pairs cannot be shared among {k} ranks; use fewer ranks")
        if n >= -(-len(batches) // k) * k:
            while len(batches) % k:
                j = max(
                    (j for j, b in enumerate(batches) if len(b) > 1),
                    key=lambda j: (self._cost(batches[j]), -j),
                )
                half = len(batches[j]) // 2
                batches[j : j + 1] = [batches[j][:half], batches[j][half:]]
        while len(batches) % k:
            batches[0:2] = [np.concatenate([batches[0], batches[1]])]
        return batches
