"""Tiny synthetic runs through the real console scripts, shared by the end-to-end tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.tiny import TINY_MODELS

BIN = Path(sys.executable).parent

TINY_DATA = [
    "data=synthetic",
    "data.synthetic.task=copy",
    "data.synthetic.vocab=8",
    "data.synthetic.min_len=2",
    "data.synthetic.max_len=6",
    "data.synthetic.n_train=1500",
    "data.synthetic.n_valid=60",
    "data.synthetic.n_test=60",
    "data.tokenizer.vocab_size=24",
    "data.max_tokens=400",
]
TINY_TRANSFORMER = TINY_MODELS["transformer"]
TINY_BAHDANAU = TINY_MODELS["bahdanau"]
QUIET = ["train.log_every=10", "decode.beam=2", "train.warmup_steps=50"]


def nmt_train(env, run_dir: Path, *overrides: str, check: bool = True, timeout: int = 300):
    """``nmt-train`` into ``run_dir``; AssertionError with its stderr when it fails."""
    cmd = [str(BIN / "nmt-train"), f"hydra.run.dir={run_dir}", *overrides]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"nmt-train failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc
