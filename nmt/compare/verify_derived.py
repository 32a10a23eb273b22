"""Recompute a comparison's derived tables from the hypotheses it keeps: variants.csv (each
group's mean scores over seeds and the seeds-and-sentences interval of its mean BLEU),
trend.csv (every gap, difference-in-differences, slope, p- and q-value), reach.csv (each
run's short-bucket score and reach) and the scores of significance.csv.

The statistics are recomputed with the code that made them (:mod:`nmt.compare.trend`, its
seeded bootstrap), over what ``hyps/manifest.json`` records: the length buckets, the groups
of seeds, the seed pairings and the number of resamples. The p-values of sacreBLEU's paired
tests in significance.csv are not recomputed (1,000 resamples per cell; their scores are).
"""

from __future__ import annotations

import csv
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sacrebleu.metrics import BLEU, CHRF

from nmt.compare.lengths import Buckets, bucket_groups, exact_match, source_lengths
from nmt.compare.reach import run_reach
from nmt.compare.trend import bh_qvalues, mean_bleu_interval, trend_test

#: a mean over seeds of scores results.json kept to two decimals, against one recomputed
MEAN = 0.011


def decimals(n: int) -> float:
    """The tolerance of a cell the CSV keeps to ``n`` decimals, recomputed exactly by the
    same (seeded) code: half a unit of its last place."""
    return 0.5 * 10.0**-n + 1e-9


@dataclass
class Check:
    """What was compared and what did not match."""

    folder: Path
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    def same(self, where: str, stated: Any, computed: float, tol: float) -> None:
        """Count one cell; note it unless ``stated`` is within ``tol`` of ``computed``."""
        self.checked += 1
        try:
            ok = abs(float(stated) - computed) <= tol
        except (TypeError, ValueError):
            ok = False
        if not ok:
            self.problems.append(
                f"{self.folder}: {where}: {computed:.4f} from the hypotheses, "
                f"{stated!r} in the file"
            )


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@dataclass(frozen=True)
class Scored:
    """The kept hypotheses with their test data, scored once."""

    hyps: Mapping[str, Mapping[str, list[str]]]  # run label -> split -> hypotheses
    refs: Mapping[str, list[list[str]]]  # split -> reference streams
    lengths: list[int]  # source length (words) of every test sentence
    buckets: Buckets  # the comparison's length buckets

    def bleu(self, run: str, split: str = "test", idx: Sequence[int] | None = None) -> float:
        h, refs = self.hyps[run][split], self.refs[split]
        if idx is not None:
            h, refs = [h[i] for i in idx], [[r[i] for i in idx] for r in refs]
        return BLEU().corpus_score(h, refs).score

    def chrf(self, run: str, split: str = "test") -> float:
        return CHRF().corpus_score(self.hyps[run][split], self.refs[split]).score

    def by_bucket(self, run: str, metric: str) -> list[float]:
        """The run's score in every bucket, as the report computed it (two decimals)."""
        index = self.buckets.groups(self.lengths)
        if metric == "exact match":
            h, ref = self.hyps[run]["test"], self.refs["test"][0]
            return [exact_match([h[i] for i in g], [ref[i] for i in g]) for g in index]
        return [round(self.bleu(run, "test", g), 2) for g in index]


def scored(manifest: Mapping[str, Any], hyps, texts) -> Scored:
    ranges = [tuple(r) for r in manifest["buckets"]["ranges"]]
    lengths = source_lengths(texts["test"].src)
    counts = [len(g) for g in bucket_groups(lengths, ranges)]
    buckets = Buckets([], 0, ranges, list(manifest["buckets"]["labels"]), counts)
    refs = {split: texts[split].refs for split in {s for h in hyps.values() for s in h}}
    return Scored(hyps, refs, lengths, buckets)


def check_variants(s: Scored, manifest: Mapping[str, Any], check: Check) -> None:
    """variants.csv: every group's mean score over its seeds, the interval of its mean BLEU."""
    rows = {r["variant"]: r for r in read_rows(check.folder / "variants.csv")}
    resamples = int(manifest["trend_resamples"])
    for g in manifest["groups"]:
        row, runs = rows.get(g["label"]), g["runs"]
        if row is None:
            check.problems.append(f"{check.folder}: variants.csv has no row {g['label']!r}")
            continue
        for split in s.hyps[runs[0]]:
            scores = {"bleu": lambda r, split=split: s.bleu(r, split)}
            if split == "test":
                scores["chrf"] = s.chrf
            for metric, score in scores.items():
                key = f"{split}_{metric}_mean"
                if row.get(key) not in (None, ""):
                    mean = statistics.fmean(score(r) for r in runs)
                    check.same(f"variants.csv, {g['label']}, {key}", row[key], mean, MEAN)
        if len(runs) > 1 and resamples > 0:
            est = mean_bleu_interval(
                [s.hyps[r]["test"] for r in runs], s.refs["test"], resamples=resamples
            )
            for key, value in (("test_bleu_low", est.low), ("test_bleu_high", est.high)):
                check.same(f"variants.csv, {g['label']}, {key}", row.get(key), value, decimals(2))


