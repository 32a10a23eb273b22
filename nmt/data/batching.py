"""Encoded splits and padded batches (the token-budget batch sampler with exact resume is
:class:`nmt.data.sampler.TokenBatchSampler`, imported here too)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from nmt import BOS_ID, EOS_ID, PAD_ID
from nmt.data.batch import Batch
from nmt.data.sampler import TokenBatchSampler
from nmt.data.tokenizer import Tokenizer
from nmt.data.validate import FilterReport


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


__all__ = ["Example", "TokenBatchSampler", "batch_lengths", "collate", "encode_pairs"]
