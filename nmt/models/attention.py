"""Every attention scorer behind one call: ``(query, keys, values, mask) -> (context, weights)``.

Shapes: ``query`` (B, T, Dq) or (B, Dq) for one decoder step, ``keys`` (B, S, Dk),
``values`` (B, S, Dv), ``mask`` (B, S) bool, True on real source tokens.
``context`` is (B, T, Dv) and ``weights`` (B, T, S) (without the T axis when the
query had none). Weights are exactly 0 on padded keys and sum to 1 over the rest.

The RNN scorers split the call in two: :meth:`Attention.precompute_keys` runs
once per sentence (``U_a h_j`` for Bahdanau, ``W_a h_s`` for Luong's general
score) and :meth:`Attention.attend` once per decoder step.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis of ``scores`` (B, T, S) with ``mask`` (B, S) False -> weight 0."""
    return scores.masked_fill(~mask.unsqueeze(1), float("-inf")).softmax(dim=-1)


class Attention(nn.Module):
    """Shared half of the RNN scorers: mask, normalise, weighted sum of the values."""

    def precompute_keys(self, keys: torch.Tensor) -> torch.Tensor:
        """The per-sentence part of the score, computed once: (B, S, Dk) -> (B, S, K)."""
        return keys

    def score(self, query: torch.Tensor, proj_keys: torch.Tensor) -> torch.Tensor:
        """Unnormalised scores: query (B, T, Dq), proj_keys (B, S, K) -> (B, T, S)."""
        raise NotImplementedError

    def attend(
        self,
        query: torch.Tensor,
        proj_keys: torch.Tensor,
        values: torch.Tensor,
        mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Attend with keys already passed through :meth:`precompute_keys`."""
        one_step = query.dim() == 2
        if one_step:
            query = query.unsqueeze(1)  # (B, 1, Dq)
        weights = masked_softmax(self.score(query, proj_keys), mask)  # (B, T, S)
        context = torch.bmm(weights, values)  # (B, T, Dv)
        if one_step:
            return context.squeeze(1), weights.squeeze(1)
        return context, weights

    def forward(
        self,
        query: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.attend(query, self.precompute_keys(keys), values, mask)


class AdditiveAttention(Attention):
    """Bahdanau et al. 2015 (arXiv:1409.0473, §A.1.2): ``e_ij = v_a^T tanh(W_a s_{i-1} + U_a h_j)``.

    ``U_a h_j`` does not depend on the decoder step, so :meth:`precompute_keys`
    computes it once per sentence.
    """

    def __init__(self, query_dim: int, key_dim: int, attention_dim: int) -> None:
        super().__init__()
        self.query_proj = nn.Linear(query_dim, attention_dim, bias=False)  # W_a
        self.key_proj = nn.Linear(key_dim, attention_dim)  # U_a (its bias is the tanh's bias)
        self.v = nn.Linear(attention_dim, 1, bias=False)  # v_a

    def precompute_keys(self, keys: torch.Tensor) -> torch.Tensor:
        return self.key_proj(keys)  # (B, S, A)

    def score(self, query: torch.Tensor, proj_keys: torch.Tensor) -> torch.Tensor:
        q = self.query_proj(query).unsqueeze(2)  # (B, T, 1, A)
        return self.v(torch.tanh(q + proj_keys.unsqueeze(1))).squeeze(-1)  # (B, T, S)


class DotAttention(Attention):
    """Luong et al. 2015 (D15-1166, Eq. 8), *dot*: ``score(h_t, h_s) = h_t^T h_s``."""

    def score(self, query: torch.Tensor, proj_keys: torch.Tensor) -> torch.Tensor:
        return torch.bmm(query, proj_keys.transpose(1, 2))  # (B, T, S)


class GeneralAttention(DotAttention):
    """Luong et al. 2015 (D15-1166, Eq. 8), *general*: ``score(h_t, h_s) = h_t^T W_a h_s``.

    ``W_a h_s`` is precomputed once per sentence; the score is then a dot product.
    """

    def __init__(self, query_dim: int, key_dim: int) -> None:
        super().__init__()
        self.key_proj = nn.Linear(key_dim, query_dim, bias=False)  # W_a

    def precompute_keys(self, keys: torch.Tensor) -> torch.Tensor:
        return self.key_proj(keys)  # (B, S, Dq)


class ConcatAttention(AdditiveAttention):
    """Luong et al. 2015 (D15-1166, Eq. 8), *concat*: ``score = v_a^T tanh(W_a [h_t; h_s])``.

    Splitting ``W_a`` into its query and key columns makes this Bahdanau's
    additive score, so the code is shared.
    """


LUONG_SCORES = ("dot", "general", "concat")


def luong_attention(score: str, query_dim: int, key_dim: int) -> Attention:
    """The Luong scorer named ``score`` (one of :data:`LUONG_SCORES`)."""
    if score == "dot":
        if query_dim != key_dim:
            raise ValueError(f"dot attention needs equal sizes, got {query_dim} and {key_dim}")
        return DotAttention()
    if score == "general":
        return GeneralAttention(query_dim, key_dim)
    if score == "concat":
        return ConcatAttention(query_dim, key_dim, query_dim)
    raise ValueError(f"unknown Luong score {score!r}; choose one of {', '.join(LUONG_SCORES)}")


def scaled_dot_product_attention(
    query: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    causal: bool = False,
    dropout_p: float = 0.0,
    need_weights: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Vaswani et al. 2017 (arXiv:1706.03762, Eq. 1): ``softmax(Q K^T / sqrt(d_k)) V``.

    Args:
        query: (B, h, T, d_k); keys: (B, h, S, d_k); values: (B, h, S, d_v).
        mask: bool, True where attending is allowed, broadcastable to (B, h, T, S)
            (a key-padding mask is (B, 1, 1, S)); None attends everywhere.
        causal: also forbid key positions after the query position (needs T == S).
        dropout_p: dropout on the weights (pass 0.0 in eval mode).
        need_weights: return the weights (B, h, T, S), computed explicitly;
            otherwise ``torch.nn.functional.scaled_dot_product_attention`` runs
            (see :func:`_sdpa`) and the weights are None.
    Returns:
        context (B, h, T, d_v) and the weights or None.
    """
    if not need_weights:
        if causal and mask is None:
            ctx = _sdpa(query, keys, values, dropout_p=dropout_p, is_causal=True)
            return ctx, None
        if causal:
            mask = mask & _causal_mask(query.size(-2), keys.size(-2), query.device)
        return _sdpa(query, keys, values, attn_mask=mask, dropout_p=dropout_p), None
    scores = query @ keys.transpose(-2, -1) / math.sqrt(query.size(-1))  # (B, h, T, S)
    if causal:
        causal_mask = _causal_mask(query.size(-2), keys.size(-2), query.device)
        mask = causal_mask if mask is None else mask & causal_mask
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1)
    context = F.dropout(weights, p=dropout_p) @ values if dropout_p > 0 else weights @ values
    return context, weights


