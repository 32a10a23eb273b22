"""Minutes of training (validation excluded) until a run's validation BLEU first reached
each threshold, from its ``metrics.jsonl``; writes JSON.

    python scripts/time_to_bleu.py runs/<run> --thresholds 30,35 --out time_to_bleu.json

The time is the run's own training clock (``train_seconds`` at the validation that first
reached the threshold), so it is interpolated neither between validations nor across
machines: name the machine beside it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def time_to_bleu(run: Path, thresholds: list[float]) -> dict[str, Any]:
    metrics = run / "metrics.jsonl"
    if not metrics.is_file():
        raise SystemExit(f"error: {metrics} not found; give a run directory of nmt-train")
    records = [json.loads(x) for x in metrics.read_text().splitlines() if x.strip()]
    results = (
        json.loads((run / "results.json").read_text()) if (run / "results.json").is_file() else {}
    )
    reached = {}
    for threshold in thresholds:
        first = next((r for r in records if r["valid_bleu"] >= threshold), None)
        reached[f"{threshold:g}"] = None if first is None else {
            "minutes": round(first["train_seconds"] / 60, 2), "step": first["step"],
            "epoch": first["epoch"], "valid_bleu": first["valid_bleu"],
            "train_tgt_tokens": first.get("train_tgt_tokens"),
        }  # fmt: skip
    return {
        "run": str(run),
        "device": results.get("device"),
        "precision": results.get("precision"),
        "best_valid_bleu": max((r["valid_bleu"] for r in records), default=None),
        "validations": len(records),
        "reached": reached,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run", help="an nmt-train run directory")
    p.add_argument("--thresholds", default="30,35", help="validation BLEU thresholds")
    p.add_argument("--out", help="write the JSON here (default: print only)")
    args = p.parse_args(argv)
    result = time_to_bleu(Path(args.run), [float(x) for x in args.thresholds.split(",")])
    for threshold, hit in result["reached"].items():
        where = "never reached" if hit is None else (
            f"{hit['minutes']:.1f} min of training (step {hit['step']}, BLEU {hit['valid_bleu']})"
        )  # fmt: skip
        print(f"validation BLEU {threshold}: {where}  [{result['device']}, {result['precision']}]")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
        print(f"-> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
