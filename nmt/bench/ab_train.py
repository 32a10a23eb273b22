"""Training speed of two revisions of nmt, side by side on this machine; writes JSON.

Checks each revision out into a temporary git worktree and alternates short
``nmt-train`` runs of the two (A B A B ...), each with the same overrides and
that revision's code, then reads ``train_tgt_tokens_per_s`` (training time only:
validation and testing excluded) from each run's results record (:class:`RunDir`, which
brings an older revision's record to today's form). Alternating
cancels slow drifts of the machine; the runs never overlap.

    python scripts/ab_train.py --a 11b9f71 --b HEAD --rounds 2 --out ab.json -- \\
        train.max_steps=150 data.extra_tests=[] decode.beam=1

``--a-args`` / ``--b-args`` add overrides for one side only (a key renamed between the
revisions). Everything after ``--`` goes to both. The revisions are of the git checkout the
current folder is in; the runs' data is its ``data/`` (unless ``$NMT_DATA_DIR`` says).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nmt.runs.run_dir import RunDir

BIN = Path(sys.executable).parent


def checkout() -> Path:
    """The top of the git checkout the current folder is in; a one-line error (exit 2) when
    it is in none."""
    proc = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True,
                          text=True)  # fmt: skip
    if proc.returncode != 0:
        print(f"error: {Path.cwd()} is not in a git checkout of nmt", file=sys.stderr)
        raise SystemExit(2)
    return Path(proc.stdout.strip())


def commit(root: Path, rev: str) -> str:
    """The commit ``rev`` names; a one-line error (exit 2) when it names none."""
    proc = subprocess.run(["git", "-C", str(root), "rev-parse", "--verify", "--quiet",
                           f"{rev}^{{commit}}"], capture_output=True, text=True)  # fmt: skip
    if proc.returncode != 0:
        print(f"error: {rev!r} is not a git revision of {root}", file=sys.stderr)
        raise SystemExit(2)
    return proc.stdout.strip()


def worktree(root: Path, rev: str, where: Path) -> Path:
    subprocess.run(["git", "-C", str(root), "worktree", "add", "--detach", "-q", str(where), rev],
                   check=True)  # fmt: skip
    return where


def train(root: Path, code: Path, overrides: list[str], run_dir: Path) -> dict:
    # this revision's nmt package (-m puts the cwd first on sys.path); this checkout's data
    env = {"NMT_DATA_DIR": str(root / "data"), **os.environ, "PYTHONPATH": str(code)}
    cmd = [str(BIN / "python"), "-m", "nmt.cli.train", f"hydra.run.dir={run_dir}", *overrides]
    print("+", shlex.join(cmd), file=sys.stderr)
    proc = subprocess.run(cmd, env=env, cwd=code, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{code}: nmt-train failed:\n{proc.stderr[-2000:]}")
    results = RunDir(run_dir).read_results()
    keys = ("train_tgt_tokens_per_s", "train_seconds", "steps", "best_valid_bleu")
    return {k: results[k] for k in keys}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    split = argv.index("--") if "--" in argv else len(argv)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--a", required=True, help="git revision A")
    p.add_argument("--b", default="HEAD", help="git revision B (default HEAD)")
    p.add_argument("--a-args", default="", help="overrides for A only (a shell-quoted string)")
    p.add_argument("--b-args", default="", help="overrides for B only")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--out", default="ab_train.json")
    args = p.parse_args(argv[:split])
    if args.rounds < 1:
        p.error(f"--rounds {args.rounds}: at least 1")
    common = argv[split + 1 :]
    root = checkout()
    commits = {side: commit(root, rev) for side, rev in (("a", args.a), ("b", args.b))}
    sides = {"a": (args.a, shlex.split(args.a_args)), "b": (args.b, shlex.split(args.b_args))}
    runs: dict[str, list[dict]] = {"a": [], "b": []}
    with tempfile.TemporaryDirectory(prefix="ab_train_") as tmp:
        trees: dict[str, Path] = {}
        try:
            for s in sides:
                trees[s] = worktree(root, commits[s], Path(tmp) / s)
            for r in range(args.rounds):
                for side in ("a", "b"):
                    run_dir = Path(tmp) / f"run_{side}{r}"
                    overrides = [*common, *sides[side][1]]
                    runs[side].append(train(root, trees[side], overrides, run_dir))
        finally:
            for tree in trees.values():
                subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force",
                                str(tree)], check=False)  # fmt: skip
    speeds = {s: [x["train_tgt_tokens_per_s"] for x in runs[s]] for s in runs}
    result = {
        "a": args.a,
        "b": args.b,
        "commits": commits,
        "overrides": common,
        "runs": runs,
        "tgt_tokens_per_s": speeds,
        "ratio_b_over_a": round(statistics.median(speeds["b"]) / statistics.median(speeds["a"]), 3),
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"A {args.a}: {speeds['a']} tok/s; B {args.b}: {speeds['b']} tok/s; "
          f"B/A {result['ratio_b_over_a']}  -> {args.out}")  # fmt: skip
