"""Where a training step's time goes, per variant: ``torch.profiler`` over a few steps on
real batches, CPU time split into matrix products, elementwise and normalisation work,
autocast casts, the optimiser, and the rest; writes JSON (and prints a table).

    python scripts/profile_step.py --variants transformer,bahdanau --out profile.json

The shares say what is not matmul, i.e. what a faster step must remove. Name the CPU
(``lscpu``) beside the numbers: AMX, AVX512-BF16 and AVX2 machines differ.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nmt.allocator import allocator_name, preload_allocator
from nmt.build import make_optimizer
from nmt.data.prepare import prepare_data
from nmt.device import cpu_description, resolve_precision
from nmt.models import build_model
from scripts.bench import (
    VARIANTS,
    bench_data,
    model_config,
    nmt_loss,
    training_batches,
    training_step,
)

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


def profile_variant(variant: str, data: Any, precision: str, args: argparse.Namespace) -> dict:
    device = torch.device("cpu")
    tok = data.tokenizer
    torch.manual_seed(0)
    model = build_model(model_config(variant, {}), tok.src_vocab_size, tok.tgt_vocab_size)
    model.train()
    opt = make_optimizer(model.parameters(), 1e-4, device)  # as nmt-train makes it
    batches = training_batches(data, args.max_tokens, args.steps + 2)

    step = training_step(model, model, opt, nmt_loss, device, precision)
    for b in batches[:2]:  # warm-up
        step(b)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for b in batches[2:]:
            step(b)
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
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--data", default="multi30k", help="multi30k (default) or synthetic (tiny)")
    p.add_argument("--precision", default="auto", help="auto | fp32 | bf16")
    p.add_argument("--max-tokens", type=int, default=4096)
    p.add_argument("--steps", type=int, default=5, help="profiled steps per variant")
    p.add_argument("--out", default="profile.json")
    args = p.parse_args(argv)
    precision = resolve_precision(args.precision, torch.device("cpu"))
    data = prepare_data(bench_data(args.data), log=lambda m: print(m, file=sys.stderr))
    rows = [profile_variant(v, data, precision, args) for v in args.variants.split(",")]
    result = {"cpu": cpu_description(), "allocator": allocator_name(), "torch": torch.__version__,
              "threads": torch.get_num_threads(), "variants": rows}  # fmt: skip
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    cats = [c for c, _ in CATEGORIES] + ["other"]
    print(f"| variant | ms/step | {' | '.join(cats)} |")
    print(f"| --- | ---: | {' | '.join('---:' for _ in cats)} |")
    for r in rows:
        shares = " | ".join(f"{r['shares'].get(c, 0):.0%}" for c in cats)
        print(f"| {r['variant']} ({r['precision']}) | {r['ms_per_step']:.0f} | {shares} |")


if __name__ == "__main__":
    preload_allocator()  # nmt-train's malloc (tcmalloc, else jemalloc): measure what it runs
    main()
