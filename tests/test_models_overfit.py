"""Each variant can learn: a tiny model memorises a batch of copy-task sentences."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nmt import BOS_ID, EOS_ID, PAD_ID
from nmt.models import VARIANTS, build_model

VOCAB = 12
#: every variant at its declared tiny size without dropout, and Luong with an LSTM
CONFIGS = {
    **{name: {"name": name, **v.tiny, "dropout": 0.0} for name, v in VARIANTS.items()},
    "luong-lstm": {"name": "luong", **VARIANTS["luong"].tiny, "rnn_type": "lstm", "dropout": 0.0},
}


def copy_batch() -> tuple[torch.Tensor, ...]:
    """8 random sentences of 3-6 tokens; the target is the source."""
    gen = torch.Generator().manual_seed(0)
    lengths = [3, 4, 5, 6, 3, 4, 5, 6]
    src = torch.full((8, 7), PAD_ID)
    tgt_in, tgt_out = torch.full((8, 7), PAD_ID), torch.full((8, 7), PAD_ID)
    for i, n in enumerate(lengths):
        tokens = torch.randint(EOS_ID + 1, VOCAB, (n,), generator=gen)
        src[i, : n + 1] = torch.cat([tokens, torch.tensor([EOS_ID])])
        tgt_in[i, : n + 1] = torch.cat([torch.tensor([BOS_ID]), tokens])
        tgt_out[i, : n + 1] = src[i, : n + 1]
    return src, src != PAD_ID, tgt_in, tgt_out


@pytest.mark.parametrize("variant", list(CONFIGS))
def test_overfits_a_copy_batch(variant: str) -> None:
    torch.manual_seed(0)
    model = build_model(CONFIGS[variant], VOCAB, VOCAB).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    src, src_mask, tgt_in, tgt_out = copy_batch()
    losses = []
    for _ in range(100):
        logits, _ = model(src, src_mask, tgt_in)
        loss = F.cross_entropy(logits.flatten(0, 1), tgt_out.flatten(), ignore_index=PAD_ID)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 10, (losses[0], losses[-1])
