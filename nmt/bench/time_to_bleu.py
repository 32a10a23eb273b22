"""Minutes of training (validation excluded) until each run's validation BLEU first reached
each threshold, from its validation records (:class:`RunDir`), and over several runs (seeds)
their mean ± sd and range; writes JSON.

    python scripts/time_to_bleu.py runs/<run> [runs/<run2> ...] --thresholds 30,35 --out t.json
    make time-to-bleu SEEDS=1,2,3 MINUTES=20      # trains the default recipe, then this

The time is each run's own training clock (``train_seconds`` at the validation that first
reached the threshold), so it is interpolated neither between validations nor across
machines: name the machine beside it. A run that never reached a threshold counts as
such (``reached_in`` says how many did); its time is not guessed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from nmt.compare.stats import format_mean_sd, mean_sd
from nmt.runs.run_dir import RunDir


def time_to_bleu(run: Path, thresholds: list[float]) -> dict[str, Any]:
    """One run: the first validation at or over each threshold (or None)."""
    run_dir = RunDir(run)
    if not run_dir.metrics_path.is_file():
        raise SystemExit(
            f"error: {run_dir.metrics_path} not found; give a run directory of nmt-train"
        )
    records = [r for r in run_dir.validations() if r.valid_bleu is not None]
    results = run_dir.read_results() if run_dir.finished else {}
    reached = {}
    for threshold in thresholds:
        first = next((r for r in records if r.valid_bleu >= threshold), None)
        reached[f"{threshold:g}"] = None if first is None else {
            "minutes": round(first.train_seconds / 60, 2), "step": first.step,
            "epoch": first.epoch, "valid_bleu": first.valid_bleu,
            "train_tgt_tokens": first.train_tgt_tokens,
        }  # fmt: skip
    return {
        "run": str(run),
        "seed": results.get("seed"),
        "device": results.get("device"),
        "precision": results.get("precision"),
        "stop_reason": results.get("stop_reason"),
        "best_valid_bleu": max((r.valid_bleu for r in records), default=None),
        "validations": len(records),
        "reached": reached,
    }


def summarise(runs: list[dict[str, Any]], thresholds: list[float]) -> dict[str, Any]:
    """Per threshold over the runs: how many reached it, and the minutes' mean, sample sd
    and range among those that did."""
    out = {}
    for threshold in thresholds:
        key = f"{threshold:g}"
        minutes = [r["reached"][key]["minutes"] for r in runs if r["reached"][key] is not None]
        mean, sd = mean_sd(minutes)
        out[key] = {
            "runs": len(runs),
            "reached_in": len(minutes),
            "minutes": minutes,
            "mean": round(mean, 2) if minutes else None,
            "sd": None if sd is None else round(sd, 2),
            "min": min(minutes, default=None),
            "max": max(minutes, default=None),
        }
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+", help="nmt-train run directories (e.g. one per seed)")
    p.add_argument("--thresholds", default="30,35", help="validation BLEU thresholds")
    p.add_argument("--out", help="write the JSON here (default: print only)")
    args = p.parse_args(argv)
    thresholds = [float(x) for x in args.thresholds.split(",")]
    runs = [time_to_bleu(Path(r), thresholds) for r in args.runs]
    result = {"runs": runs, "summary": summarise(runs, thresholds)}
    for run in runs:
        for threshold, hit in run["reached"].items():
            where = "never reached" if hit is None else (
                f"{hit['minutes']:.1f} min of training "
                f"(step {hit['step']}, BLEU {hit['valid_bleu']})"
            )  # fmt: skip
            print(f"{run['run']}: validation BLEU {threshold}: {where}  "
                  f"[{run['device']}, {run['precision']}]")  # fmt: skip
    if len(runs) > 1:
        for threshold, s in result["summary"].items():
            spread = format_mean_sd(s["minutes"]) if s["minutes"] else "–"
            span = f", range {s['min']:.1f}–{s['max']:.1f}" if s["minutes"] else ""
            print(f"validation BLEU {threshold}: reached in {s['reached_in']} of {s['runs']} runs; "
                  f"minutes {spread}{span}")  # fmt: skip
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
        print(f"-> {args.out}", file=sys.stderr)
