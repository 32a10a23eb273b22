"""Attention scorers: masking, normalisation, precomputed keys, fused vs explicit kernels."""

from __future__ import annotations

import pytest
import torch

from nmt.models.attention import (
    AdditiveAttention,
    Attention,
    MultiHeadAttention,
    luong_attention,
    scaled_dot_product_attention,
)

B, T, S, D = 3, 4, 6, 8


@pytest.fixture
def mask() -> torch.Tensor:
    lengths = torch.tensor([6, 3, 1])
    return torch.arange(S).unsqueeze(0) < lengths.unsqueeze(1)  # (B, S)


def scorers() -> dict[str, Attention]:
    torch.manual_seed(0)
    return {
        "additive": AdditiveAttention(D, D, 5),
        **{f"luong-{s}": luong_attention(s, D, D) for s in ("dot", "general", "concat")},
    }


@pytest.mark.parametrize("name", list(scorers()))
@pytest.mark.parametrize("one_step", [False, True])
def test_weights_normalised_and_zero_on_padding(name: str, one_step: bool, mask) -> None:
    attention = scorers()[name]
    query = torch.randn(B, D) if one_step else torch.randn(B, T, D)
    keys, values = torch.randn(B, S, D), torch.randn(B, S, 7)
    context, weights = attention(query, keys, values, mask)
    if one_step:
        assert context.shape == (B, 7) and weights.shape == (B, S)
        weights = weights.unsqueeze(1)
    else:
        assert context.shape == (B, T, 7) and weights.shape == (B, T, S)
    assert (weights.masked_select(~mask.unsqueeze(1).expand_as(weights)) == 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(B, weights.size(1)))
    assert (weights >= 0).all()


@pytest.mark.parametrize("name", list(scorers()))
def test_padded_values_do_not_leak(name: str, mask) -> None:
    attention = scorers()[name]
    query, keys, values = torch.randn(B, T, D), torch.randn(B, S, D), torch.randn(B, S, D)
    noisy_keys = torch.where(mask.unsqueeze(-1), keys, torch.randn_like(keys) * 100)
    noisy_values = torch.where(mask.unsqueeze(-1), values, torch.randn_like(values) * 100)
    expected = attention(query, keys, values, mask)
    actual = attention(query, noisy_keys, noisy_values, mask)
    torch.testing.assert_close(actual, expected)


@pytest.mark.parametrize("name", list(scorers()))
def test_precomputed_keys_equal_full_call(name: str, mask) -> None:
    attention = scorers()[name]
    query, keys = torch.randn(B, T, D), torch.randn(B, S, D)
    full = attention(query, keys, keys, mask)
    proj = attention.precompute_keys(keys)
    steps = [attention.attend(query[:, t], proj, keys, mask) for t in range(T)]
    torch.testing.assert_close(torch.stack([c for c, _ in steps], 1), full[0])
    torch.testing.assert_close(torch.stack([w for _, w in steps], 1), full[1])


def test_additive_matches_equation(mask) -> None:
    """e_ij = v_a^T tanh(W_a s_{i-1} + U_a h_j), alpha = softmax_j(e_ij)."""
    attention = AdditiveAttention(D, D, 5)
    s, h = torch.randn(B, D), torch.randn(B, S, D)
    w_a, u_a, v_a = attention.query_proj, attention.key_proj, attention.v.weight.squeeze(0)
    e = torch.tanh(w_a(s).unsqueeze(1) + u_a(h)) @ v_a  # (B, S)
    alpha = e.masked_fill(~mask, float("-inf")).softmax(-1)
    context, weights = attention(s, h, h, mask)
    torch.testing.assert_close(weights, alpha)
    torch.testing.assert_close(context, (alpha.unsqueeze(-1) * h).sum(1))


def test_dot_needs_equal_sizes() -> None:
    with pytest.raises(ValueError, match="equal sizes"):
        luong_attention("dot", 4, 6)


@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_fused_equals_explicit(causal: bool, mask) -> None:
    q, k, v = (torch.randn(B, 2, S, 4) for _ in range(3))
    key_mask = mask[:, None, None, :]
    # causal rows must keep one real key: every sentence has position 0
    fused, none = scaled_dot_product_attention(q, k, v, key_mask, causal=causal)
    explicit, weights = scaled_dot_product_attention(
        q, k, v, key_mask, causal=causal, need_weights=True
    )
    assert none is None and weights.shape == (B, 2, S, S)
    torch.testing.assert_close(fused, explicit)
    assert (weights.masked_select(~key_mask.expand_as(weights)) == 0).all()
    if causal:
        assert (weights.triu(1) == 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(B, 2, S))


def test_sdpa_causal_without_mask() -> None:
    q, k, v = (torch.randn(B, 2, T, 4) for _ in range(3))
    fused, _ = scaled_dot_product_attention(q, k, v, causal=True)
    explicit, weights = scaled_dot_product_attention(q, k, v, causal=True, need_weights=True)
    torch.testing.assert_close(fused, explicit)
    assert (weights.triu(1) == 0).all()


def test_multi_head_attention(mask) -> None:
    mha = MultiHeadAttention(D, heads=2).eval()
    query, memory = torch.randn(B, T, D), torch.randn(B, S, D)
    fused, none = mha(query, memory, memory, mask)
    explicit, weights = mha(query, memory, memory, mask, need_weights=True)
    assert fused.shape == (B, T, D) and none is None and weights.shape == (B, 2, T, S)
    torch.testing.assert_close(fused, explicit)
    assert (weights.masked_select(~mask[:, None, None, :].expand_as(weights)) == 0).all()
    k, v = mha.project_kv(memory, memory)
    torch.testing.assert_close(mha.attend(query, k, v, mask)[0], fused)


def test_heat_map_labels_show_words_and_mark_piece_boundaries():
    from nmt.translation.plots import piece_labels

    pieces = ["\u2581Stra", "ße", "\u2581entlang", "\u2581.", "</s>"]
    assert piece_labels(pieces) == ["Stra", "·ße", "entlang", ".", "</s>"]
