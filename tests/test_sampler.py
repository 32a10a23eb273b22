"""The array-based TokenBatchSampler gives the batches of the list-based one it replaced
(kept here, verbatim, as the reference), pair for pair: resumed runs and every result made
with the old one stay reproducible."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pytest
from torch.utils.data import Sampler

from nmt.data.sampler import TokenBatchSampler, python_shuffle
from nmt.errors import DataError


class ListSampler(Sampler[list[int]]):
    """Length-bucketed batches within a token budget, sharded, seeded and resumable.

    Pairs are sorted by padded length (random tie-break per epoch when
    shuffling) and cut so that ``batch size x max(src, tgt) length <=
    max_tokens``. The batch count is made a multiple of ``num_shards`` by
    splitting the largest batches, so every rank gets the same number; each
    group of ``num_shards`` neighbouring batches (similar lengths) is dealt one
    per rank and the groups' order is shuffled per ``(seed, epoch)``.

    ``state_dict()`` counts the batches this sampler has yielded in the epoch;
    with DataLoader workers prefetching, save the count of batches trained on.
    """

    def __init__(
        self,
        lengths: Sequence[tuple[int, int]],
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
        self.lengths = [max(s, t) for s, t in lengths]
        self.src_tgt = list(lengths)
        self.max_tokens = max_tokens
        self.shuffle = shuffle
        self.seed = seed
        self.num_shards = num_shards
        self.shard_id = shard_id
        self.epoch = 0
        self.position = 0
        self._cache: tuple[int, list[list[int]]] | None = None
        over = sum(n > max_tokens for n in self.lengths)
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
            yield list(batches[self.position - 1])
        self.epoch, self.position = self.epoch + 1, 0

    def _shard(self, epoch: int) -> list[list[int]]:
        if self._cache is None or self._cache[0] != epoch:
            groups = self._groups(epoch)
            self._cache = (epoch, [group[self.shard_id] for group in groups])
        return self._cache[1]

    def _groups(self, epoch: int) -> list[list[list[int]]]:
        rng = random.Random(f"{self.seed}:{epoch}")
        n = len(self.lengths)
        tie = list(range(n))
        if self.shuffle:
            rng.shuffle(tie)
        order = sorted(range(n), key=lambda i: (self.lengths[i], *self.src_tgt[i], tie[i]))
        batches = self._equalize(self._cut(order))
        k = self.num_shards
        groups = [batches[j : j + k] for j in range(0, len(batches), k)]
        if self.shuffle:
            rng.shuffle(groups)
            for group in groups:
                rng.shuffle(group)
        return groups

    def _cut(self, order: list[int]) -> list[list[int]]:
        batches: list[list[int]] = []
        current: list[int] = []
        longest = 0
        for i in order:
            longest_with = max(longest, self.lengths[i])
            if current and longest_with * (len(current) + 1) > self.max_tokens:
                batches.append(current)
                current, longest_with = [], self.lengths[i]
            current.append(i)
            longest = longest_with
        if current:
            batches.append(current)
        return batches

    def _cost(self, batch: list[int]) -> int:
        return len(batch) * max(self.lengths[i] for i in batch)

    def _equalize(self, batches: list[list[int]]) -> list[list[int]]:
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
            batches[0:2] = [batches[0] + batches[1]]
        return batches


def random_lengths(n: int, seed: int, hi: int = 60) -> list[tuple[int, int]]:
    rng = random.Random(seed)
    return [(rng.randint(1, hi), rng.randint(1, hi)) for _ in range(n)]


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize(("n", "max_tokens", "shards"), [
    (2000, 600, 1), (2000, 600, 3), (1500, 50, 2), (37, 4096, 4), (5, 40, 2), (300, 61, 1),
])  # fmt: skip
def test_the_array_sampler_gives_the_list_samplers_batches(n, max_tokens, shards, shuffle):
    lengths = random_lengths(n, n + max_tokens)
    for shard in range(shards):
        for seed in (1, 7):
            old = ListSampler(lengths, max_tokens, shuffle, seed, shards, shard, log=str)
            new = TokenBatchSampler(np.array(lengths), max_tokens, shuffle, seed, shards, shard,
                                    log=str)  # fmt: skip
            assert len(new) == len(old)
            for epoch in (0, 1, 5):
                old.load_state_dict({"epoch": epoch, "position": 0})
                new.load_state_dict({"epoch": epoch, "position": 0})
                assert list(new) == list(old), (shard, seed, epoch)
            # mid-epoch resume: the same rest of the epoch
            position = min(2, len(old))
            old.load_state_dict({"epoch": 3, "position": position})
            new.load_state_dict({"epoch": 3, "position": position})
            assert list(new) == list(old)


def test_python_shuffle_draws_what_random_shuffle_draws():
    for n in (0, 1, 2, 10, 1000):
        expected = list(range(n))
        random.Random("3:4").shuffle(expected)
        assert python_shuffle(random.Random("3:4"), n).tolist() == expected


def test_too_few_pairs_for_the_ranks_and_bad_arguments_are_refused():
    with pytest.raises(DataError, match="2 pairs cannot be shared among 3 ranks"):
        TokenBatchSampler([(3, 3), (4, 4)], 100, num_shards=3, shard_id=0)
    with pytest.raises(DataError, match="shard_id 3 is not in"):
        TokenBatchSampler([(3, 3)], 100, num_shards=3, shard_id=3)
    with pytest.raises(DataError, match="max_tokens must be positive"):
        TokenBatchSampler([(3, 3)], 0)
    assert len(TokenBatchSampler(np.zeros((0, 2), dtype=np.int64), 10)) == 0
