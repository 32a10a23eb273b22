"""``nmt-average CKPT CKPT ... -o OUT.pt``: average the weights of checkpoints of one run.

The result is a checkpoint every command accepts (``nmt-evaluate``, ``nmt-translate``,
``train.init_from``). Keep the checkpoints to average with ``train.keep_last=N``
(``<run>/checkpoints/step_*.pt``); ``--last N RUN`` picks the newest N of a run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nmt.cli.common import positive_int
from nmt.errors import NMTError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="nmt-average", description=__doc__.split("\n")[0])
    p.add_argument("checkpoints", nargs="+", help=".pt files, or with --last a run directory")
    p.add_argument("-o", "--output", required=True, help="the averaged checkpoint to write")
    p.add_argument(
        "--last", type=positive_int, help="average the newest N step_*.pt of the run directory"
    )
    return p.parse_args(argv)


def newest(run: Path, n: int) -> list[Path]:
    """The newest ``n`` validation checkpoints (``step_<N>.pt``) of a run directory."""
    from nmt.errors import CheckpointError
    from nmt.runs.checkpoint import step_checkpoints
    from nmt.runs.run_dir import RunDir

    folder = RunDir(run).checkpoints if RunDir(run).checkpoints.is_dir() else run
    kept = step_checkpoints(folder)
    if len(kept) < n:
        raise CheckpointError(
            f"{folder}: has {len(kept)} step_*.pt checkpoint(s), --last asks for {n}; train "
            f"with train.keep_last={n} (or more)"
        )
    return kept[-n:]


def warn_repeats(paths: list[Path], steps: list[int | None]) -> None:
    """Say so when checkpoints hold the same update (best.pt and last.pt of a run that
    ended on its best): they count twice and add nothing new."""
    seen: dict[int, list[str]] = {}
    for path, step in zip(paths, steps, strict=True):
        if step is not None:
            seen.setdefault(step, []).append(str(path))
    for step, same in seen.items():
        if len(same) > 1:
            print(
                f"warning: {' and '.join(same)} are the same update ({step}): it counts "
                f"{len(same)} times and the average holds {len(seen)} distinct update(s); keep "
                "step checkpoints with train.keep_last=N and average them with --last N",
                file=sys.stderr,
            )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        from nmt.runs.average import average_checkpoints
        from nmt.runs.checkpoint import save_checkpoint

        if args.last:
            if len(args.checkpoints) != 1 or not Path(args.checkpoints[0]).is_dir():
                raise NMTError("--last N takes one run directory; without it give .pt files")
            paths = newest(Path(args.checkpoints[0]), args.last)
        else:
            paths = [Path(p) for p in args.checkpoints]
        if len(paths) < 2:
            raise NMTError("give two or more checkpoints to average")
        averaged = average_checkpoints(paths)
        save_checkpoint(averaged, args.output)
        names = ", ".join(p.stem for p in paths)
        print(f"averaged {len(paths)} checkpoints ({names}) -> {args.output}", file=sys.stderr)
        warn_repeats(paths, averaged.get("averaged_steps", []))
    except NMTError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
