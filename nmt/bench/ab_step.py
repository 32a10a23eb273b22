"""In-process A/B of a training step's run-time options; writes JSON.

Builds the variant twice from one seed (identical weights), one copy per side, and
times both on the same real batches in alternating windows (A B, then B A, ...), in
one process on one machine: drift cancels and nothing else runs in between. A side
is a comma-separated list of ``key=value``:

- ``optimizer=fused|foreach|for``: AdamW's implementation (the same update; nmt-train: fused);
- ``compile=true|false``: ``torch.compile`` the model (its compile time is reported
  apart, from the warm-up steps, so one can tell when it pays back; batches of new
  shapes may recompile inside the timed windows: give ``--warmup`` enough steps);
- ``precision=fp32|bf16``;
- ``dropout=nmt|torch``: nmt's dropout modules (:mod:`nmt.models.dropout`) or torch's.

    python scripts/ab_step.py --variant transformer --a optimizer=foreach \\
        --b optimizer=fused --out ab.json

Reports each side's target tokens/s per window and the ratio B/A window by window
(median, min, max). Name the CPU (recorded in the JSON) beside the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nmt.bench.training import LR, bench_data, model_config, trainer_step, training_batches
from nmt.data.prepare import prepare_data
from nmt.models import build_model
from nmt.models.dropout import Dropout
from nmt.system.allocator import allocator_name
from nmt.system.device import cpu_description, resolve_precision
from nmt.training.build import FUSED_ADAMW_ON_CPU
from nmt.training.step import TrainStep

OPTIONS = {"optimizer": ("foreach", "fused", "for"), "compile": ("true", "false"),
           "precision": ("fp32", "bf16", "auto"), "dropout": ("nmt", "torch")}  # fmt: skip


def parse_side(text: str) -> dict[str, str]:
    """``optimizer=fused,compile=true`` -> a dict, every key and value checked."""
    side = {"optimizer": "fused", "compile": "false", "precision": "auto", "dropout": "nmt"}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        if key not in OPTIONS or value not in OPTIONS[key]:
            choices = "; ".join(f"{k}={'|'.join(v)}" for k, v in OPTIONS.items())
            raise SystemExit(f"ab_step.py: bad option {item!r}; use {choices}")
        side[key] = value
    return side


def make_step(
    variant: str, side: dict[str, str], data: Any, device: torch.device
) -> tuple[TrainStep, str]:
    """One side's model (seed 0: both sides start from the same weights) and its step."""
    torch.manual_seed(0)
    tok = data.tokenizer
    model = build_model(model_config(variant, {}), tok.src_vocab_size, tok.tgt_vocab_size)
    model = model.to(device).train()
    if side["dropout"] == "torch":  # the same modules, torch's forward
        for module in model.modules():
            if isinstance(module, Dropout):
                module.__class__ = nn.Dropout
    impl = side["optimizer"]
    if impl == "fused" and not FUSED_ADAMW_ON_CPU:
        raise SystemExit(f"ab_step.py: torch {torch.__version__} has no fused CPU AdamW (2.4+)")
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=LR, fused=impl == "fused", foreach=impl == "foreach"
    )
    net = torch.compile(model) if side["compile"] == "true" else model
    precision = resolve_precision(side["precision"], device)
    return trainer_step(net, model, optimizer, device, precision), precision


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--variant", default="transformer")
    p.add_argument("--a", default="", help="side A, e.g. optimizer=foreach")
    p.add_argument("--b", required=True, help="side B, e.g. optimizer=fused")
    p.add_argument("--data", default="multi30k", help="multi30k (default) or synthetic (tiny)")
    p.add_argument("--max-tokens", type=int, default=4096)
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per side first")
    p.add_argument("--windows", type=int, default=6, help="timed windows per side")
    p.add_argument("--window-steps", type=int, default=8)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--out", default="ab_step.json")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    sides = {"A": parse_side(args.a), "B": parse_side(args.b)}
    data = prepare_data(bench_data(args.data), log=lambda m: print(m, file=sys.stderr))
    batches = training_batches(
        data, args.max_tokens, args.warmup + args.windows * args.window_steps
    )
    steps, precisions, warmup_s = {}, {}, {}
    for name, side in sides.items():
        steps[name], precisions[name] = make_step(args.variant, side, data, device)
        t0 = time.perf_counter()
        for b in batches[: args.warmup]:  # compile (when asked) happens here
            steps[name]([b])
        warmup_s[name] = time.perf_counter() - t0
    rates: dict[str, list[float]] = {"A": [], "B": []}
    pos = args.warmup
    for w in range(args.windows):
        chunk = batches[pos : pos + args.window_steps]
        pos += args.window_steps
        tokens = sum(b.num_tgt_tokens for b in chunk)
        for name in ("A", "B") if w % 2 == 0 else ("B", "A"):
            t0 = time.perf_counter()
            for b in chunk:
                steps[name]([b])
            rates[name].append(tokens / (time.perf_counter() - t0))
    ratio = [b / a for a, b in zip(rates["A"], rates["B"], strict=True)]
    wins = sum(r > 1 for r in ratio)  # windows where B was faster: a sign test
    result = {
        "cpu": cpu_description(),
        "allocator": allocator_name(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "variant": args.variant,
        "command": " ".join(
            ["python scripts/ab_step.py", *(sys.argv[1:] if argv is None else argv)]
        ),
        "sides": {k: v | {"precision": precisions[k]} for k, v in sides.items()},
        "warmup_s": warmup_s,
        "tgt_tok_s": rates,
        "ratio_b_over_a": {
            "median": statistics.median(ratio),
            "min": min(ratio),
            "max": max(ratio),
        },
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    r = result["ratio_b_over_a"]
    print(
        f"{args.variant} on {result['cpu']}: A {statistics.median(rates['A']):,.0f} tok/s, "
        f"B {statistics.median(rates['B']):,.0f} tok/s, B/A {r['median']:.3f} "
        f"({r['min']:.3f}-{r['max']:.3f}, B faster in {wins} of {len(ratio)} windows); "
        f"warm-up A {warmup_s['A']:.1f} s, B {warmup_s['B']:.1f} s"
    )
    return result
