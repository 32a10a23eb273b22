"""The context-vector bottleneck inside the Transformer family.

The encoder is the Transformer's (Vaswani et al. 2017); its output (B, S, D)
is then pooled into one vector (B, 1, D), and that single position is all
every decoder layer's cross-attention sees. With one key, the attention
weights are 1 and each decoder layer receives the same projected vector at
every step: the fixed-size context of an RNN encoder-decoder (Cho et al.
2014), with everything else (self-attention, sizes, schedule) held equal to
the Transformer's. Comparing the two measures what attending over every
source position is worth within one architecture.

Pooling: ``attention`` (one learned query per head, softmax over the source
positions: Lin et al. 2017, Eq. 5-6; the PMA block of Lee et al. 2019 with one
seed) or ``mean`` (the average of the source positions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from nmt.errors import ConfigError
from nmt.models.config import TransformerConfig
from nmt.models.transformer import Transformer

POOLINGS = ("attention", "mean")


@dataclass
class PooledTransformerConfig(TransformerConfig):
    """The Transformer's settings plus how the encoder output is pooled."""

    name: str = "transformer_pooled"
    pooling: str = "attention"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.pooling not in POOLINGS:
            raise ConfigError(
                f"model.pooling: {self.pooling!r} is not one of {', '.join(POOLINGS)}"
            )

    def method(self) -> list[str]:
        return [f"{self.pooling} pooling"]


class Pool(nn.Module):
    """(B, S, D) encoder output, (B, S) mask -> (B, 1, D): one vector per sentence."""

    def __init__(self, d_model: int, heads: int, kind: str) -> None:
        super().__init__()
        self.kind, self.heads = kind, heads
        if kind == "attention":
            # zero queries start as mean pooling; keys see the whole model width
            self.query = nn.Parameter(torch.zeros(heads, d_model // heads))  # (h, d_k)
            self.key = nn.Linear(d_model, d_model, bias=False)
            nn.init.xavier_uniform_(self.key.weight)

    def forward(self, memory: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, s, d = memory.shape
        if self.kind == "mean":
            weights = mask.unsqueeze(1).to(memory.dtype)  # (B, 1, S)
            weights = weights / weights.sum(-1, keepdim=True).clamp(min=1)
            return weights @ memory  # (B, 1, D)
        h, d_k = self.heads, d // self.heads
        keys = self.key(memory).view(b, s, h, d_k)
        scores = torch.einsum("bshk,hk->bhs", keys, self.query.to(keys.dtype)) / math.sqrt(d_k)
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        weights = scores.softmax(-1)  # (B, h, S)
        pooled = torch.einsum("bhs,bshk->bhk", weights, memory.view(b, s, h, d_k))
        return pooled.reshape(b, 1, d)


class PooledTransformer(Transformer):
    """A :class:`Transformer` whose decoder cross-attends to one pooled vector."""

    variant = "transformer_pooled"

    def __init__(
        self, cfg: PooledTransformerConfig, src_vocab_size: int, tgt_vocab_size: int
    ) -> None:
        super().__init__(cfg, src_vocab_size, tgt_vocab_size)
        self.pool = Pool(cfg.d_model, cfg.heads, cfg.pooling)

    def _memory(self, src: torch.Tensor, src_mask: torch.Tensor) -> torch.Tensor:
        return self.pool(super()._memory(src, src_mask), src_mask)  # (B, 1, D)

    def _decode(self, tokens, src_mask, cross_kv, cache, offset, need_weights):
        """As the Transformer's, over the one pooled position (every row has it); no
        attention weights: with one key they would be 1, and there is no source map to
        draw (``forward``, ``decode_step`` and ``attention_heads`` give None)."""
        one = src_mask.new_ones(src_mask.size(0), 1)  # (B, 1)
        return super()._decode(tokens, one, cross_kv, cache, offset, need_weights=False)

    def attention_layers(self, src, src_mask, tgt_in) -> None:
        """No source positions to attend to: nothing to draw."""
        return None