def check_trend(s: Scored, manifest: Mapping[str, Any], check: Check) -> None:
    """trend.csv: every (attentive, fixed-vector) pair's trend test, recomputed."""
    groups = manifest["groups"]
    attentive = [g for g in groups if g["attends"] is True]
    fixed = [g for g in groups if g["attends"] is False]
    pairs = [(a, b) for a in attentive for b in fixed]  # pair_trends' order
    rows = read_rows(check.folder / "trend.csv")
    if [(r["attentive"], r["fixed"]) for r in rows] != [(a["label"], b["label"]) for a, b in pairs]:
        check.problems.append(f"{check.folder}: trend.csv's pairs are not the manifest's groups'")
        return
    resamples = int(manifest["trend_resamples"])
    index = s.buckets.groups(s.lengths)
    trends = [
        trend_test([s.hyps[r]["test"] for r in a["runs"]], [s.hyps[r]["test"] for r in b["runs"]],
                   s.refs["test"], index, s.lengths, resamples=resamples)
        for a, b in pairs
    ]  # fmt: skip
    q_did = bh_qvalues([t.did.p for t in trends])
    q_slope = bh_qvalues([t.slope.p for t in trends])
    for row, t, qd, qs in zip(rows, trends, q_did, q_slope, strict=True):
        where = f"trend.csv, {row['attentive']} − {row['fixed']}"
        cells = {  # each with the decimals render_trend.write_trend_csv keeps
            "resamples": (t.resamples, 0), "gap_short": (t.gaps[0], 4),
            "gap_long": (t.gaps[-1], 4), "did": (t.did.value, 4), "did_low": (t.did.low, 4),
            "did_high": (t.did.high, 4), "did_p": (t.did.p, 5),
            "slope_per_word": (t.slope.value, 5), "slope_low": (t.slope.low, 5),
            "slope_high": (t.slope.high, 5), "slope_p": (t.slope.p, 5),
            "did_q_bh": (qd, 5), "slope_q_bh": (qs, 5),
        }  # fmt: skip
        for key, (value, digits) in cells.items():
            check.same(f"{where}, {key}", row[key], value, decimals(digits))
        lists = {
            "bucket_lengths": t.lengths, "bucket_gaps": t.gaps,
            "bucket_gap_lows": [lo for lo, _ in t.gap_intervals],
            "bucket_gap_highs": [hi for _, hi in t.gap_intervals],
        }  # fmt: skip
        for key, values in lists.items():
            stated = row[key].split()
            if len(stated) != len(values):
                check.problems.append(f"{check.folder}: {where}, {key}: {len(stated)} buckets")
                continue
            tol = decimals(2 if key == "bucket_lengths" else 4)
            for k, (cell, value) in enumerate(zip(stated, values, strict=True)):
                check.same(f"{where}, {key}[{k}]", cell, value, tol)


def check_reach(s: Scored, manifest: Mapping[str, Any], check: Check) -> None:
    """reach.csv: each run's score on the shortest bucket and the longest it gets right."""
    for row in read_rows(check.folder / "reach.csv"):
        scores = s.by_bucket(row["run"], manifest["reach_metric"])
        r = run_reach(row["run"], None, scores, s.buckets)
        where = f"reach.csv, {row['run']}"
        check.same(f"{where}, short_bucket_score", row["short_bucket_score"], r.short, decimals(3))
        if r.reach is None:  # nothing right on the shortest bucket: an empty cell
            check.checked += 1
            if row["reach_words"] != "":
                check.problems.append(
                    f"{check.folder}: {where}, reach_words: none from the hypotheses, "
                    f"{row['reach_words']!r} in the file"
                )
        else:
            check.same(f"{where}, reach_words", row["reach_words"], r.reach, decimals(0))
        check.same(f"{where}, censored", row["censored"], int(r.censored), decimals(0))


def check_significance(s: Scored, manifest: Mapping[str, Any], check: Check) -> None:
    """significance.csv: both scores of every paired test (its p-value is not recomputed)."""
    pairings = {(p["a"], p["b"]): p["runs"] for p in manifest["pairings"]}
    labels = list(s.buckets.labels)
    index = s.buckets.groups(s.lengths)
    bleu: dict[tuple[str, str, str], float] = {}  # (run, split, bucket) -> BLEU, scored once
    for row in read_rows(check.folder / "significance.csv"):
        runs = pairings.get((row["a"], row["b"]))
        k = int(row["pairing"]) - 1
        if runs is None or not 0 <= k < len(runs):
            check.problems.append(
                f"{check.folder}: significance.csv: {row['a']} / {row['b']}, pairing "
                f"{row['pairing']} is not in the manifest"
            )
            continue
        split = "test" if row["split"] == manifest["test"] else row["split"]
        if split not in s.refs or (row["bucket"] != "all" and row["bucket"] not in labels):
            check.problems.append(
                f"{check.folder}: significance.csv: split {row['split']!r}, bucket "
                f"{row['bucket']!r} is not among the kept hypotheses' buckets"
            )
            continue
        idx = None if row["bucket"] == "all" else index[labels.index(row["bucket"])]
        for side, run in zip(("bleu_a", "bleu_b"), runs[k], strict=True):
            key = (run, split, row["bucket"])
            if key not in bleu:
                bleu[key] = s.bleu(run, split, idx)
            where = f"significance.csv, {row['a']} / {row['b']} on {row['split']} {row['bucket']}"
            check.same(f"{where}, {side}", row[side], bleu[key], decimals(2))


def check_derived(folder: Path, manifest: Mapping[str, Any], hyps, texts) -> Check:
    """Every derived table the folder has, recomputed (a manifest from before the groups
    were recorded: nothing)."""
    check = Check(folder)
    if "groups" not in manifest:
        return check
    s = scored(manifest, hyps, texts)
    tables = {"variants.csv": check_variants, "trend.csv": check_trend,
              "reach.csv": check_reach, "significance.csv": check_significance}  # fmt: skip
    for name, fn in tables.items():
        if (folder / name).is_file():
            fn(s, manifest, check)
    return check
