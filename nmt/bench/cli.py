"""Benchmark training and decoding speed of every variant; writes JSON (and a Markdown table).

For each variant at its default (Multi30k) size, and each named configuration of one
(:data:`nmt.models.registry.CONFIGURATIONS`), on the same data and device: training
throughput, MFU and peak memory beside the variant's textbook PyTorch model
(:mod:`nmt.bench.training`), then decoding speed (:mod:`nmt.bench.decoding`). The matmul
peak is measured at the start and at the end (:mod:`nmt.bench.peaks`).

Usage::

    python scripts/bench.py --out bench.json --markdown BENCHMARK.md
    python scripts/bench.py --variants transformer --precision bf16 --threads 2
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

from nmt.bench.decoding import bench_decoding, load_trained
from nmt.bench.peaks import matmul_peaks, peak_key
from nmt.bench.report import environment, markdown
from nmt.bench.training import bench_data, bench_training
from nmt.data.prepare import prepare_data
from nmt.models.registry import with_configurations
from nmt.system.device import resolve_device, resolve_precision


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--variants", default=",".join(with_configurations()))
    p.add_argument("--data", default="multi30k", help="multi30k (default) or synthetic (tiny)")
    p.add_argument("--device", default="auto")
    p.add_argument(
        "--precision",
        default="auto",
        help="auto (bf16 on CUDA and CPUs with native bf16) | fp32 | bf16, or a list: fp32,bf16",
    )
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--max-tokens", type=int, default=4096)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--windows", type=int, default=5)
    p.add_argument("--window-steps", type=int, default=10)
    p.add_argument("--decode-sentences", type=int, default=1000)
    p.add_argument("--no-decode", action="store_true")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--no-baseline", action="store_true", help="skip the textbook PyTorch models")
    p.add_argument("--peak-n", type=int, default=0, help="matmul size for the peak (0 = auto)")
    p.add_argument("--checkpoint", action="append", default=[], metavar="VARIANT=PATH")
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a model size key for every variant that has it",
    )
    p.add_argument("--out", default="bench.json")
    p.add_argument("--markdown", help="also write the table to this Markdown file")
    args = p.parse_args(argv)
    for flag, items, form in (("--checkpoint", args.checkpoint, "VARIANT=PATH"),
                              ("--model", args.model, "KEY=VALUE")):  # fmt: skip
        for kv in items:
            if "=" not in kv:
                p.error(f"{flag} {kv}: expected {form}")
    args.checkpoints = dict(kv.split("=", 1) for kv in args.checkpoint)
    try:
        args.model_overrides = {k: int(v) for k, v in (kv.split("=", 1) for kv in args.model)}
    except ValueError as e:
        p.error(f"--model: sizes are integers ({e})")
    return args


def bench_variant(
    variant: str,
    precision: str,
    data: Any,
    device: torch.device,
    trained_models: dict[str, Any],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Training throughput, then decoding speed in the same precision (unless
    ``--no-decode``); errors are recorded."""
    print(f"bench: {variant} ({precision}) training ...", file=sys.stderr)
    try:
        row = bench_training(variant, data, device, precision, args)
    except Exception as e:  # one variant's failure must not lose the others' numbers
        print(f"bench: {variant} failed: {e}", file=sys.stderr)
        return {"variant": variant, "precision": precision, "error": f"{type(e).__name__}: {e}"}
    model = row.pop("_model")
    if not args.no_decode:
        print(f"bench: {variant} decoding ...", file=sys.stderr)
        trained = variant in trained_models
        if trained:  # decoding is autocast, so one fp32 model serves every precision
            model = trained_models[variant]
        try:
            row["decoding"] = bench_decoding(model, data, device, precision, args, trained)
        except Exception as e:
            row["decoding"] = {"error": f"{type(e).__name__}: {e}"[:1000]}
    t = row["tgt_tokens_per_s"]
    print(
        f"bench: {variant}: {t['median']:,.0f} target tok/s, MFU {row['mfu']:.1%}", file=sys.stderr
    )
    return row


def write_keeping_sections(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, keeping the "## " sections of the file there that ``text``
    does not have (another benchmark's, such as ``make bench-engines``')."""
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    kept = [
        "## " + part
        for part in ("\n" + old).split("\n## ")[1:]  # a section may open the file
        if "## " + part.splitlines()[0] not in text
    ]
    path.write_text("\n".join([text.rstrip("\n"), *kept]).rstrip("\n") + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; writes ``--out`` (JSON) and ``--markdown``, prints the table."""
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(resolve_device(args.device))
    precisions = [resolve_precision(p, device) for p in args.precision.split(",")]
    n = args.peak_n or (8192 if device.type == "cuda" else 2048)
    args.peaks = matmul_peaks(device, n)
    data = prepare_data(bench_data(args.data), log=lambda m: print(m, file=sys.stderr))
    variants = args.variants.split(",")
    trained_models = load_trained(args.checkpoints, variants, device, data.tokenizer)
    rows = []
    for variant in variants:
        for precision in precisions:
            rows.append(bench_variant(variant, precision, data, device, trained_models, args))
    # the peak again at the end: a shared machine's speed drifts, so MFU is taken
    # against the best of the two measurements (the peak this device showed)
    start = dict(args.peaks)
    end = matmul_peaks(device, n)
    args.peaks = {k: max(start[k], end[k]) for k in start}
    for row in rows:
        if "error" not in row:
            row["mfu"] = row["model_tflops_per_s"] * 1e12 / args.peaks[peak_key(row["precision"])]
    result = {
        "environment": environment(device),
        "matmul_peak_tflops": {k: v / 1e12 for k, v in args.peaks.items()},
        "matmul_peak_tflops_start_end": {k: [start[k] / 1e12, end[k] / 1e12] for k in start},
        "data": args.data,
        "max_tokens": args.max_tokens,
        "command": " ".join(["python scripts/bench.py", *(sys.argv[1:] if argv is None else argv)]),
        "json": args.out,
        "variants": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    table = markdown(result)
    if args.markdown:
        write_keeping_sections(Path(args.markdown), table)
    print(table)
    return result
