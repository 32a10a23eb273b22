"""Where a training stands: its counters (saved in ``last.pt``) and the loss meter.

:class:`Progress` is everything exact resumption needs besides the weights, the optimiser,
the schedule and the RNG states: the update, the position in the epoch, the best
validation so far, the patience count and the tokens trained on. A checkpoint keeps it as
its ``trainer`` record (:meth:`Progress.record`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from nmt.errors import NMTError
from nmt.system.distributed import DistInfo, any_rank_tensor


@dataclass
class Progress:
    """The counters of a run, over every process of it (a resumed run continues them)."""

    step: int = 0  # optimiser updates
    epoch: int = 0
    position: int = 0  # batches of the current epoch already consumed
    best_score: float = float("-inf")  # best validation score (BLEU, or minus the loss)
    best_step: int = 0  # the update of best.pt
    best_bleu: float = -1.0  # the validation BLEU of best.pt
    patience_score: float = float("-inf")  # best score of the scheduled validations
    bad_evals: int = 0  # scheduled validations since it improved
    trained_tgt_tokens: int = 0  # all ranks, every process
    trained_src_tokens: int = 0
    last_eval_step: int = -1
    processes: int = 1  # this one and those before a resume
    stops: list[str] = field(default_factory=list)  # why each earlier process ended
    machines: list[str] = field(default_factory=list)  # where each process trained

    #: what the checkpoint's ``trainer`` record holds (step, epoch and position are kept
    #: beside it, as ``step`` and ``sampler``)
    RECORD = ("best_step", "best_score", "patience_score", "bad_evals", "trained_tgt_tokens",
              "trained_src_tokens", "last_eval_step", "processes", "stops",
              "machines")  # fmt: skip

    def record(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.RECORD}

    @classmethod
    def resumed(cls, ckpt: dict[str, Any]) -> Progress:
        """The progress a (migrated) checkpoint saved, as the next process starts it."""
        saved = {k: v for k, v in ckpt["trainer"].items() if k in cls.RECORD}
        p = cls(**saved)
        p.step, p.best_bleu = int(ckpt["step"]), float(ckpt["best_bleu"])
        p.epoch, p.position = ckpt["sampler"]["epoch"], ckpt["sampler"]["position"]
        p.processes = int(saved.get("processes", 1)) + 1
        p.stops, p.machines = list(p.stops), list(p.machines)
        return p

    def improve(self, score: float, bleu: float) -> bool:
        """Book a validation's score; True if it beats every earlier one (a new best.pt)."""
        if score <= self.best_score:
            return False
        self.best_score, self.best_bleu, self.best_step = score, bleu, self.step
        return True

    def patience(self, score: float) -> None:
        """Book a scheduled validation for early stopping."""
        if score > self.patience_score:
            self.patience_score, self.bad_evals = score, 0
        else:
            self.bad_evals += 1

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class TrainingDiverged(NMTError):
    """The loss or the gradient norm became NaN or infinite."""


class Meter:
    """Training loss and tokens since the last log, for the progress bar and TensorBoard.

    The loss stays a device tensor (no sync per update); ``nonfinite`` remembers a NaN/inf
    loss or gradient norm until the next check."""

    def __init__(self, device: torch.device, tokens: int, seconds: float) -> None:
        self.loss = torch.zeros((), device=device)
        self.nonfinite = torch.zeros((), dtype=torch.bool, device=device)
        self.grad_norm = torch.zeros((), device=device)
        self.since = (tokens, seconds)  # target tokens and train seconds at the last read

    def update(self, loss: torch.Tensor, grad_norm: torch.Tensor) -> None:
        """Book an update's summed loss and its gradient norm."""
        self.loss += loss
        self.grad_norm = grad_norm
        self.nonfinite |= ~torch.isfinite(loss) | ~torch.isfinite(grad_norm)

    def read(self, tokens: int, seconds: float) -> tuple[float, float]:
        """Loss per target token and target tokens/s since the last read; starts anew."""
        n, elapsed = tokens - self.since[0], seconds - self.since[1]
        loss = float(self.loss.item()) / max(1, n)
        self.loss.zero_()
        self.since = (tokens, seconds)
        return loss, n / max(1e-9, elapsed)

    def check_finite(self, dist: DistInfo, step: int, last: Path) -> None:
        """Stop with one line if any rank saw a NaN/inf loss or gradient norm (every rank
        calls this: one small all-reduce)."""
        if any_rank_tensor(self.nonfinite, dist):
            hint = f"resume from {last}" if last.exists() else "start again"
            raise TrainingDiverged(
                f"the training loss or gradient norm became NaN/inf by step {step}; nothing "
                f"from this point was saved; lower train.lr or raise train.warmup_steps, then "
                f"{hint}"
            )
