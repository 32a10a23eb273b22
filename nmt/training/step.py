"""One optimiser update: the training step every run, and the benchmark, executes.

:class:`TrainStep` takes a group of batches (``train.accum_steps`` of them), runs the
forward pass under the run's precision, the label-smoothed cross-entropy per target token
(Szegedy et al. 2016, §7; Vaswani et al. 2017, §5.4), backward with DDP's all-reduce on the
last batch only, clips the global gradient norm (Pascanu et al. 2013), and steps AdamW and
the learning-rate schedule. The gradient of a group is that of the mean per-token loss of
its batches. ``nmt-train`` and ``scripts/bench.py`` call the same object.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch

from nmt import PAD_ID
from nmt.data.batch import Batch
from nmt.system.device import autocast
from nmt.training.loss import smoothed_cross_entropy

#: (logits (B, T, V), targets (B, T)) -> summed loss over the non-pad target tokens
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def smoothed_loss(smoothing: float) -> LossFn:
    """The training loss: summed, label-smoothed token cross-entropy (fp32 inside)."""

    def loss(logits: torch.Tensor, tgt_out: torch.Tensor) -> torch.Tensor:
        return smoothed_cross_entropy(
            logits.flatten(0, 1),  # (B*T, V), bf16 under autocast
            tgt_out.flatten(),
            smoothing=smoothing,
            ignore_index=PAD_ID,
        )

    return loss


@dataclass
class StepResult:
    """What one update trained on: the summed loss (a device tensor: no sync), the gradient
    norm before clipping, and its target and source tokens."""

    loss: torch.Tensor
    grad_norm: torch.Tensor
    tgt_tokens: int
    src_tokens: int
    batches: int


class TrainStep:
    """One update of ``model``'s weights through ``net`` (the model, or its compiled or
    DDP-wrapped form).

    ``scheduler``: anything with ``step()`` (None: a constant rate); ``clip_grad_norm`` 0
    leaves the gradient as it is (its norm is still measured); ``no_sync``: DDP's context
    that skips the all-reduce (every batch of a group but the last).
    """

    def __init__(
        self,
        net: torch.nn.Module,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        device: torch.device,
        precision: str,
        *,
        loss: LossFn,
        clip_grad_norm: float,
        scheduler: Any = None,
        distributed: bool = False,
    ) -> None:
        self.net, self.model, self.optimizer = net, model, optimizer
        self.device, self.precision = device, precision
        self.loss_fn, self.scheduler, self.distributed = loss, scheduler, distributed
        self.clip = clip_grad_norm if clip_grad_norm > 0 else float("inf")

    def loss(self, batch: Batch) -> torch.Tensor:
        """Summed training loss of one batch (already on the device)."""
        with autocast(self.device, self.precision):
            logits, _ = self.net(batch.src, batch.src_mask, batch.tgt_in)  # (B, T, V)
        return self.loss_fn(logits, batch.tgt_out)

    def __call__(self, group: Sequence[Batch]) -> StepResult:
        """Accumulate the gradients of ``group`` (each batch's per-token loss over the group
        size), clip, and step the optimiser and the schedule."""
        loss_sum, tgt, src = torch.zeros((), device=self.device), 0, 0
        for i, batch in enumerate(group):
            batch = batch.to(self.device, non_blocking=True)
            last = i == len(group) - 1
            with nullcontext() if last or not self.distributed else self.net.no_sync():
                loss = self.loss(batch)
                (loss / max(1, batch.num_tgt_tokens) / len(group)).backward()
            loss_sum += loss.detach()
            tgt += batch.num_tgt_tokens
            src += int(batch.src_lengths.sum())
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.scheduler is not None:
            self.scheduler.step()
        return StepResult(loss_sum, grad_norm, tgt, src, len(group))
