"""What exact resumption and clean interruption need besides weights and optimiser.

RNG states (per rank), the SIGINT/SIGTERM flag, DataLoader workers that leave
signals to the training process, and the check that a resumed run is the same
run (same model, data order and update rule) as the one that was saved.
"""

from __future__ import annotations

import random
import signal
from contextlib import suppress
from typing import Any

import torch

from nmt.errors import ConfigError

#: data settings that decide the order and content of the training batches
DATA_ORDER_KEYS = ("name", "src", "tgt", "train", "max_len", "max_chars", "max_tokens", "seed",
                   "tokenizer", "synthetic")  # fmt: skip
#: training settings that decide the update rule and batch order
TRAIN_ORDER_KEYS = ("seed", "accum_steps", "scheduler", "early_stopping_metric")


def rng_state(device: torch.device) -> dict[str, Any]:
    state = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


class Interrupted(Exception):
    """A signal stopped training and its checkpoint is saved. ``nmt-train`` then exits
    with 128 + the signal's number, as a shell reports a process the signal ended, so that
    a sweep stops instead of starting its next run and a script sees the run unfinished."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by signal {signum}")
        self.signum = signum


class StopFlag:
    """Set by SIGINT / SIGTERM; training saves a checkpoint and exits at the next update.

    A second signal of the same kind gets the default behaviour (a second
    Ctrl-C aborts at once).
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with suppress(ValueError):  # not the main thread: no handler
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.signum = signum
        signal.signal(signum, self._old.get(signum, signal.SIG_DFL))

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def ignore_signals_in_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: Ctrl-C / SIGTERM are the training process's to handle.

    Without it a signal sent to the process group kills the workers and the
    loader raises before the trainer can save its checkpoint.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def check_resumable(
    path: object,
    ckpt: dict[str, Any],
    model_cfg: dict[str, Any],
    data_cfg: dict[str, Any],
    train_cfg: dict[str, Any],
    scheduler_kind: str,
    world_size: int,
) -> None:
    """One-line ConfigError when the checkpoint cannot continue *this* run exactly."""
    if ckpt["model_config"] != model_cfg:
        raise ConfigError(
            f"{path}: was trained with model config {ckpt['model_config']}, not {model_cfg}; "
            "resume with the same model settings"
        )
    for group, saved, now, keys in (
        ("data", ckpt.get("data", {}), data_cfg, DATA_ORDER_KEYS),
        ("train", ckpt.get("train_config", {}), train_cfg, TRAIN_ORDER_KEYS),
    ):
        for key in keys:
            if key in saved and saved[key] != now.get(key):
                raise ConfigError(
                    f"{path}: {group}.{key} was {saved[key]!r}, now {now.get(key)!r}; "
                    f"resume with the {group} settings of the saved run"
                )
    if ckpt["scheduler"].get("kind") != scheduler_kind:
        raise ConfigError(
            f"{path}: its lr schedule is {ckpt['scheduler'].get('kind')!r}, this run's is "
            f"{scheduler_kind!r}; resume with the same train.scheduler"
        )
    saved_world = ckpt.get("world_size", 1)
    if saved_world != world_size:
        raise ConfigError(
            f"{path}: was trained on {saved_world} process(es), this run has {world_size}; "
            "resume with the same torchrun --nproc_per_node"
        )
