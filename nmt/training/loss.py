"""Label-smoothed token cross-entropy as one autograd node.

With smoothing ``ε`` over a vocabulary of ``V`` types the target distribution
is ``q = (1 - ε) onehot(y) + ε / V`` (Szegedy et al. 2016, arXiv:1512.00567,
§7; Vaswani et al. 2017, §5.4), so per token

    loss = (1 - ε) (lse(z) - z_y) + ε (lse(z) - mean(z)),
    ∂loss/∂z = softmax(z) - q,

with ``lse`` the log-sum-exp of the logits ``z``. ``F.cross_entropy`` computes
the same number through a full log-softmax, an NLL gather and a smoothing sum,
each with its own (N, V) backward pass; here the backward is one pass over the
logits, done in row chunks that stay in cache, in fp32 whatever the logits'
dtype (bf16 under autocast).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from nmt import PAD_ID
from nmt.system.device import autocast

#: rows per chunk: 256 x 8k fp32 values = 8 MiB, within a CPU's last-level cache
CHUNK_ROWS = 256


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """fp32 for bf16/fp16/fp32 logits; fp64 stays fp64 (for gradcheck)."""
    return torch.promote_types(dtype, torch.float32)


class SmoothedCrossEntropy(torch.autograd.Function):
    """Summed label-smoothed cross-entropy of logits (N, V) against targets (N,)."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx,
        logits: torch.Tensor,
        target: torch.Tensor,
        smoothing: float,
        ignore_index: int,
        chunk_rows: int,
    ) -> torch.Tensor:
        dtype = _compute_dtype(logits.dtype)
        keep = target != ignore_index  # (N,)
        safe = target.masked_fill(~keep, 0)  # (N,): any valid index on ignored rows
        lse = torch.empty(logits.size(0), dtype=dtype, device=logits.device)  # (N,)
        mean = torch.empty_like(lse)  # (N,)
        for lo in range(0, logits.size(0), chunk_rows):
            x = logits[lo : lo + chunk_rows].to(dtype)  # (n, V)
            lse[lo : lo + chunk_rows] = torch.logsumexp(x, dim=-1)
            mean[lo : lo + chunk_rows] = x.mean(dim=-1)
        picked = logits.gather(1, safe.unsqueeze(1)).squeeze(1).to(dtype)  # z_y: (N,)
        per_token = (1 - smoothing) * (lse - picked) + smoothing * (lse - mean)
        ctx.save_for_backward(logits, lse, safe, keep)
        ctx.smoothing, ctx.chunk_rows = smoothing, chunk_rows
        return per_token.masked_fill(~keep, 0.0).sum()

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx, grad_loss: torch.Tensor
    ) -> tuple[torch.Tensor | None, ...]:
        logits, lse, safe, keep = ctx.saved_tensors
        eps = ctx.smoothing
        dtype = lse.dtype
        scale = keep.to(dtype) * grad_loss.to(dtype)  # (N,): 0 on ignored rows
        grad = torch.empty_like(logits)  # (N, V) in the logits' dtype
        for lo in range(0, logits.size(0), ctx.chunk_rows):
            hi = min(lo + ctx.chunk_rows, logits.size(0))
            g = torch.sub(logits[lo:hi], lse[lo:hi, None])  # z - lse, promoted to fp32: (n, V)
            g.exp_().sub_(eps / logits.size(1))  # softmax(z) - ε/V
            g.scatter_add_(1, safe[lo:hi, None], g.new_full((hi - lo, 1), eps - 1))  # -(1-ε) onehot
            grad[lo:hi] = g.mul_(scale[lo:hi, None])
        return grad, None, None, None, None


def smoothed_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    smoothing: float = 0.0,
    ignore_index: int = -100,
    chunk_rows: int = CHUNK_ROWS,
) -> torch.Tensor:
    """Summed cross-entropy of ``logits`` (N, V) against ``target`` (N,), rows equal to
    ``ignore_index`` left out; the value and gradient of
    ``F.cross_entropy(logits.float(), target, ignore_index=..., label_smoothing=smoothing,
    reduction="sum")``.
    """
    if logits.dim() != 2 or target.shape != logits.shape[:1]:
        shapes = f"{tuple(logits.shape)} and {tuple(target.shape)}"
        raise ValueError(f"expected logits (N, V) and target (N,), got {shapes}")
    return SmoothedCrossEntropy.apply(logits, target, smoothing, ignore_index, chunk_rows)


@torch.no_grad()
def validation_loss(model: Any, data: Any, device: torch.device, precision: str, max_tokens: int):
    """Teacher-forced cross-entropy per target token on the valid split (no smoothing)."""
    model.eval()
    sampler, collate = data.make_batches("valid", max_tokens=max_tokens, shuffle=False, seed=0)
    encoded = data.encoded["valid"]
    total, tokens = 0.0, 0
    for indices in sampler:
        batch = collate([encoded[i] for i in indices]).to(device)
        with autocast(device, precision):
            logits, _ = model(batch.src, batch.src_mask, batch.tgt_in)
        total += float(
            smoothed_cross_entropy(  # the training loss with smoothing 0
                logits.flatten(0, 1), batch.tgt_out.flatten(), ignore_index=PAD_ID
            )
        )
        tokens += batch.num_tgt_tokens
    loss = total / max(1, tokens)
    return loss, math.exp(min(loss, 50.0))