def _sdpa(query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, **kw) -> torch.Tensor:
    """``F.scaled_dot_product_attention``: on CUDA the fused (flash / memory-efficient)
    kernels; on the CPU the math kernel, which at sentence lengths trains faster than
    the CPU flash kernel (``make bench``: +7% fp32, +18% bf16 for the Transformer).
    """
    if query.device.type == "cpu":
        with sdpa_kernel(SDPBackend.MATH):
            return F.scaled_dot_product_attention(query, keys, values, **kw)
    return F.scaled_dot_product_attention(query, keys, values, **kw)


def _causal_mask(queries: int, keys: int, device: torch.device) -> torch.Tensor:
    return torch.ones(queries, keys, dtype=torch.bool, device=device).tril()  # (T, S)


class MultiHeadAttention(nn.Module):
    """Vaswani et al. 2017 (arXiv:1706.03762, §3.2.2): ``Concat(head_1..head_h) W^O``.

    ``head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V)`` with
    :func:`scaled_dot_product_attention`. :meth:`project_kv` and :meth:`attend`
    are exposed separately so a decoder can cache projected keys and values.
    """

    def __init__(self, d_model: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model {d_model} is not divisible by heads {heads}")
        self.heads, self.d_k, self.dropout = heads, d_model // heads, dropout
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape  # (B, T, D) -> (B, h, T, d_k)
        return x.view(b, t, self.heads, self.d_k).transpose(1, 2)

    def project_kv(
        self, keys: torch.Tensor, values: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, S, D) each -> projected keys and values (B, h, S, d_k) each."""
        return self._split(self.k_proj(keys)), self._split(self.v_proj(values))

    def attend(
        self,
        query: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        mask: torch.Tensor | None = None,
        *,
        causal: bool = False,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend from ``query`` (B, T, D) over projected ``keys``/``values`` (B, h, S, d_k).

        ``mask`` (B, S) bool marks real keys. Returns (B, T, D) and, when asked,
        the per-head weights (B, h, T, S).
        """
        if mask is not None:
            mask = mask[:, None, None, :]  # (B, 1, 1, S)
        context, weights = scaled_dot_product_attention(
            self._split(self.q_proj(query)),
            keys,
            values,
            mask,
            causal=causal,
            dropout_p=self.dropout if self.training else 0.0,
            need_weights=need_weights,
        )  # (B, h, T, d_k)
        b, _, t, _ = context.shape
        return self.out_proj(context.transpose(1, 2).reshape(b, t, -1)), weights

    def forward(
        self,
        query: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        mask: torch.Tensor | None = None,
        *,
        causal: bool = False,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """query (B, T, D), keys/values (B, S, D), mask (B, S) -> (B, T, D), (B, h, T, S) | None."""
        k, v = self.project_kv(keys, values)
        return self.attend(query, k, v, mask, causal=causal, need_weights=need_weights)
