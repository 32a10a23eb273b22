"""A finished run's records without its weights, small enough to commit: what a comparison
needs to be rendered again in a later session, on another machine, after the checkpoints
are gone (``scripts/keep_runs.py``).

Kept: ``results.json``, ``config.yaml``, ``metrics.jsonl``, ``train.log``, ``.hydra/`` (the
command's overrides, the folder it ran in) and every hypotheses file (``hyps/``, ``eval/``),
gzip-compressed with no time stamp; not kept: ``checkpoints/`` and ``tb/``. A kept run is
a run directory every reader takes (:meth:`RunDir.read_hypotheses` reads ``.txt.gz`` where
``.txt`` is gone); what needs weights (heat maps, checkpoint averaging) is skipped, and the
comparison says so. Copies are atomic (a temporary folder renamed into place) and a kept
run is never overwritten by another run's records.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from nmt.errors import ConfigError
from nmt.io import gzip_bytes
from nmt.runs.run_dir import CONFIG, EVALUATIONS, HYPOTHESES, LOG, METRICS, RESULTS, RunDir

#: files kept as they are
RECORDS = (RESULTS, CONFIG, METRICS, LOG)


def _gzip(src: Path, dest: Path) -> None:
    dest.write_bytes(gzip_bytes(src.read_bytes()))


def keep_run(src: str | Path, dest: str | Path) -> bool:
    """Copy the records of the finished run ``src`` to ``dest``; False when ``dest`` holds
    them already (the same results.json), ConfigError when it holds another run's."""
    src, dest = Path(src), Path(dest)
    run = RunDir(src)
    if not run.finished:
        raise ConfigError(f"{src}: not a finished run (no {RESULTS}); nothing to keep")
    if (dest / RESULTS).is_file():
        if (dest / RESULTS).read_bytes() == run.results_path.read_bytes():
            return False
        raise ConfigError(f"{dest}: holds another run's records; keep {src} under another name")
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        for name in RECORDS:
            if (src / name).is_file():
                shutil.copy2(src / name, tmp / name)
        if (src / ".hydra").is_dir():
            shutil.copytree(src / ".hydra", tmp / ".hydra")
        for folder in (HYPOTHESES, EVALUATIONS):
            for path in sorted((src / folder).glob("*")) if (src / folder).is_dir() else []:
                (tmp / folder).mkdir(exist_ok=True)
                if path.suffix == ".txt":
                    _gzip(path, tmp / folder / (path.name + ".gz"))
                elif path.is_file():
                    shutil.copy2(path, tmp / folder / path.name)
        json.loads((tmp / RESULTS).read_text(encoding="utf-8"))  # complete before it lands
        if dest.exists():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp.rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return True


def main(argv: list[str] | None = None) -> None:
    """``python scripts/keep_runs.py RUN_OR_SWEEP ... --to DIR``: keep each finished run's
    records as ``DIR/<run folder name>``."""
    import argparse
    import sys

    from nmt.errors import NMTError
    from nmt.runs.run_dir import is_sweep

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="run directories or Hydra sweep folders")
    p.add_argument("--to", required=True, help="the folder of kept runs (committed)")
    args = p.parse_args(argv)
    kept = same = 0
    try:
        for item in map(Path, args.runs):
            jobs = sorted(d for d in item.iterdir() if d.is_dir()) if is_sweep(item) else [item]
            for job in jobs:
                if job.name.startswith(".") or not RunDir(job).finished:
                    continue
                if keep_run(job, Path(args.to) / job.name):
                    kept += 1
                else:
                    same += 1
    except NMTError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    print(f"{kept} run(s) kept under {args.to} ({same} already there)")
