"""The benchmark's record of its environment and its Markdown table (BENCHMARK.md)."""

from __future__ import annotations

import os
import platform
import time
from typing import Any

import torch

from nmt.system.allocator import allocator_name
from nmt.system.device import cpu_description


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
    """The benchmark's result as BENCHMARK.md's table, its command and device above it."""
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
