"""Learning-rate schedules: inverse square root with warm-up, reduce-on-plateau, constant."""

from __future__ import annotations

from typing import Any

import torch
from torch.optim.lr_scheduler import LambdaLR, ReduceLROnPlateau

from nmt.config import TrainConfig, check_choice
from nmt.models.registry import variant as declared


def resolve_lr(cfg: TrainConfig, variant: str) -> float:
    """``train.lr``, or the variant's declared rate when it is 0."""
    return cfg.lr if cfg.lr > 0 else declared(variant).lr


def resolve_scheduler(cfg: TrainConfig, variant: str) -> str:
    """``train.scheduler``, or the variant's declared schedule when it is ``auto``."""
    check_choice("train.scheduler", cfg.scheduler)
    if cfg.scheduler != "auto":
        return cfg.scheduler
    return declared(variant).schedule


def inverse_sqrt(warmup: int):
    """lr multiplier: linear warm-up to 1, then sqrt(warmup / step) (Vaswani et al. 2017, Eq. 3)."""
    warmup = max(1, warmup)

    def factor(step: int) -> float:
        step = max(1, step)
        return step / warmup if step < warmup else (warmup / step) ** 0.5

    return factor


class Scheduler:
    """One object for all schedules: ``step()`` after each update, ``on_eval(bleu)`` after each
    validation. Its ``state_dict`` goes into checkpoints for exact resumption."""

    def __init__(self, optimizer: torch.optim.Optimizer, cfg: TrainConfig, variant: str) -> None:
        self.kind = resolve_scheduler(cfg, variant)
        self.optimizer = optimizer
        self.per_step: LambdaLR | None = None
        self.plateau: ReduceLROnPlateau | None = None
        if self.kind == "inverse_sqrt":
            self.per_step = LambdaLR(optimizer, inverse_sqrt(cfg.warmup_steps))
        elif self.kind == "plateau":
            self.plateau = ReduceLROnPlateau(
                optimizer,
                mode="max",
                factor=cfg.plateau_factor,
                patience=cfg.plateau_patience,
                min_lr=cfg.min_lr,
            )

    def step(self) -> None:
        if self.per_step is not None:
            self.per_step.step()

    def on_eval(self, valid_bleu: float) -> None:
        if self.plateau is not None:
            self.plateau.step(valid_bleu)

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def state_dict(self) -> dict[str, Any]:
        inner = self.per_step or self.plateau
        return {"kind": self.kind, "inner": inner.state_dict() if inner else {}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        inner = self.per_step or self.plateau
        if inner is not None and state.get("inner"):
            inner.load_state_dict(state["inner"])
