"""Benchmark training and decoding speed of every variant; writes JSON (and a Markdown table).

For each variant at its default (Multi30k) size, on the same data and device:

- training throughput: real target and source tokens/s in steady state (after
  warm-up steps), the median of several timed windows, with min and max;
- model FLOPs utilisation: FLOPs of a training step counted by
  ``torch.utils.flop_counter`` on the CPU (device-independent), times steps/s,
  over the matmul peak measured on the same device in the same run (the best of
  a measurement at the start and one at the end);
- peak memory (CUDA: max allocated; CPU: the process's max RSS so far);
- decoding speed on the test set (sentences/s, greedy and beam 5) through
  ``nmt-translate``'s own path (:class:`nmt.translation.translator.Translator`), in each
  precision benchmarked, with a trained checkpoint when given
  (``--checkpoint variant=PATH``; then the outputs' sacreBLEU is recorded too, so a
  faster precision shows what it costs), else with the untrained model, whose
  outputs run to the length limit (a worst case).

Usage::

    python scripts/bench.py --out bench.json --markdown BENCHMARK.md
    python scripts/bench.py --variants transformer --precision bf16 --threads 2
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nmt import PAD_ID
from nmt.data.config import DataConfig, SyntheticConfig, TokenizerConfig
from nmt.data.prepare import prepare_data
from nmt.evaluation.metrics import corpus_scores
from nmt.models import VARIANTS as REGISTERED
from nmt.models import build_model
from nmt.runs.checkpoint import load_translator
from nmt.system.allocator import allocator_name, preload_allocator, release_free_memory
from nmt.system.device import autocast, cpu_description, resolve_device, resolve_precision
from nmt.training.build import make_optimizer
from nmt.training.loss import smoothed_cross_entropy
from nmt.translation.translator import Translator
from scripts.bench_baseline import baseline_loss, build_baseline

#: benchmark names that are a variant with settings changed (benchmarked after it)
ALIASES = {"luong-nofeed": ("luong", {"input_feeding": False})}
VARIANTS = tuple(
    name
    for variant in REGISTERED
    for name in (variant, *(a for a, (base, _) in ALIASES.items() if base == variant))
)


def reset_peak_rss() -> None:
    """Start a new peak of resident memory: free pages back to the system, then the
    kernel's high-water mark (VmHWM) reset to the current RSS (Linux ``clear_refs`` 5)."""
    gc.collect()
    release_free_memory()
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mb() -> float | None:
    """The highest resident memory since :func:`reset_peak_rss` (Linux), in MB."""
    try:
        status = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return None
    line = next((x for x in status if x.startswith("VmHWM:")), None)
    return None if line is None else int(line.split()[1]) / 1024


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device: torch.device, dtype: torch.dtype, n: int, reps: int = 10) -> float:
    """Best FLOP/s of an n x n x n matrix product on ``device`` (2 n^3 FLOPs each)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    sync(device)
    best = 0.0
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        sync(device)
        best = max(best, 2 * n**3 / (time.perf_counter() - t0))
    return best


def matmul_peaks(device: torch.device, n: int) -> dict[str, float]:
    """The fp32 and bf16 matmul peaks (FLOP/s) of ``device``."""
    return {
        "fp32": matmul_peak(device, torch.float32, n),
        "bf16": matmul_peak(device, torch.bfloat16, n),
    }


def peak_key(precision: str) -> str:
    """The matmul peak a precision is measured against."""
    return "bf16" if precision == "bf16" else "fp32"


def model_config(variant: str, overrides: dict[str, Any]) -> dict[str, Any]:
    name, fixed = ALIASES.get(variant, (variant, {}))
    cfg = dataclasses.asdict(REGISTERED[name].config())
    cfg.update({k: v for k, v in overrides.items() if k in cfg})
    return cfg | fixed


def nmt_loss(logits: torch.Tensor, tgt_out: torch.Tensor) -> torch.Tensor:
    """The trainer's loss: summed, label-smoothed (0.1) token cross-entropy."""
    return smoothed_cross_entropy(
        logits.flatten(0, 1), tgt_out.flatten(), smoothing=0.1, ignore_index=PAD_ID
    )


def training_step(net, model, optimizer, loss_fn, device: torch.device, precision: str):
    """One update as the trainer makes it: forward ``net`` under autocast, ``loss_fn`` per
    target token, backward, clip ``model``'s gradient norm at 1, AdamW step."""

    def step(batch: Any) -> None:
        batch = batch.to(device, non_blocking=True)
        with autocast(device, precision):
            logits, _ = net(batch.src, batch.src_mask, batch.tgt_in)
        (loss_fn(logits, batch.tgt_out) / batch.num_tgt_tokens).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


