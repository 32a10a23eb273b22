"""Render: the comparison's CSV files -- results.csv, variants.csv, significance.csv,
averaging.csv and length_ratio_by_length.csv."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nmt.compare.analyse import Comparison
from nmt.compare.averaging import Averaged
from nmt.compare.render_tables import Column


def write_csv(rows: Sequence[dict[str, Any]], keys: list[str], path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def write_group_csv(rows: Sequence[dict[str, Any]], cols: list[Column], path: Path) -> None:
    """variants.csv: mean and sd of every cell over seeds (and the seeds-and-sentences 95%
    interval of the mean where there is one: ``<key>_low``, ``<key>_high``), the rest as
    they are."""
    header, out = [], []
    for c in cols:
        header += [f"{c.key}_mean", f"{c.key}_sd"] if c.fmt.startswith("meansd") else [c.key]
        header += [f"{c.key}_low", f"{c.key}_high"] if c.fmt == "meansd_ci" else []
    for row in rows:
        line: dict[str, Any] = {}
        for c in cols:
            value = row.get(c.key)
            if c.fmt.startswith("meansd"):
                line[f"{c.key}_mean"] = None if value is None else round(value.mean, 3)
                line[f"{c.key}_sd"] = (
                    None if value is None or value.sd is None else round(value.sd, 3)
                )
                if c.fmt == "meansd_ci":
                    line[f"{c.key}_low"] = row.get(f"{c.key}_low")
                    line[f"{c.key}_high"] = row.get(f"{c.key}_high")
            else:
                line[c.key] = value
        out.append(line)
    write_csv(out, header, path)


def write_significance_csv(c: Comparison, path: Path) -> None:
    """significance.csv: one line per pair of variants, seed pairing, split (the test split
    by bucket, the extra test splits as a whole) and bucket ("all" = the whole split):
    both scores, the difference, the p-value and the verdict."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "pairing", "split", "bucket", "bleu_a", "bleu_b", "delta", "p",
                    "p_lt_0.05", "family", "q_bh"])  # fmt: skip
        labels = c.test.buckets.labels
        for key, p in c.significance.tests().items():
            split, a, b, pairing, bucket = key
            family = "pairs" if bucket == "all" else "buckets"
            label = bucket if bucket == "all" else labels[int(bucket)]
            w.writerow([a, b, pairing, split, label, round(p.a, 2), round(p.b, 2),
                        round(p.delta, 2), round(p.p, 4), p.significant, family,
                        round(c.significance.q[key], 4)])  # fmt: skip


def write_averaging_csv(results: Sequence[Averaged], path: Path) -> None:
    """averaging.csv: one line per run, its best checkpoint against the average."""
    keys = ["run", "best_step", "best_bleu", "best_bleu_ci", "averaged_steps"]
    keys += ["averaged_bleu", "averaged_bleu_ci", "delta", "p_value"]
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(keys)
        for a in results:
            w.writerow(
                [
                    a.label,
                    a.best_step,
                    *a.best,
                    " ".join(map(str, a.steps)),
                    *a.averaged,
                    round(a.delta, 4),
                    a.paired.p,
                ]
            )


def write_ratio_csv(c: Comparison, path: Path) -> None:
    """length_ratio_by_length.csv: one line per split, bucket and run."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["split", "bucket", "sentences", "training_pairs", "run", "length_ratio"])
        for name, t in c.lengths.by_bucket.items():
            for i, (label, n) in enumerate(zip(t.labels, t.counts, strict=True)):
                train = "" if t.train is None else t.train[i]
                for run, ratios in t.ratios.items():
                    w.writerow([name, label, n, train, run, "" if ratios[i] is None else ratios[i]])


def write_reach_csv(c: Comparison, path: Path) -> None:
    """reach.csv: one row per run, grouped by configuration (see :mod:`nmt.compare.reach`)."""
    rows = [
        {
            "variant": g.label,
            "model": g.variant,
            "parameters": g.parameters,
            "seed": r.seed,
            "metric": g.metric,
            "short_bucket_score": round(r.short, 3),
            "reach_words": "" if r.reach is None else r.reach,
            "censored": int(r.censored),
            "fell_at": r.fell_at or "",
            "run": r.label,
        }
        for g in c.reach
        for r in g.runs
    ]
    header = ["variant", "model", "parameters", "seed", "metric", "short_bucket_score",
              "reach_words", "censored", "fell_at", "run"]  # fmt: skip
    write_csv(rows, header, path)
