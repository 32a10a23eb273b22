"""The pooled Transformer's decoder sees one vector of the source and nothing else."""

from __future__ import annotations

import pytest
import torch

from nmt import BOS_ID, EOS_ID, PAD_ID
from nmt.errors import ConfigError
from nmt.models import build_model

VOCAB = 17
CFG = {"name": "transformer_pooled", "d_model": 16, "heads": 2, "ff_dim": 32,
       "enc_layers": 2, "dec_layers": 2}  # fmt: skip


def sources(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two sentences of lengths 7 and 4 (+ EOS); different seeds, different words."""
    gen = torch.Generator().manual_seed(seed)
    src = torch.full((2, 8), PAD_ID)
    for i, n in enumerate((7, 4)):
        src[i, :n] = torch.randint(EOS_ID + 1, VOCAB, (n,), generator=gen)
        src[i, n] = EOS_ID
    return src, src != PAD_ID


TGT_IN = torch.tensor([[BOS_ID, 5, 6, 7], [BOS_ID, 8, 9, 10]])


@pytest.mark.parametrize("pooling", ["attention", "mean"])
def test_the_decoder_reads_the_source_only_through_the_pooled_vector(pooling: str) -> None:
    torch.manual_seed(0)
    model = build_model({**CFG, "pooling": pooling}, VOCAB, VOCAB).eval()
    a, b = sources(1), sources(2)
    with torch.no_grad():
        # power: different sources do change the output ...
        assert not torch.allclose(model(*a, TGT_IN)[0], model(*b, TGT_IN)[0])
        state = model.encode(*a)
        assert all(k.shape[2] == 1 for k, _ in state["cross_kv"])  # (B, h, 1, d_k): one key
        # ... and nothing else of them does once the pooled vector is fixed
        fixed = torch.randn(2, 1, CFG["d_model"])
        model.pool.forward = lambda memory, mask: fixed
        torch.testing.assert_close(model(*a, TGT_IN)[0], model(*b, TGT_IN)[0])


def test_mean_pooling_averages_the_real_positions() -> None:
    torch.manual_seed(0)
    model = build_model({**CFG, "pooling": "mean"}, VOCAB, VOCAB)
    memory = torch.randn(2, 8, CFG["d_model"])
    _, mask = sources(1)
    pooled = model.pool(memory, mask)
    torch.testing.assert_close(pooled[1, 0], memory[1, :5].mean(0))
    assert pooled.shape == (2, 1, CFG["d_model"])


def test_an_unknown_pooling_is_one_line() -> None:
    with pytest.raises(ConfigError, match=r"model\.pooling: 'max' is not one of attention, mean"):
        build_model({**CFG, "pooling": "max"}, VOCAB, VOCAB)