#: the textbook model each family is compared with (scripts/bench_baseline.py)
BASELINE_NAMES = {
    "transformer": "nn.Transformer",
    "transformer_pooled": "nn.Transformer, mean-pooled memory",
    "seq2seq": "nn.GRU encoder, GRUCell loop",
    "bahdanau": "nn.GRU encoder, GRUCell loop, additive attention",
    "luong": "nn.GRU encoder, GRUCell loop, general score, input feeding",
}


def registered(variant: str) -> str:
    """The registered variant behind a benchmark name (``luong-nofeed`` -> ``luong``)."""
    return ALIASES.get(variant, (variant, {}))[0]


def baseline_step(variant: str, tok: Any, device: torch.device, precision: str,
                  args: argparse.Namespace):  # fmt: skip
    """The textbook model's training step (AdamW, clipping, the same precision) and its
    parameter count."""
    cfg = model_config(variant, args.model_overrides)
    torch.manual_seed(0)
    base = build_baseline(cfg, tok.src_vocab_size, tok.tgt_vocab_size).to(device).train()
    opt = torch.optim.AdamW(base.parameters(), lr=1e-4)
    step = training_step(base, base, opt, baseline_loss, device, precision)
    return step, sum(p.numel() for p in base.parameters())


def step_flops(model: torch.nn.Module, batch: Any) -> int:
    """FLOPs of one forward + backward pass, counted on a CPU copy of the model."""
    from copy import deepcopy

    from torch.utils.flop_counter import FlopCounterMode

    cpu_model = deepcopy(model).to("cpu").float().train()
    b = batch.to("cpu")
    with FlopCounterMode(display=False) as counter:
        logits, _ = cpu_model(b.src, b.src_mask, b.tgt_in)
        F.cross_entropy(logits.flatten(0, 1), b.tgt_out.flatten(), ignore_index=PAD_ID).backward()
    return int(counter.get_total_flops())


def training_batches(data: Any, max_tokens: int, n: int, seed: int = 1) -> list[Any]:
    """The first ``n`` training batches of ``data`` (shuffled with ``seed``; every benchmark
    script draws them with seed 1), collated up front so that timing leaves out batching;
    when ``n`` is larger than an epoch, the sampler's next epoch (its next shuffle) follows."""
    if n < 1:
        raise ValueError(f"training_batches: n must be at least 1, got {n}")
    sampler, collate = data.make_batches("train", max_tokens=max_tokens, shuffle=True, seed=seed)
    encoded = data.encoded["train"]
    batches: list[Any] = []
    while len(batches) < n:
        size = len(batches)
        for idx in sampler:
            batches.append(collate([encoded[i] for i in idx]))
            if len(batches) == n:
                break
        if len(batches) == size:
            raise ValueError("training_batches: the training split yields no batches")
    return batches


