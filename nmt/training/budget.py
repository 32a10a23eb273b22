"""What a training run may use, what it has used, and why it stopped.

A comparison of variants is fair only if each had the same budget, so the budgets here
are equal by construction:

- ``train.max_minutes`` counts *training* time only (building batches, forward, backward,
  optimiser step). The :class:`TrainClock` is paused while the run validates, writes
  checkpoints or scores the test sets, so a variant whose validation decodes slowly gets
  the same training time as one that decodes fast. The time used is saved in every
  checkpoint: a resumed run trains only what is left of its budget, and its
  ``train_seconds`` / ``wall_seconds`` cover every process.
- ``train.max_target_tokens`` caps the target tokens trained on (all ranks together), a
  budget that does not depend on how fast or busy the machine is. Not to be confused
  with ``data.max_tokens``, the size of one batch.
- ``train.max_steps`` and ``train.max_epochs`` cap updates and passes over the data, and
  ``train.patience`` stops a run whose validation BLEU (or loss,
  ``train.early_stopping_metric``) has converged.

Every run records which of these ended it (:data:`STOP_REASONS`) and what it used.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

#: why a run stopped -> what that means, for results.json and reports
STOP_REASONS = {
    "patience": "converged: train.early_stopping_metric (validation BLEU or loss) did not improve "
    "for train.patience validations",
    "max_target_tokens": "budget: target tokens trained (train.max_target_tokens)",
    "max_steps": "budget: optimiser updates (train.max_steps)",
    "max_epochs": "budget: passes over the training data (train.max_epochs)",
    "max_minutes": "budget: minutes of training, validation excluded (train.max_minutes)",
    "signal": "interrupted by SIGINT/SIGTERM (resumable from last.pt)",
}


class TrainClock:
    """Training seconds and wall seconds of a run, across every process of it.

    The clock runs from construction; :meth:`paused` stops the training count (not the
    wall count) for validation and checkpoints, and :meth:`stop` ends both counts when
    the training loop ends (testing is not part of it). ``train_seconds`` and
    ``wall_seconds`` start from what earlier processes of a resumed run used.
    """

    def __init__(self, train_seconds: float = 0.0, wall_seconds: float = 0.0) -> None:
        now = time.monotonic()
        self._train_before, self._wall_before = float(train_seconds), float(wall_seconds)
        self._wall_start = now
        self._since: float | None = now  # None while paused
        self._banked = 0.0  # training seconds of this process up to the last pause
        self._stopped: tuple[float, float] | None = None  # (train, wall) once stopped

    @property
    def train_seconds(self) -> float:
        if self._stopped:
            return self._stopped[0]
        running = 0.0 if self._since is None else time.monotonic() - self._since
        return self._train_before + self._banked + running

    @property
    def wall_seconds(self) -> float:
        if self._stopped:
            return self._stopped[1]
        return self._wall_before + time.monotonic() - self._wall_start

    def stop(self) -> None:
        """End both counts here: what follows (scoring the test sets) is not training."""
        if self._stopped is None:
            self._stopped = (self.train_seconds, self.wall_seconds)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Leave the time spent inside out of ``train_seconds`` (nesting is harmless)."""
        if self._since is None:
            yield
            return
        self._banked += time.monotonic() - self._since
        self._since = None
        try:
            yield
        finally:
            self._since = time.monotonic()


@dataclass(frozen=True)
class Budget:
    """The limits of a run (0 = no limit; ``max_epochs`` is always set)."""

    max_epochs: int
    max_steps: int = 0
    max_minutes: float = 0.0
    max_target_tokens: int = 0
    patience: int = 0

    @classmethod
    def from_config(cls, tcfg: Any) -> Budget:
        return cls(
            int(tcfg.max_epochs),
            int(tcfg.max_steps),
            float(tcfg.max_minutes),
            int(tcfg.max_target_tokens),
            int(tcfg.patience),
        )

    def exhausted(self, steps: int, target_tokens: int, train_seconds: float) -> str:
        """The budget that is used up ("" when none is), checked after each update.

        Every input is agreed by all ranks (steps and the all-reduced token count are
        equal everywhere; the time is OR-ed by the caller), so every rank stops alike.
        """
        if self.max_steps and steps >= self.max_steps:
            return "max_steps"
        if self.max_target_tokens and target_tokens >= self.max_target_tokens:
            return "max_target_tokens"
        return "max_minutes" if self.out_of_time(train_seconds) else ""

    def out_of_time(self, train_seconds: float) -> bool:
        """The minutes of training are used up (never, without ``max_minutes``)."""
        return bool(self.max_minutes) and train_seconds >= 60.0 * self.max_minutes

    def used(
        self, steps: int, epochs: float, target_tokens: int, train_seconds: float
    ) -> tuple[float, str]:
        """The share of the budget used, by the limit nearest its end: (fraction, name).
        The progress bar follows it, so it runs to 100% at the limit that ends the run
        (a 30-minute run shows its minutes, a token budget its tokens)."""
        shares = [(epochs / max(1, self.max_epochs), "max_epochs")]
        if self.max_steps:
            shares.append((steps / self.max_steps, "max_steps"))
        if self.max_target_tokens:
            shares.append((target_tokens / self.max_target_tokens, "max_target_tokens"))
        if self.max_minutes:
            shares.append((train_seconds / (60.0 * self.max_minutes), "max_minutes"))
        fraction, name = max(shares)
        return min(1.0, fraction), name

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """``30 epochs, 3,000,000 target tokens, patience 5`` (the limits that are set)."""
        parts = [f"{self.max_epochs} epochs"]
        if self.max_steps:
            parts.append(f"{self.max_steps:,} updates")
        if self.max_target_tokens:
            parts.append(f"{self.max_target_tokens:,} target tokens")
        if self.max_minutes:
            parts.append(f"{self.max_minutes:g} minutes of training")
        if self.patience:
            parts.append(f"patience {self.patience}")
        return ", ".join(parts)


def describe_stop(reason: str) -> str:
    """What a stop reason means (unknown reasons from older runs are returned as they are)."""
    return STOP_REASONS.get(reason, reason)
