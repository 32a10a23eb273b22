"""The fused label-smoothed cross-entropy: the value and gradient of F.cross_entropy."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nmt.training.loss import smoothed_cross_entropy

PAD = 0


def batch(n: int = 50, v: int = 37, dtype: torch.dtype = torch.float32, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    logits = (3 * torch.randn(n, v, generator=g)).to(dtype).requires_grad_()
    target = torch.randint(1, v, (n,), generator=g)
    target[::4] = PAD  # a quarter of the rows are padding
    return logits, target


def reference(logits: torch.Tensor, target: torch.Tensor, smoothing: float) -> torch.Tensor:
    return F.cross_entropy(
        logits.float(), target, ignore_index=PAD, label_smoothing=smoothing, reduction="sum"
    )


def value_and_grad(loss_fn, logits):
    logits.grad = None
    loss = loss_fn(logits)
    (2.5 * loss).backward()  # a non-unit upstream gradient
    return loss.detach(), logits.grad.clone()


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
@pytest.mark.parametrize("chunk_rows", [7, 50, 256])  # partial last chunk, one chunk, bigger
def test_matches_torch_cross_entropy_in_fp32(smoothing, chunk_rows):
    logits, target = batch()
    want, want_grad = value_and_grad(lambda x: reference(x, target, smoothing), logits)
    got, got_grad = value_and_grad(
        lambda x: smoothed_cross_entropy(
            x, target, smoothing=smoothing, ignore_index=PAD, chunk_rows=chunk_rows
        ),
        logits,
    )
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(got_grad, want_grad, rtol=1e-5, atol=1e-6)
    assert got_grad[target == PAD].abs().max() == 0  # padding rows get no gradient


def test_bf16_logits_give_bf16_gradients_close_to_fp32():
    logits, target = batch(dtype=torch.bfloat16)
    want, want_grad = value_and_grad(lambda x: reference(x, target, 0.1), logits)
    got, got_grad = value_and_grad(
        lambda x: smoothed_cross_entropy(x, target, smoothing=0.1, ignore_index=PAD, chunk_rows=16),
        logits,
    )
    assert got.dtype == torch.float32 and got_grad.dtype == torch.bfloat16
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(got_grad.float(), want_grad.float(), rtol=1e-2, atol=1e-2)


def test_gradcheck_in_float64():
    logits, target = batch(n=9, v=6, dtype=torch.float64)

    def fn(x):
        return smoothed_cross_entropy(x, target, smoothing=0.2, ignore_index=PAD, chunk_rows=4)

    assert torch.autograd.gradcheck(fn, (logits,))


def test_all_padding_gives_zero_loss_and_gradient():
    logits, target = batch(n=6)
    target[:] = PAD
    loss = smoothed_cross_entropy(logits, target, smoothing=0.1, ignore_index=PAD)
    loss.backward()
    assert loss.item() == 0 and logits.grad.abs().max() == 0


def test_wrong_shapes_are_refused():
    logits, target = batch()
    with pytest.raises(ValueError, match=r"expected logits \(N, V\) and target \(N,\)"):
        smoothed_cross_entropy(logits.unsqueeze(0), target)
