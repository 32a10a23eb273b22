"""Encoded splits, padded batches and a token-budget batch sampler with exact resume."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import Sampler

from nmt import BOS_ID, EOS_ID, PAD_ID
from nmt.data.batch import Batch
from nmt.data.tokenizer import Tokenizer
from nmt.data.validate import FilterReport
from nmt.errors import DataError


class Example(tuple):
    """One encoded pair ``(src_ids + [EOS], tgt_ids)``; ``tgt_ids`` has neither BOS nor EOS
    (None when there is no target). A 2-tuple that also knows ``idx``, its index in its split.
    """

    idx: int

    def __new__(cls, src: list[int], tgt: list[int] | None, idx: int = 0) -> Example:
        self = super().__new__(cls, (src, tgt))
        self.idx = idx
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self[0], self[1], self.idx)


def encode_pairs(
    tokenizer: Tokenizer,
    src: list[str],
    tgt: list[str] | None,
    max_len: int,
    report: FilterReport,
    truncate: bool,
) -> tuple[list[Example], list[int]]:
    """Encode a split; returns the examples and the indices (in ``src``) of the pairs kept.

    Pairs with a side over ``max_len`` subword tokens are dropped (counted in
    ``report.too_long_tokens``) or, with ``truncate``, cut to ``max_len``
    (counted in ``report.truncated``). ``Example.idx`` numbers the kept pairs.
    """
    src_ids = tokenizer.encode_src_batch(src)
    tgt_ids: list[list[int] | None] = (
        tokenizer.encode_tgt_batch(tgt) if tgt is not None else [None] * len(src)
    )
    examples: list[Example] = []
    kept: list[int] = []
    for i, (s, t) in enumerate(zip(src_ids, tgt_ids, strict=True)):
        long = len(s) > max_len or (t is not None and len(t) > max_len)
        if long and not truncate:
            report.too_long_tokens += 1
            continue
        if long:
            report.truncated += 1
            s, t = s[:max_len], None if t is None else t[:max_len]
        examples.append(Example([*s, EOS_ID], t, len(examples)))
        kept.append(i)
    return examples, kept


def batch_lengths(examples: Sequence[Example]) -> list[tuple[int, int]]:
    """(source length incl. EOS, target length + 1) per pair, as the sampler wants."""
    return [(len(s), 0 if t is None else len(t) + 1) for s, t in examples]


def collate(examples: Sequence[Example]) -> Batch:
    """Pad encoded pairs into a :class:`Batch`; no targets if any is None.

    ``Batch.ids`` are the examples' ``idx`` (plain tuples: their position in ``examples``).
    """
    n = len(examples)
    src_len = torch.tensor([len(s) for s, _ in examples], dtype=torch.long)
    src = torch.full((n, int(src_len.max())), PAD_ID, dtype=torch.long)
    for row, (s, _) in enumerate(examples):
        src[row, : len(s)] = torch.tensor(s, dtype=torch.long)
    mask = torch.arange(src.size(1)).unsqueeze(0) < src_len.unsqueeze(1)
    ids = torch.tensor([getattr(e, "idx", k) for k, e in enumerate(examples)], dtype=torch.long)
    if any(t is None for _, t in examples):
        return Batch(src, mask, src_len, None, None, None, ids)
    tgt_len = torch.tensor([len(t) + 1 for _, t in examples], dtype=torch.long)
    tgt_in = torch.full((n, int(tgt_len.max())), PAD_ID, dtype=torch.long)
    tgt_out = torch.full_like(tgt_in, PAD_ID)
    for row, (_, t) in enumerate(examples):
        y = torch.tensor(t, dtype=torch.long)
        tgt_in[row, 0] = BOS_ID
        tgt_in[row, 1 : len(t) + 1] = y
        tgt_out[row, : len(t)] = y
        tgt_out[row, len(t)] = EOS_ID
    return Batch(src, mask, src_len, tgt_in, tgt_out, tgt_len, ids)


class TokenBatchSampler(Sampler[list[int]]):
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
