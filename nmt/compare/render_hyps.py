"""Render: every compared run's hypotheses beside the report, compressed, with a manifest,
so anyone can recompute the report's scores from them (:mod:`nmt.compare.verify`)."""

from __future__ import annotations

import json
from pathlib import Path

from nmt.compare.analyse import Comparison
from nmt.compare.significance import seed_pairs
from nmt.compare.trends import attends
from nmt.io import gzip_bytes

HYPS = "hyps"
MANIFEST = "manifest.json"
#: data config keys that say where this machine keeps its files: left out of the manifest
MACHINE_KEYS = ("root", "mirror")


def write_gzip(path: Path, lines: list[str]) -> None:
    """The lines, gzip-compressed with no time stamp: the same text gives the same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip_bytes("".join(line + "\n" for line in lines).encode("utf-8")))


def write_hypotheses(c: Comparison, out: Path) -> str:
    """``hyps/<run>/<split>.txt.gz`` for the test split and every extra one, and
    ``hyps/manifest.json``: the test data's config, each run's files and its row in
    results.csv, and what the derived tables were computed over -- the length buckets,
    the groups of seeds (and whether each attends), the seed pairings of the paired tests,
    the resamples of the seeded intervals and trend tests, the score of the reach. Returns
    the folder's name."""
    data = {k: v for k, v in c.runs[0].config["data"].items() if k not in MACHINE_KEYS}
    runs = []
    for run in c.runs:
        files = {}
        for split in ("test", *c.test.extra):
            name = f"{HYPS}/{run.name}/{split}.txt.gz"
            write_gzip(out / name, run.hypotheses(split))
            files[split] = name
        runs.append({"run": str(run.path), "label": run.label, "files": files})
    manifest = {
        "data": data,
        "test": c.test.name,
        "runs": runs,
        "buckets": {
            "ranges": [list(r) for r in c.test.buckets.ranges],
            "labels": list(c.test.buckets.labels),
        },
        "groups": [
            {"label": g.label, "attends": attends(g), "runs": [r.label for r in g.runs]}
            for g in c.groups
        ],
        "pairings": [
            {"a": a.label, "b": b.label, "runs": [[x.label, y.label] for x, y in seed_pairs(a, b)]}
            for i, a in enumerate(c.groups)
            for b in c.groups[i + 1 :]
        ],
        "trend_resamples": c.trend_resamples,
        "reach_metric": c.reach[0].metric if c.reach else None,
    }
    (out / HYPS / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return f"{HYPS}/"
