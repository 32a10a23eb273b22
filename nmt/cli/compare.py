"""``nmt-compare RUN_DIR... --out DIR``: compare finished runs of one corpus and test set.

Writes ``report.md`` and ``results.csv`` (one row per run, with 95% intervals, how it
stopped and what it used), ``variants.csv`` (mean and sd over seeds), ``significance.csv``
(paired bootstrap tests between every two variants, overall and per length bucket),
``averaging.csv`` (runs that kept their last checkpoints, ``train.keep_last``: the best
checkpoint against the average of the last N, with a paired test),
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
from pathlib import Path

from nmt.errors import NMTError
from nmt.system.device import resolve_device


def edges_arg(text: str) -> list[int]:
    """``10,20,30,40``: increasing positive integers."""
    try:
        edges = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give integers, e.g. 10,20,30,40") from None
    if not edges or any(e < 1 for e in edges) or edges != sorted(set(edges)):
        raise argparse.ArgumentTypeError(f"{text!r}: give increasing positive integers")
    return edges


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="nmt-compare", description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="finished run directories")
    p.add_argument("--out", required=True, help="output folder (its earlier report is replaced)")
    p.add_argument("--device", default="cpu", help="for the heat maps: cpu (default) | cuda | auto")
    p.add_argument("--root", help="data folder (default: the runs' data.root / $NMT_DATA_DIR)")
    p.add_argument(
        "--min-count",
        type=int,
        help="fewest test sentences per length bucket (default: 50, or with equal-count "
        "buckets 10%% of the test set when that is more)",
    )
    p.add_argument(
        "--edges",
        type=edges_arg,
        help="length buckets cut at these source lengths in words, e.g. 10,20,30,40 "
        "(default: the runs' data.length_edges, else equal-count buckets)",
    )
    p.add_argument(
        "--sentences", type=int, default=3, help="test sentences with heat maps (default 3)"
    )
    p.add_argument("--command", help="the command that trained the runs, for RUN.md")
    p.add_argument("--wall-seconds", type=float, help="the sweep's wall time, for RUN.md")
    p.add_argument("--note", action="append", default=[], help="a line for RUN.md (repeatable)")
    p.add_argument(
        "--average-last",
        type=int,
        metavar="N",
        help="also score the mean of each run's last N kept checkpoints (train.keep_last) "
        "against its best one (default: the fewest every run kept; 0 = no)",
    )
    p.add_argument(
        "--trend-resamples",
        type=int,
        default=10_000,
        metavar="N",
        help="bootstrap resamples of the trend test of each attentive against each "
        "fixed-vector variant (default 10,000; its smallest p is 1/(N+1); 0 = no test)",
    )
    p.add_argument(
        "--resamples",
        type=int,
        default=1000,
        metavar="N",
        help="bootstrap resamples of every paired test (default 1000, sacreBLEU's; its "
        "smallest p is 1/(N+1): with many tests, 10000)",
    )
    p.add_argument(
        "--allow-mismatch",
        action="store_true",
        help="compare runs decoded differently (beam, length penalty or limits, precision, "
        "tokenizer) anyway, every difference marked in the report",
    )
    return p.parse_args(argv)


def relative(path: str | Path) -> Path:
    """``path`` relative to the working folder when it lies inside it: the report, RUN.md and
    the CSVs name the runs as given, and a committed report must not carry this machine's
    absolute paths."""
    path = Path(path)
    if path.is_absolute() and path.resolve().is_relative_to(Path.cwd().resolve()):
        return path.resolve().relative_to(Path.cwd().resolve())
    return path


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.trend_resamples < 0 or args.resamples < 1:
        print("error: --resamples must be at least 1 and --trend-resamples not negative "
              f"(got {args.resamples}, {args.trend_resamples})", file=sys.stderr)  # fmt: skip
        sys.exit(2)
    try:
        from nmt.compare import compare_runs
        from nmt.compare.rundir import expand_run_dirs

        device = resolve_device(args.device)
        run_dirs = expand_run_dirs(args.runs, warn=lambda m: print(m, file=sys.stderr))
        compared = compare_runs(
            [relative(d) for d in run_dirs],
            relative(args.out),
            device=device,
            root=args.root,
            min_count=args.min_count,
            n_sentences=args.sentences,
            command=args.command,
            wall_seconds=args.wall_seconds,
            notes=args.note,
            allow_mismatch=args.allow_mismatch,
            average_last=args.average_last,
            edges=args.edges,
            trend_resamples=args.trend_resamples,
            paired_resamples=args.resamples,
            log=lambda msg: print(msg, file=sys.stderr),
        )
    except NMTError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    print(f"compared {len(compared.comparison.runs)} runs into {args.out}:")
    for name in (*compared.files, "tb/"):
        print(f"  {name}")


if __name__ == "__main__":
    main()
