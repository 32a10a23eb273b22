"""``results.json``: what a finished run scored, why it stopped, what it used, how it decoded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from nmt.io import atomic_write
from nmt.system.allocator import allocator_name
from nmt.training.budget import describe_stop
from nmt.training.build import device_name

if TYPE_CHECKING:
    from nmt.training.trainer import Trainer


def run_results(
    trainer: Trainer, stop_reason: str, tests: dict[str, Any], best: Path
) -> dict[str, Any]:
    """The record of a finished run (rank 0): the model, the stop and the compute of every
    process of the run, the test scores of ``best`` and how they were decoded."""
    t = trainer
    train_seconds, wall_seconds = t.clock.train_seconds, t.clock.wall_seconds
    seconds = max(1e-9, train_seconds)
    tgt, src = t.trained_tgt_tokens, t.trained_src_tokens
    return {
        "variant": t.variant,
        "model_config": t.model_cfg,
        "corpus": t.cfg.data.name,
        "pair": f"{t.cfg.data.src}-{t.cfg.data.tgt}",
        "parameters": t.model.num_parameters(),
        # why it stopped and what it used (every process of a resumed run)
        "stop_reason": stop_reason,
        "stop_detail": describe_stop(stop_reason),
        # why each process ended, the last = this one (a process killed without a
        # checkpoint leaves no entry; "processes" still counts it if it was resumed)
        "stops": t.stops,
        "budget": t.budget.as_dict(),
        "steps": t.step,
        "epochs": t.epoch,
        "epochs_trained": round(t.epoch + t.position / max(1, len(t.sampler)), 3),
        "train_tgt_tokens": tgt,  # all ranks together
        "train_src_tokens": src,
        "train_seconds": round(train_seconds, 1),  # training only: validation excluded
        "wall_seconds": round(wall_seconds, 1),  # the training loops, validation included
        "processes": t.processes,  # 1 + the number of resumes
        "train_tgt_tokens_per_s": round(tgt / seconds, 1),
        "train_src_tokens_per_s": round(src / seconds, 1),
        "device": device_name(t.device),
        # each process's device, the last = this one (a resumed run may span machines;
        # checkpoints from before this record hold only the later processes')
        "machines": t.machines,
        "world_size": t.dist.world_size,
        "backend": torch.distributed.get_backend() if t.dist.enabled else None,
        "precision": t.precision,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "allocator": allocator_name(),
        "seed": t.tcfg.seed,
        "early_stopping_metric": t.metric,  # what chose best.pt and ended a patience stop
        "best_valid_bleu": t.best_bleu,  # best.pt's
        "best_step": t.best_step,
        # how the test scores were decoded (nmt-compare compares only matching runs)
        "decode": {**t.decoding.as_dict(), "precision": t.precision},
        "tokenizer": t.data.tokenizer.fingerprint,
        "test": tests,
        "best_checkpoint": str(best),
    }


def write_results(results: dict[str, Any], path: str | Path) -> None:
    """Write JSON atomically (temp file + rename)."""
    text = json.dumps(results, indent=2, ensure_ascii=False) + "\n"
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))
