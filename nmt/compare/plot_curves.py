"""Plot validation BLEU against training time for several runs (their validation records).

Usage::

    python scripts/plot_curves.py --out curves.png LABEL=RUN_DIR [LABEL=RUN_DIR ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from nmt.runs.records import Validation
from nmt.runs.run_dir import RunDir


def read_metrics(run_dir: Path) -> list[Validation]:
    run = RunDir(run_dir)
    if not run.metrics_path.is_file():
        sys.exit(
            f"error: {run.metrics_path} does not exist; give finished or running nmt run "
            "directories"
        )
    return run.validations()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+", metavar="LABEL=RUN_DIR")
    p.add_argument("--out", required=True, help="PNG to write")
    p.add_argument("--title", default="validation BLEU against training time")
    args = p.parse_args(argv)
    fig, (ax_bleu, ax_loss) = plt.subplots(1, 2, figsize=(11, 4))
    for spec in args.runs:
        label, _, run = spec.partition("=")
        rows = read_metrics(Path(run))
        minutes = [r.train_seconds / 60 for r in rows]
        ax_bleu.plot(minutes, [r.valid_bleu for r in rows], marker="o", label=label)
        ax_loss.plot(minutes, [r.valid_loss for r in rows], marker="o", label=label)
    ax_bleu.set_ylabel("validation BLEU (sacreBLEU, greedy)")
    ax_loss.set_ylabel("validation loss (nats per token)")
    for ax in (ax_bleu, ax_loss):
        ax.set_xlabel("training time (minutes, validation excluded)")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(args.title)
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")
