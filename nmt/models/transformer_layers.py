"""Transformer building blocks (Vaswani et al. 2017, arXiv:1706.03762): positions, layers."""

from __future__ import annotations

import math

import torch
from torch import nn

from nmt.models.attention import MultiHeadAttention
from nmt.models.dropout import Dropout

KeyValue = tuple[torch.Tensor, torch.Tensor]  # projected keys, values: (B, h, S, d_k) each


def sinusoids(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """§3.5: ``PE(pos, 2i) = sin(pos / 10000^(2i/d))``, ``PE(pos, 2i+1) = cos(...)``.

    positions (T,) -> encodings (T, dim), computed on the fly so any length works.
    """
    rates = torch.exp(
        torch.arange(0, dim, 2, device=positions.device, dtype=torch.float) * (-math.log(1e4) / dim)
    )  # (ceil(dim / 2),)
    angles = positions.float().unsqueeze(1) * rates  # (T, ceil(dim / 2))
    pe = torch.empty(positions.size(0), dim, device=positions.device)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles)[:, : dim // 2]
    return pe


class Residual(nn.Module):
    """A residual sublayer with dropout and layer norm (§5.4), pre- or post-norm.

    Post-norm (the paper): ``LayerNorm(x + Dropout(Sublayer(x)))``; pre-norm:
    ``x + Dropout(Sublayer(LayerNorm(x)))``. Call :meth:`before` for the
    sublayer's input and :meth:`after` to add its output back.
    """

    def __init__(self, d_model: int, dropout: float, pre_norm: bool) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.dropout = Dropout(dropout)
        self.pre_norm = pre_norm

    def before(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x) if self.pre_norm else x

    def after(self, x: torch.Tensor, sublayer_out: torch.Tensor) -> torch.Tensor:
        y = x + self.dropout(sublayer_out)
        return y if self.pre_norm else self.norm(y)


class FeedForward(nn.Sequential):
    """§3.3, Eq. 2: ``FFN(x) = max(0, x W_1 + b_1) W_2 + b_2``."""

    def __init__(self, d_model: int, ff_dim: int, dropout: float) -> None:
        super().__init__(
            nn.Linear(d_model, ff_dim), nn.ReLU(), Dropout(dropout), nn.Linear(ff_dim, d_model)
        )


class EncoderLayer(nn.Module):
    """§3.1: self-attention over the source, then the feed-forward network.

    ``dropout`` applies to each sublayer's output (§5.4); ``attention_dropout``
    to the attention weights and ``activation_dropout`` inside the FFN.
    """

    def __init__(
        self,
        d_model: int,
        heads: int,
        ff_dim: int,
        dropout: float,
        pre_norm: bool,
        attention_dropout: float = 0.0,
        activation_dropout: float = 0.0,
    ):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, heads, attention_dropout)
        self.ff = FeedForward(d_model, ff_dim, activation_dropout)
        self.attn_res, self.ff_res = (Residual(d_model, dropout, pre_norm) for _ in range(2))

    def forward(self, x: torch.Tensor, src_mask: torch.Tensor) -> torch.Tensor:
        """x (B, S, D), src_mask (B, S) -> (B, S, D)."""
        h = self.attn_res.before(x)
        x = self.attn_res.after(x, self.self_attn(h, h, h, src_mask)[0])
        return self.ff_res.after(x, self.ff(self.ff_res.before(x)))


class DecoderLayer(nn.Module):
    """§3.1: masked self-attention, attention over the encoder output, feed-forward."""

    def __init__(
        self,
        d_model: int,
        heads: int,
        ff_dim: int,
        dropout: float,
        pre_norm: bool,
        attention_dropout: float = 0.0,
        activation_dropout: float = 0.0,
    ):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, heads, attention_dropout)
        self.cross_attn = MultiHeadAttention(d_model, heads, attention_dropout)
        self.ff = FeedForward(d_model, ff_dim, activation_dropout)
        self.self_res, self.cross_res, self.ff_res = (
            Residual(d_model, dropout, pre_norm) for _ in range(3)
        )

    def forward(
        self,
        x: torch.Tensor,
        cross_kv: KeyValue,
        src_mask: torch.Tensor,
        cache: KeyValue | None = None,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, KeyValue, torch.Tensor | None]:
        """Decode target positions x (B, T, D).

        Args:
            cross_kv: this layer's projection of the encoder output, from :meth:`project_memory`.
            src_mask: (B, S) bool.
            cache: self-attention keys/values of earlier positions (B, h, t, d_k);
                None for teacher forcing, where a causal mask hides the future.
            need_weights: return the cross-attention weights (B, h, T, S).
        Returns:
            (B, T, D), the self-attention keys/values including these positions,
            and the weights or None.
        """
        h = self.self_res.before(x)
        k, v = self.self_attn.project_kv(h, h)  # (B, h, T, d_k)
        if cache is not None:
            k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
        x = self.self_res.after(x, self.self_attn.attend(h, k, v, causal=cache is None)[0])
        h = self.cross_res.before(x)
        out, weights = self.cross_attn.attend(h, *cross_kv, src_mask, need_weights=need_weights)
        x = self.cross_res.after(x, out)
        return self.ff_res.after(x, self.ff(self.ff_res.before(x))), (k, v), weights

    def project_memory(self, memory: torch.Tensor) -> KeyValue:
        """Cross-attention keys/values of the encoder output (B, S, D), computed once."""
        return self.cross_attn.project_kv(memory, memory)
