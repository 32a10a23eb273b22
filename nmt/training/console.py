"""The training's progress bar: the share of the budget used, by the limit nearest its end."""

from __future__ import annotations

from typing import Any

from tqdm.auto import tqdm

from nmt.training.budget import Budget


class BudgetBar(tqdm):
    """A 0-100% bar of the budget (:meth:`Budget.used`), named after the limit that ends
    the run first (``train (max_minutes)``)."""

    def __init__(self, budget: Budget, disable: bool = False) -> None:
        super().__init__(
            total=100,
            desc="train",
            unit="%",
            bar_format="{desc}{percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]",
            disable=disable,
        )
        self.budget = budget

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
