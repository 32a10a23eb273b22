"""The results record of a finished run (``results.json``): what it scored, why it
stopped, what it used, how it decoded. Its format and migrations: :mod:`nmt.runs.records`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from nmt.runs.records import RESULTS_VERSION
from nmt.system.allocator import allocator_name
from nmt.system.distributed import DistInfo
from nmt.training.budget import Budget, TrainClock, describe_stop
from nmt.training.build import device_name
from nmt.training.progress import Progress
from nmt.translation.decoding import Decoding


def run_results(
    cfg: DictConfig,
    model: Any,
    progress: Progress,
    stop_reason: str,
    tests: dict[str, Any],
    *,
    model_config: dict[str, Any],
    device: torch.device,
    budget: Budget,
    clock: TrainClock,
    dist: DistInfo,
    precision: str,
    decoding: Decoding,
    tokenizer: str,
    epochs_trained: float,
    best: Path,
) -> dict[str, Any]:
    """The record of a finished run (rank 0): the model, the stop and the compute of every
    process of the run, the test scores of ``best`` and how they were decoded."""
    p = progress
    train_seconds, wall_seconds = clock.train_seconds, clock.wall_seconds
    seconds = max(1e-9, train_seconds)
    tgt, src = p.trained_tgt_tokens, p.trained_src_tokens
    return {
        "record_version": RESULTS_VERSION,
        "variant": model.variant,
        "model_config": model_config,
        "corpus": cfg.data.name,
        "pair": f"{cfg.data.src}-{cfg.data.tgt}",
        "parameters": model.num_parameters(),
        # why it stopped and what it used (every process of a resumed run)
        "stop_reason": stop_reason,
        "stop_detail": describe_stop(stop_reason),
        # why each process ended, the last = this one (a process killed without a
        # checkpoint leaves no entry; "processes" still counts it if it was resumed)
        "stops": p.stops,
        "budget": budget.as_dict(),
        "steps": p.step,
        "epochs": p.epoch,
        "epochs_trained": round(epochs_trained, 3),
        "train_tgt_tokens": tgt,  # all ranks together
        "train_src_tokens": src,
        "train_seconds": round(train_seconds, 1),  # training only: validation excluded
        "wall_seconds": round(wall_seconds, 1),  # the training loops, validation included
        "processes": p.processes,  # 1 + the number of resumes
        "train_tgt_tokens_per_s": round(tgt / seconds, 1),
        "train_src_tokens_per_s": round(src / seconds, 1),
        "device": device_name(device),
        # each process's device, the last = this one (a resumed run may span machines;
        # checkpoints from before this record hold only the later processes')
        "machines": p.machines,
        "world_size": dist.world_size,
        "backend": torch.distributed.get_backend() if dist.enabled else None,
        "precision": precision,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "allocator": allocator_name(),
        "seed": cfg.train.seed,
        "early_stopping_metric": cfg.train.early_stopping_metric,  # chose best.pt
        "best_valid_bleu": p.best_bleu,  # best.pt's
        "best_step": p.best_step,
        # how the test scores were decoded (nmt-compare compares only matching runs)
        "decode": {**decoding.as_dict(), "precision": precision},
        "tokenizer": tokenizer,
        "test": tests,
        "best_checkpoint": str(best),
    }
