"""Learning-rate schedules: inverse square root with warm-up, reduce-on-plateau (with or
without a linear warm-up), constant."""

from __future__ import annotations

from typing import Any

import torch
from torch.optim.lr_scheduler import LambdaLR, ReduceLROnPlateau

from nmt.models.registry import variant as declared
from nmt.training.config import TrainConfig, check_choice


def resolve_lr(cfg: TrainConfig, variant: str) -> float:
    """``train.lr``, or the variant's declared rate when it is 0."""
    return cfg.lr if cfg.lr > 0 else declared(variant).lr


def resolve_scheduler(cfg: TrainConfig, variant: str) -> str:
    """``train.scheduler``, or the variant's declared schedule when it is ``auto``."""
    check_choice("train.scheduler", cfg.scheduler)
    if cfg.scheduler != "auto":
        return cfg.scheduler
    return declared(variant).schedule


def resolve_defaults(cfg: Any) -> None:
    """Replace the config's "the variant's default" placeholders (``train.lr: 0``,
    ``train.scheduler: auto``) by the values the run uses, so that config.yaml, the
    checkpoints and TensorBoard record what ran."""
    variant = cfg.model.name
    cfg.train.lr = resolve_lr(cfg.train, variant)
    cfg.train.scheduler = resolve_scheduler(cfg.train, variant)


def metric_mode(cfg: TrainConfig) -> str:
    """``max`` when the early-stopping metric is BLEU, ``min`` when it is the loss."""
    check_choice("train.early_stopping_metric", cfg.early_stopping_metric)
    return "min" if cfg.early_stopping_metric == "loss" else "max"


def inverse_sqrt(warmup: int):
    """lr multiplier: linear warm-up to 1, then sqrt(warmup / step) (Vaswani et al. 2017, Eq. 3)."""
    warmup = max(1, warmup)

    def factor(step: int) -> float:
        step = max(1, step)
        return step / warmup if step < warmup else (warmup / step) ** 0.5

    return factor


class WarmupPlateau:
    """Linear warm-up to the peak rate, then the peak until the validation metric stalls
    (BLEU, or the loss with ``train.early_stopping_metric=loss``), when the rate is
    multiplied by ``factor`` (at least ``min_lr``). The stall test is
    ``ReduceLROnPlateau``'s (relative threshold 1e-4, no cool-down; mode max for BLEU, min
    for the loss), so ``plateau`` and ``warmup_plateau`` decay alike once warmed up: one
    schedule every variant can share, the Transformer's warm-up included."""

    threshold = 1e-4

    def __init__(self, optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> None:
        self.optimizer = optimizer
        self.warmup = max(1, cfg.warmup_steps)
        self.factor, self.patience, self.min_lr = (
            cfg.plateau_factor,
            cfg.plateau_patience,
            cfg.min_lr,
        )
        self.peaks = [group["lr"] for group in optimizer.param_groups]
        self.scale = 1.0  # product of the decays so far
        self.sign = -1.0 if metric_mode(cfg) == "min" else 1.0  # a loss: lower is better
        self.best = float("-inf")  # of sign * metric
        self.bad = 0  # validations since the best
        self.steps = 0
        self._apply()

    def _apply(self) -> None:
        warm = min(1.0, max(1, self.steps) / self.warmup)
        for group, peak in zip(self.optimizer.param_groups, self.peaks, strict=True):
            group["lr"] = max(self.min_lr, peak * self.scale) * warm

    def step(self) -> None:
        self.steps += 1
        self._apply()

    def on_eval(self, value: float) -> None:
        value *= self.sign
        # ReduceLROnPlateau's relative test: beyond the best by threshold x |best|
        first = self.best == float("-inf")
        if first or value > self.best + self.threshold * abs(self.best):
            self.best, self.bad = value, 0
            return
        self.bad += 1
        if self.bad > self.patience:
            self.scale *= self.factor
            self.bad = 0
            self._apply()

    def state_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("peaks", "scale", "best", "bad", "steps", "sign")}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, value)
        self._apply()


class Scheduler:
    """One object for all schedules: ``step()`` after each update, ``on_eval(metric)`` after
    each validation. Its ``state_dict`` goes into checkpoints for exact resumption."""

    def __init__(self, optimizer: torch.optim.Optimizer, cfg: TrainConfig, variant: str) -> None:
        self.kind = resolve_scheduler(cfg, variant)
        self.optimizer = optimizer
        self.per_step: LambdaLR | None = None
        self.plateau: ReduceLROnPlateau | None = None
        self.warm_plateau: WarmupPlateau | None = None
        if self.kind == "warmup_plateau":
            self.warm_plateau = WarmupPlateau(optimizer, cfg)
        elif self.kind == "inverse_sqrt":
            self.per_step = LambdaLR(optimizer, inverse_sqrt(cfg.warmup_steps))
        elif self.kind == "plateau":
            self.plateau = ReduceLROnPlateau(
                optimizer,
                mode=metric_mode(cfg),
                factor=cfg.plateau_factor,
                patience=cfg.plateau_patience,
                min_lr=cfg.min_lr,
            )

    def step(self) -> None:
        if self.per_step is not None:
            self.per_step.step()
        if self.warm_plateau is not None:
            self.warm_plateau.step()

    def on_eval(self, value: float) -> None:
        """After a scheduled validation: ``value`` is its ``train.early_stopping_metric``
        (validation BLEU, or validation loss)."""
        if self.plateau is not None:
            self.plateau.step(value)
        if self.warm_plateau is not None:
            self.warm_plateau.on_eval(value)

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def state_dict(self) -> dict[str, Any]:
        inner = self.per_step or self.plateau or self.warm_plateau
        return {"kind": self.kind, "inner": inner.state_dict() if inner else {}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        inner = self.per_step or self.plateau or self.warm_plateau
        if inner is not None and state.get("inner"):
            inner.load_state_dict(state["inner"])
