"""Checkpoint averaging: the element-wise mean of the weights of several checkpoints of one
run (Vaswani et al. 2017, Sec. 6.1: "averaging the last 5 checkpoints"; as fairseq's
``average_checkpoints.py``, JoeyNMT's and OpenNMT's ``average_models``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from nmt.errors import CheckpointError
from nmt.runs.checkpoint import load_checkpoint

#: what must agree for weights to be averaged: the model's shape and the vocabulary
SAME = ("model_config", "tokenizer")


def same(a: Any, b: Any) -> bool:
    """Equality of checkpoint entries that may hold tensors (the tokenizer's models)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def average_checkpoints(paths: list[str | Path]) -> dict[str, Any]:
    """A checkpoint whose weights are the mean of ``paths``' (accumulated in float64, cast
    back to each tensor's dtype; integer buffers are taken from the last). Everything else
    (config, tokenizer, data, decode settings) comes from the last checkpoint, plus
    ``averaged_from``. One-line CheckpointError when they are not of one model."""
    if not paths:
        raise CheckpointError("no checkpoints to average; give two or more .pt files")
    first = load_checkpoint(paths[0])
    sums = {k: v.to(torch.float64) for k, v in first["model"].items() if v.is_floating_point()}
    steps = [first.get("step")]
    last = first
    for path in paths[1:]:
        ckpt = load_checkpoint(path)
        for key in SAME:
            if not same(ckpt[key], first[key]):
                raise CheckpointError(
                    f"{path}: its {key} differs from {paths[0]}'s; average checkpoints of one "
                    "run (its checkpoints/step_*.pt, best.pt, last.pt)"
                )
        for name, total in sums.items():
            total += ckpt["model"][name].to(torch.float64)
        steps.append(ckpt.get("step"))
        last = ckpt
    model = dict(last["model"])
    for name, total in sums.items():
        model[name] = (total / len(paths)).to(last["model"][name].dtype)
    keep = ("model_config", "tokenizer", "data", "decode", "variant", "step", "epoch")
    payload = {k: last[k] for k in keep if k in last}
    payload |= {"model": model, "averaged_from": [str(p) for p in paths], "averaged_steps": steps}
    return payload
