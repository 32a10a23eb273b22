"""The training's progress bar: the share of the budget used, by the limit nearest its end."""

from __future__ import annotations

from typing import Any

from tqdm.auto import tqdm

from nmt.training.budget import Budget


class BudgetBar(tqdm):
    """A 0-100% bar of the budget (:meth:`Budget.used`), named after the limit that ends
    the run first (``train (max_minutes)``).

    Its ETA is the average rate since the bar started (no smoothing): a recent-rate estimate
    jumps after every validation, which stops the bar for a while; the average holds
    validations at the share they take. A resumed run's bar counts from where it resumed.
    """

    def __init__(self, budget: Budget, disable: bool = False) -> None:
        super().__init__(
            total=100,
            desc="train",
            unit="%",
            bar_format="{desc}{percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]",
            disable=disable,
            smoothing=0,
        )
        self.budget = budget

    def start_at(self, progress: Any, epochs: float, train_seconds: float) -> None:
        """Show the share a resumed run had used; the rate counts only what follows."""
        self.advance(progress, epochs, train_seconds)
        self.initial = self.n

    def advance(self, progress: Any, epochs: float, train_seconds: float) -> None:
        """Move to the share of the budget used at ``progress`` (``epochs``: trained, the
        current one's share included)."""
        if self.disable:  # not rank 0
            return
        fraction, name = self.budget.used(
            progress.step, epochs, progress.trained_tgt_tokens, train_seconds
        )
        if self.desc != f"train ({name})":
            self.set_description(f"train ({name})", refresh=False)
        self.update(100.0 * fraction - self.n)
