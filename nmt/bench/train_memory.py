"""Resident memory of a real training run over its epochs; writes JSON.

Runs ``nmt-train`` (any overrides) as a child process, samples its resident set
size (``VmRSS`` of /proc/PID/status) every ``--interval`` seconds and notes when
each epoch's validation record reaches the run directory (:class:`RunDir`). The check:
no later epoch takes RSS more than ``--tolerance`` (10%) above the highest it reached in
the first, and, with ``--max-peak-mb``, no sample above that bound (an allocator that
holds what it freed can grow tenfold within the first epoch, which the growth check does
not see).

    python scripts/bench_memory.py --out docs/results/bench/memory.json -- \\
        train.max_epochs=4 train.eval_max_sentences=200
    MALLOC_MMAP_THRESHOLD_=131072 python scripts/bench_memory.py --out a.json -- ...

Linux only (/proc). Everything after ``--`` goes to ``nmt-train``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from nmt.runs.run_dir import RunDir

BIN = Path(sys.executable).parent


def rss_mb(pid: int) -> float | None:
    """Resident set size of ``pid`` in MB (None once it has exited)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def measure(overrides: list[str], run_dir: Path, interval: float) -> dict[str, Any]:
    """Train with ``overrides`` into ``run_dir``, sampling RSS; returns the samples."""
    cmd = [str(BIN / "nmt-train"), f"hydra.run.dir={run_dir}", "train.eval_every=0", *overrides]
    print("+", shlex.join(cmd), file=sys.stderr)
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples: list[tuple[float, float]] = []
    epochs: list[dict[str, Any]] = []
    run = RunDir(run_dir)

    def new_epochs(now: float) -> None:
        # a line still being written is left out: the next read has it
        for record in run.validations()[len(epochs) :]:
            epochs.append({"epoch": record.epoch, "step": record.step, "seconds": now,
                           "rss_mb": samples[-1][1] if samples else None})  # fmt: skip
            print(f"epoch {record.epoch}: {epochs[-1]['rss_mb']} MB at {now} s",
                  file=sys.stderr)  # fmt: skip

    while proc.poll() is None:
        rss = rss_mb(proc.pid)
        now = round(time.monotonic() - start, 1)
        if rss is not None:
            samples.append((now, round(rss, 1)))
        new_epochs(now)
        time.sleep(interval)
    new_epochs(round(time.monotonic() - start, 1))  # a validation just before the exit
    if proc.returncode != 0:
        log = run.log_path.read_text(errors="replace")[-2000:]
        raise SystemExit(f"nmt-train failed ({proc.returncode}):\n{log}")
    results = run.read_results()
    speed = {k: results[k] for k in ("train_tgt_tokens_per_s", "train_seconds", "steps")}
    return {"command": shlex.join(cmd), "samples": samples, "epochs": epochs, "speed": speed,
            "allocator": results.get("allocator"), "cpu": results.get("device")}  # fmt: skip


def verdict(
    result: dict[str, Any], tolerance: float, max_peak_mb: float | None = None
) -> dict[str, Any]:
    """Each epoch's highest RSS (and its lowest), and the growth of the highest after the
    first epoch over the first epoch's.

    The first epoch's peak is the level of reference: by its end every batch shape has
    been trained once, so a process that does not grow never needs more; within an epoch
    RSS rises and falls with the batches and with the pages given back after validation.
    """
    epochs, samples = result["epochs"], result["samples"]
    if not epochs:
        return {"ok": None, "why": "the run validated no epoch; train longer"}
    bounds = [0.0, *(e["seconds"] for e in epochs)]
    per_epoch = []
    for (start, end), epoch in zip(itertools.pairwise(bounds), epochs, strict=True):
        # two validations can fall between two samples; such an epoch's RSS is the
        # sample its validation was seen with
        window = [rss for t, rss in samples if start < t <= end] or [epoch["rss_mb"]]
        window = [rss for rss in window if rss is not None]
        if not window:
            why = f"no RSS sample for epoch {epoch['epoch']}; sample more often"
            return {"ok": None, "why": why}
        per_epoch.append({"low_mb": min(window), "high_mb": max(window)})
    first = per_epoch[0]["high_mb"]
    later = max((e["high_mb"] for e in per_epoch[1:]), default=first)
    after_end = [rss for t, rss in samples if t > bounds[-1]]
    growth = later / first - 1
    peaks = [e["high_mb"] for e in per_epoch]
    peak = max((rss for _, rss in samples if rss is not None), default=max(peaks))
    return {
        # each epoch's peak over the one before: where the growth is, and whether it ends
        "epoch_over_epoch": [round(b / a - 1, 4) for a, b in itertools.pairwise(peaks)],
        "per_epoch_rss_mb": per_epoch,
        "rss_at_each_validation_mb": [e["rss_mb"] for e in epochs],
        "first_epoch_peak_mb": first,
        "later_epochs_peak_mb": later,
        "after_training_peak_mb": max(after_end) if after_end else None,  # testing
        "growth_after_first_epoch": round(growth, 4),
        "tolerance": tolerance,
        "peak_mb": peak,  # the highest sample of the whole run
        "max_peak_mb": max_peak_mb,
        "ok": growth <= tolerance and (max_peak_mb is None or peak <= max_peak_mb),
    }


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    split = argv.index("--") if "--" in argv else len(argv)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="memory.json")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between samples")
    p.add_argument("--tolerance", type=float, default=0.10, help="allowed growth after epoch 1")
    p.add_argument("--max-peak-mb", type=float, help="fail when RSS ever exceeds this (MB)")
    args = p.parse_args(argv[:split])
    overrides = argv[split + 1 :]
    with tempfile.TemporaryDirectory(prefix="bench_memory_") as tmp:
        result = measure(overrides, Path(tmp) / "run", args.interval)
    result |= verdict(result, args.tolerance, args.max_peak_mb)
    from nmt.system.device import cpu_description  # torch, after the measured run: not in its way

    result["environment"] = {
        "cpu": cpu_description(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "malloc_env": {
            k: v
            for k, v in os.environ.items()
            if k.startswith(("MALLOC_", "NMT_ALLOCATOR", "LD_PRELOAD"))
        },
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(
        f"RSS peak in epoch 1: {result.get('first_epoch_peak_mb')} MB; in the later epochs: "
        f"{result.get('later_epochs_peak_mb')} MB "
        f"({result.get('growth_after_first_epoch', 0):+.1%}, allowed {args.tolerance:.0%}); "
        f"highest {result.get('peak_mb')} MB"
        + (f" (allowed {args.max_peak_mb:,.0f} MB)" if args.max_peak_mb else "")
        + f"; ok: {result['ok']}; {result['speed']['train_tgt_tokens_per_s']:,.0f} "
        f"target tok/s; {result['allocator']} malloc  -> {args.out}"
    )
    if result["ok"] is False:
        sys.exit(1)
