"""Where a training step's time goes, per variant: ``torch.profiler`` over a few steps on
real batches, CPU time split into matrix products, elementwise and normalisation work,
autocast casts, the optimiser, and the rest; writes JSON (and prints a table).

    python scripts/profile_step.py --variants transformer,bahdanau --out profile.json

The shares say what is not matmul, i.e. what a faster step must remove. Name the CPU
(``lscpu``) beside the numbers: AMX, AVX512-BF16 and AVX2 machines differ.

With ``--baseline`` the textbook PyTorch model of each variant (:mod:`nmt.models.textbook`,
the one ``make bench`` times beside it) is profiled on the same batches too, and each
variant gets Amdahl's bound on ``nmt``'s speed-up over it: the textbook step's time over
``nmt``'s matmul time, what ``nmt`` would reach if everything but its matrix products cost
nothing (both do the same products, so neither can go below that time).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile

from nmt.bench.training import (
    LR,
    bench_data,
    model_config,
    textbook_step,
    trainer_step,
    training_batches,
)
from nmt.data.prepare import prepare_data
from nmt.models import build_model
from nmt.models.registry import with_configurations
from nmt.system.allocator import allocator_name
from nmt.system.device import cpu_description, resolve_precision
from nmt.training.build import make_optimizer
from nmt.training.step import TrainStep

#: operator name fragments -> category (first match wins)
CATEGORIES = (
    ("matmul", ("mm", "matmul", "linear", "addmm", "bmm", "baddbmm", "_mkldnn", "onednn",
                "scaled_dot_product", "_flash", "gru_cell", "lstm_cell", "_thnn_fused")),
    ("optimizer", ("adam", "_foreach", "clip_grad", "_amp_foreach")),
    ("cast", ("to_copy", "aten::to", "_to_copy", "copy_", "type_as")),
    ("normalisation", ("layer_norm", "native_layer_norm", "softmax", "log_softmax")),
    ("loss", ("nll_loss", "cross_entropy", "gather", "scatter")),
    ("elementwise", ("add", "mul", "sub", "div", "tanh", "sigmoid", "relu", "gelu", "dropout",
                     "where", "masked_fill", "exp", "sum", "mean", "neg", "rsqrt", "pow")),
    ("memory", ("cat", "stack", "index", "embedding", "select", "slice", "view", "reshape",
                "transpose", "permute", "contiguous", "clone", "empty", "zeros", "fill_", "pad")),
)  # fmt: skip


def category(name: str) -> str:
    low = name.lower()
    for cat, keys in CATEGORIES:
        if any(k in low for k in keys):
            return cat
    return "other"


def variant_step(variant: str, data: Any, precision: str) -> TrainStep:
    """``nmt``'s training step for ``variant``, its optimiser as ``nmt-train`` makes it."""
    device = torch.device("cpu")
    tok = data.tokenizer
    torch.manual_seed(0)
    model = build_model(model_config(variant, {}), tok.src_vocab_size, tok.tgt_vocab_size)
    model.train()
    opt = make_optimizer(model.parameters(), LR, device)
    return trainer_step(model, model, opt, device, precision)


def profile_variant(variant: str, step: TrainStep, batches: list, precision: str) -> dict:
    """Self CPU time of each operator over ``batches[2:]`` (the first two warm up)."""
    for b in batches[:2]:  # warm-up
        step([b])
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for b in batches[2:]:
            step([b])
    totals: dict[str, float] = defaultdict(float)
    top = []
    for event in prof.key_averages():
        # self time: each microsecond counted once, in the operator that spent it
        totals[category(event.key)] += event.self_cpu_time_total
        top.append((event.self_cpu_time_total, event.key, event.count))
    total = sum(totals.values())
    top.sort(reverse=True)
    return {
        "variant": variant,
        "precision": precision,
        "steps": len(batches) - 2,
        "ms_per_step": total / 1e3 / max(1, len(batches) - 2),
        "shares": {
            k: round(v / total, 4) for k, v in sorted(totals.items(), key=lambda kv: -kv[1])
        },
        "top_ops": [{"op": k, "self_ms": round(t / 1e3, 2), "calls": n} for t, k, n in top[:15]],
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--variants", default=",".join(with_configurations()))
    p.add_argument("--data", default="multi30k", help="multi30k (default) or synthetic (tiny)")
    p.add_argument("--precision", default="auto", help="auto | fp32 | bf16")
    p.add_argument("--max-tokens", type=int, default=4096)
    p.add_argument("--steps", type=int, default=5, help="profiled steps per variant")
    p.add_argument("--baseline", action="store_true", help="also profile the textbook models")
    p.add_argument("--out", default="profile.json")
    args = p.parse_args(argv)
    precision = resolve_precision(args.precision, torch.device("cpu"))
    data = prepare_data(bench_data(args.data), log=lambda m: print(m, file=sys.stderr))
    rows = []
    for v in args.variants.split(","):
        batches = training_batches(data, args.max_tokens, args.steps + 2)
        row = profile_variant(v, variant_step(v, data, precision), batches, precision)
        if args.baseline:
            step, _ = textbook_step(v, data.tokenizer, torch.device("cpu"), precision, {})
            base = profile_variant(v, step, batches, precision)
            matmul_ms = row["ms_per_step"] * row["shares"].get("matmul", 0.0)
            row["baseline"] = base
            row["speedup"] = base["ms_per_step"] / row["ms_per_step"]
            row["speedup_bound"] = base["ms_per_step"] / matmul_ms if matmul_ms else None
        rows.append(row)
    result = {"cpu": cpu_description(), "allocator": allocator_name(), "torch": torch.__version__,
              "threads": torch.get_num_threads(), "command": " ".join(sys.argv),
              "variants": rows}  # fmt: skip
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    cats = [c for c, _ in CATEGORIES] + ["other"]
    print(f"| variant | ms/step | {' | '.join(cats)} |")
    print(f"| --- | ---: | {' | '.join('---:' for _ in cats)} |")
    for r in rows:
        for name, row in ((r["variant"], r), (f"{r['variant']}, textbook", r.get("baseline"))):
            if row is not None:
                shares = " | ".join(f"{row['shares'].get(c, 0):.0%}" for c in cats)
                print(f"| {name} ({r['precision']}) | {row['ms_per_step']:.0f} | {shares} |")
    for r in rows:
        if "baseline" in r:
            print(
                f"{r['variant']}: nmt {r['speedup']:.2f}x the textbook step; at most "
                f"{r['speedup_bound']:.2f}x if all but its matmuls cost nothing (Amdahl)"
            )