def bench_training(
    variant: str,
    data: Any,
    device: torch.device,
    precision: str,
    args: argparse.Namespace,
) -> dict[str, Any]:
    reset_peak_rss()
    torch.manual_seed(0)
    tok = data.tokenizer
    model = build_model(
        model_config(variant, args.model_overrides), tok.src_vocab_size, tok.tgt_vocab_size
    ).to(device)
    optimizer = make_optimizer(model.parameters(), 1e-4, device)  # as nmt-train makes it
    net = torch.compile(model) if args.compile else model
    prefetched = training_batches(
        data, args.max_tokens, args.warmup + args.windows * args.window_steps
    )
    flops_per_step = statistics.mean(step_flops(model, b) for b in prefetched[:3])
    tgt_per_step = statistics.mean(b.num_tgt_tokens for b in prefetched[:3])
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    steps = {"nmt": training_step(net, model, optimizer, nmt_loss, device, precision)}
    if not args.no_baseline:
        steps["baseline"], baseline_params = baseline_step(variant, tok, device, precision, args)

    def timed(step, chunk: list) -> float:
        sync(device)
        t0 = time.perf_counter()
        for b in chunk:
            step(b)
        sync(device)
        return time.perf_counter() - t0

    model.train()
    for step in steps.values():
        for b in prefetched[: args.warmup]:
            step(b)
    sync(device)
    windows, base_windows = [], []
    pos = args.warmup
    for w in range(args.windows):
        chunk = prefetched[pos : pos + args.window_steps]
        pos += args.window_steps
        # the same batches for both, in alternating order (ABBA): drift cancels out
        order = list(steps) if w % 2 == 0 else list(reversed(steps))
        seconds = {name: timed(steps[name], chunk) for name in order}
        dt = seconds["nmt"]
        tgt_tokens = sum(b.num_tgt_tokens for b in chunk)
        windows.append(
            {
                "tgt_tok_s": tgt_tokens / dt,
                "src_tok_s": sum(int(b.src_lengths.sum()) for b in chunk) / dt,
                "steps_s": len(chunk) / dt,
                "flops_s": len(chunk) * flops_per_step / dt,
            }
        )
        if "baseline" in seconds:
            base_windows.append({"tgt_tok_s": tgt_tokens / seconds["baseline"],
                                 "speedup": seconds["baseline"] / dt})  # fmt: skip
    tgt = [w["tgt_tok_s"] for w in windows]
    flops = statistics.median(w["flops_s"] for w in windows)
    peak = args.peaks[peak_key(precision)]
    padded = sum(b.tgt_out.numel() for b in prefetched)
    real = sum(b.num_tgt_tokens for b in prefetched)
    out = {
        "variant": variant,
        "parameters": model.num_parameters(),
        "precision": precision,
        "tgt_tokens_per_s": {"min": min(tgt), "median": statistics.median(tgt), "max": max(tgt)},
        "src_tokens_per_s": statistics.median(w["src_tok_s"] for w in windows),
        "steps_per_s": statistics.median(w["steps_s"] for w in windows),
        "tgt_tokens_per_step": tgt_per_step,
        "flops_per_step": flops_per_step,
        "model_tflops_per_s": flops / 1e12,
        "mfu": flops / peak,
        "target_padding_fraction": 1 - real / max(1, padded),
        "windows": len(windows),
        "window_steps": args.window_steps,
    }
    if base_windows:
        base = [w["tgt_tok_s"] for w in base_windows]
        ratio = [w["speedup"] for w in base_windows]
        out["baseline"] = {
            "model": BASELINE_NAMES[registered(variant)],
            "parameters": baseline_params,
            "tgt_tokens_per_s": {"min": min(base), "median": statistics.median(base),
                                 "max": max(base)},
            # nmt's speed over the baseline's, window by window on the same batches
            "speedup": {"min": min(ratio), "median": statistics.median(ratio), "max": max(ratio)},
        }  # fmt: skip
    if device.type == "cuda":
        out["peak_memory_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        out["peak_rss_mb"] = peak_rss_mb()  # this variant's training, since reset_peak_rss()
    return out | {"_model": model}


def bench_decoding(
    model: Any,
    data: Any,
    device: torch.device,
    precision: str,
    args: argparse.Namespace,
    trained: bool,
) -> dict[str, Any]:
    translator = Translator(model.eval(), data.tokenizer, device, precision=precision)
    test = data.text["test"]
    sentences = test.src[: args.decode_sentences]
    refs = [list(r[: len(sentences)]) for r in test.refs]
    out: dict[str, Any] = {"sentences": len(sentences), "trained": trained, "precision": precision}
    reset_peak_rss()
    for name, beam in (("greedy", 1), ("beam5", 5)):
        translator.translate(sentences[:16], translator.decoding.replace(beam=beam))  # warm-up
        sync(device)
        t0 = time.perf_counter()
        hyps = translator.translate(sentences, translator.decoding.replace(beam=beam))
        sync(device)
        dt = time.perf_counter() - t0
        out[f"{name}_sent_per_s"] = len(sentences) / dt
        out[f"{name}_mean_output_tokens"] = statistics.mean(len(h[0].tokens) for h in hyps)
        if trained:  # the outputs' quality in this precision: sacreBLEU against the test refs
            out[f"{name}_bleu"] = corpus_scores([h[0].text for h in hyps], refs)["bleu"]
    if device.type == "cpu":
        out["peak_rss_mb"] = peak_rss_mb()  # the process while translating (model included)
    return out


def load_trained(
    checkpoints: dict[str, str], variants: list[str], device: torch.device, tokenizer: Any
) -> dict[str, Any]:
    """Each ``--checkpoint`` variant's model, loaded once before anything is timed.

    Refused with a one-line error: a variant that is not benchmarked, or a checkpoint that
    does not tokenize as the benchmark data does (its outputs are decoded and scored with
    that tokenizer)."""
    models = {}
    for variant, path in checkpoints.items():
        if variant not in variants:
            raise SystemExit(
                f"error: --checkpoint {variant}={path}: {variant} is not among --variants "
                f"({','.join(variants)}); name one of them"
            )
        translator = load_translator(path, device=str(device))
        if translator.tokenizer.fingerprint != tokenizer.fingerprint:
            raise SystemExit(
                f"error: --checkpoint {path}: trained with another SentencePiece model than "
                "the benchmark data's; give a checkpoint of a run on that data (--data)"
            )
        models[variant] = translator.model
    return models


def environment(device: torch.device) -> dict[str, Any]:
    env = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "cpu": cpu_description(),
        "cpu_count": os.cpu_count(),
        "allocator": allocator_name(),  # nmt-train's (NMT_ALLOCATOR), for nmt and baseline alike
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
        env["cuda"] = torch.version.cuda
    return env


def baseline(row: dict[str, Any]) -> str:
    """The textbook model's median speed and nmt's speed-up over it (min-max over windows)."""
    b = row.get("baseline")
    if not b:
        return "– | –"
    x = b["speedup"]
    return (f"{b['tgt_tokens_per_s']['median']:,.0f} | {x['median']:.2f}× "
            f"({x['min']:.2f}–{x['max']:.2f})")  # fmt: skip


def memory(row: dict[str, Any]) -> str:
    """Peak resident memory of training and of translating (CPU), or the CUDA peak."""
    if "peak_memory_mb" in row:
        return f"{row['peak_memory_mb']:,.0f} (CUDA)"
    train, decode = row.get("peak_rss_mb"), row.get("decoding", {}).get("peak_rss_mb")
    return " / ".join("–" if v is None else f"{v:,.0f}" for v in (train, decode))


def markdown(result: dict[str, Any]) -> str:
    env = result["environment"]
    peaks = result["matmul_peak_tflops"]
    lines = [
        "# Benchmark",
        "",
        f"Written by `{result['command']}`; the raw numbers are in `{result['json']}`.",
        "",
        f"Device: {env.get('gpu', env['cpu'])} ({env['device']}), torch {env['torch']}, "
        f"{env['threads']} threads, malloc: {env.get('allocator', '?')} (nmt and the textbook "
        f"models alike, as nmt-train preloads it), {env['date']}.",
        f"Matmul peak measured in this run (best of the start and the end): "
        f"fp32 {peaks['fp32'] * 1e3:.0f} GFLOP/s, bf16 {peaks['bf16'] * 1e3:.0f} GFLOP/s.",
        f"Data: {result['data']}, max_tokens {result['max_tokens']}.",
        "",
        "| variant | params | precision | target tok/s (min / median / max) | source tok/s "
        "| MFU | padding | textbook PyTorch tok/s | nmt ÷ textbook | greedy sent/s "
        "| beam-5 sent/s | peak RSS train / translate (MB) |",
        "| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in result["variants"]:
        if "error" in r:
            lines.append(f"| {r['variant']} | failed: {r['error'][:80]} | | | | | | | | | | |")
            continue
        t = r["tgt_tokens_per_s"]
        d = r.get("decoding", {})
        note = "" if d.get("trained", False) else " (untrained)"

        def speed(name: str, d: dict = d, note: str = note) -> str:
            if f"{name}_sent_per_s" not in d:
                return "–"
            bleu = f" (BLEU {d[f'{name}_bleu']:.1f})" if f"{name}_bleu" in d else ""
            return f"{d[f'{name}_sent_per_s']:.0f}{note}{bleu}"

        lines.append(
            f"| {r['variant']} | {r['parameters'] / 1e6:.1f}M | {r['precision']} | "
            f"{t['min']:,.0f} / {t['median']:,.0f} / {t['max']:,.0f} | "
            f"{r['src_tokens_per_s']:,.0f} | {r['mfu']:.1%} | "
            f"{r['target_padding_fraction']:.0%} | {baseline(r)} | "
            f"{speed('greedy')} | {speed('beam5')} | {memory(r)} |"
        )
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--variants", default=",".join(VARIANTS))
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


def bench_data(name: str) -> DataConfig:
    if name == "synthetic":
        return DataConfig(
            name="synthetic",
            src="src",
            tgt="tgt",
            train="train",
            valid="valid",
            test="test",
            tokenizer=TokenizerConfig(vocab_size=32),
            synthetic=SyntheticConfig(
                task="reverse",
                vocab=10,
                min_len=3,
                max_len=12,
                n_train=2000,
                n_valid=50,
                n_test=100,
            ),
        )
    return DataConfig(name=name)


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


def main(argv: list[str] | None = None) -> dict[str, Any]:
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
        Path(args.markdown).write_text(table)
    print(table)
    return result


if __name__ == "__main__":
    preload_allocator()  # nmt-train's malloc (tcmalloc, else jemalloc): measure what it runs
    main()
