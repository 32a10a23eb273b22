"""A scripted decoder behind the EncoderDecoder interface, for testing search exactly."""

from __future__ import annotations

import math

import torch

from nmt import BOS_ID, EOS_ID
from nmt.models.base import EncoderDecoder


class ScriptedDecoder(EncoderDecoder):
    """Next-token probabilities looked up from a table keyed by the output prefix.

    ``table[prefix] = {token: prob}``; unlisted prefixes end the sentence
    (EOS with probability 1). Tokens not listed have probability 0.
    Attention is a one-hot on source position ``len(prefix) % S``.
    """

    variant = "scripted"

    def __init__(self, table: dict[tuple[int, ...], dict[int, float]], vocab: int = 8) -> None:
        super().__init__()
        self.table = table
        self.vocab = vocab

    def encode(self, src: torch.Tensor, src_mask: torch.Tensor) -> dict:
        b = src.size(0)
        return {"prefix": torch.empty(b, 0, dtype=torch.long), "mask": src_mask}

    def decode_step(self, prev_tokens, state):
        prefix = state["prefix"]
        if prefix.size(1) or (prev_tokens != BOS_ID).any():
            prefix = torch.cat([prefix, prev_tokens.unsqueeze(1)], 1)
        rows = []
        for row in prefix.tolist():
            probs = self.table.get(tuple(row), {EOS_ID: 1.0})
            lp = torch.full((self.vocab,), -math.inf)
            for tok, p in probs.items():
                lp[tok] = math.log(p)
            rows.append(lp)
        s = state["mask"].size(1)
        attn = torch.zeros(prefix.size(0), s)
        attn[:, prefix.size(1) % s] = 1.0
        return torch.stack(rows), {"prefix": prefix, "mask": state["mask"]}, attn


class HashDecoder(EncoderDecoder):
    """Pseudo-random but deterministic next-token distributions, a function of the prefix."""

    variant = "hash"

    def __init__(self, vocab: int = 9, seed: int = 0) -> None:
        super().__init__()
        self.vocab = vocab
        self.seed = seed

    def encode(self, src, src_mask):
        return {"prefix": torch.empty(src.size(0), 0, dtype=torch.long), "src": src}

    def decode_step(self, prev_tokens, state):
        prefix = torch.cat([state["prefix"], prev_tokens.unsqueeze(1)], 1)
        rows = []
        for p, s in zip(prefix.tolist(), state["src"].tolist(), strict=True):
            g = torch.Generator().manual_seed(hash((self.seed, tuple(p), tuple(s))) % 2**31)
            logits = torch.randn(self.vocab, generator=g) * 2
            logits[EOS_ID] += 0.4 * len(p)  # sentences end eventually
            logits[0] = logits[2] = -math.inf  # never PAD or BOS
            rows.append(torch.log_softmax(logits, -1))
        return torch.stack(rows), {"prefix": prefix, "src": state["src"]}, None
