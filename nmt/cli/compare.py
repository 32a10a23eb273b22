"""``nmt-compare RUN_DIR... --out DIR``: compare finished runs of one corpus and test set.

Writes ``report.md`` and ``results.csv`` (one row per run, with 95% intervals, how it
stopped and what it used), ``variants.csv`` (mean and sd over seeds), ``significance.csv``
(paired bootstrap tests between every two variants, overall and per length bucket),
``bleu_by_length.png`` (one line per run over common source-length buckets, error bars),
``accuracy_by_length.png`` (synthetic corpora), ``valid_bleu.png``, attention heat maps
of the same test sentences for every attentive run, ``RUN.md`` (command, machine, date,
wall time) and TensorBoard logs in ``DIR/tb``. A Hydra sweep folder may stand for its
runs. Runs whose test scores were decoded differently are refused unless
``--allow-mismatch``.
"""

from __future__ import annotations

import argparse
import sys

from nmt.device import resolve_device
from nmt.errors import NMTError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="nmt-compare", description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="finished run directories")
    p.add_argument("--out", required=True, help="output folder (its earlier report is replaced)")
    p.add_argument("--device", default="cpu", help="for the heat maps: cpu (default) | cuda | auto")
    p.add_argument("--root", help="data folder (default: the runs' data.root / $NMT_DATA_DIR)")
    p.add_argument(
        "--min-count",
        type=int,
        help="fewest test sentences per length bucket (default: 50, or 10%% of the test set)",
    )
    p.add_argument(
        "--sentences", type=int, default=3, help="test sentences with heat maps (default 3)"
    )
    p.add_argument("--command", help="the command that trained the runs, for RUN.md")
    p.add_argument("--wall-seconds", type=float, help="the sweep's wall time, for RUN.md")
    p.add_argument("--note", action="append", default=[], help="a line for RUN.md (repeatable)")
    p.add_argument(
        "--allow-mismatch",
        action="store_true",
        help="compare runs decoded differently (beam, length penalty or limits, precision, "
        "tokenizer) anyway, every difference marked in the report",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        from nmt.compare import compare_runs
        from nmt.compare.runs import expand_run_dirs

        device = resolve_device(args.device)
        run_dirs = expand_run_dirs(args.runs, warn=lambda m: print(m, file=sys.stderr))
        c = compare_runs(
            run_dirs,
            args.out,
            device=device,
            root=args.root,
            min_count=args.min_count,
            n_sentences=args.sentences,
            command=args.command,
            wall_seconds=args.wall_seconds,
            notes=args.note,
            allow_mismatch=args.allow_mismatch,
            log=lambda msg: print(msg, file=sys.stderr),
        )
    except NMTError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    print(f"compared {len(c.runs)} runs into {args.out}:")
    outputs = ("report.md", "results.csv", "variants.csv", "significance.csv", "RUN.md")
    for name in (*outputs, *c.figures, "tb/"):
        print(f"  {name}")


if __name__ == "__main__":
    main()
