"""Render: the trend test's section of report.md and trend.csv."""

from __future__ import annotations

import csv
from pathlib import Path

from nmt.compare.analyse import Comparison
from nmt.compare.stats import format_p
from nmt.compare.trend import Estimate

#: trend.csv's columns
TREND_COLUMNS = (
    "attentive", "fixed", "seeds_attentive", "seeds_fixed", "resamples", "gap_short",
    "gap_long", "did", "did_low", "did_high", "did_p", "slope_per_word", "slope_low",
    "slope_high", "slope_p", "did_q_bh", "slope_q_bh", "bucket_lengths", "bucket_gaps",
    "bucket_gap_lows", "bucket_gap_highs",
)  # fmt: skip


def _cell(e: Estimate, digits: int, q: float) -> str:
    return (
        f"{e.value:+.{digits}f} [{e.low:+.{digits}f}, {e.high:+.{digits}f}], "
        f"{format_p(e.p)}, {format_p(q).replace('p', 'q', 1)}"
    )


def trend_section(c: Comparison) -> list[str]:
    """Does each attentive variant's lead over each fixed-vector one grow with length?"""
    if not c.trends:
        return []
    first, last = c.test.buckets.labels[0], c.test.buckets.labels[-1]
    n = c.trends[0].trend.resamples
    lines = [
        "",
        "## Does the gap grow with length? (trend test)",
        "",
        f"The gap is the attentive variant's BLEU minus the fixed-vector variant's. "
        f"**DiD**: the gap on {last} source words minus the gap on {first}; **slope**: the "
        "gap's least-squares slope on the buckets' mean source length, in BLEU per word. "
        "Brackets: 95% interval of a paired bootstrap that resamples each bucket's "
        "sentences once for both variants and, where a variant has several seeds, its seeds "
        f"too (so the interval holds training noise); {n:,} resamples, two-sided p; q: "
        "Benjamini-Hochberg q-value over the pairs below (the DiDs one family, the slopes "
        "another). Gap by bucket: each bucket's gap, with its 95% interval from the same "
        "resamples in trend.csv.",
        "",
        "| attentive − fixed | seeds | gap by bucket | DiD (BLEU) | slope (BLEU/word) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for pt in c.trends:
        t = pt.trend
        gaps = " → ".join(f"{g:+.1f}" for g in t.gaps)
        lines.append(
            f"| {pt.attentive} − {pt.fixed} | {t.seeds[0]} / {t.seeds[1]} | {gaps} | "
            f"{_cell(t.did, 2, pt.q_did)} | {_cell(t.slope, 3, pt.q_slope)} |"
        )
    return [*lines, ""]


def write_trend_csv(c: Comparison, path: Path) -> None:
    """trend.csv: one row per (attentive, fixed-vector) pair."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(TREND_COLUMNS)
        for pt in c.trends:
            t = pt.trend
            w.writerow([
                pt.attentive, pt.fixed, *t.seeds, t.resamples, round(t.gaps[0], 4),
                round(t.gaps[-1], 4), *(round(v, 4) for v in (t.did.value, t.did.low,
                t.did.high)), round(t.did.p, 5), *(round(v, 5) for v in (t.slope.value,
                t.slope.low, t.slope.high)), round(t.slope.p, 5), round(pt.q_did, 5),
                round(pt.q_slope, 5), " ".join(f"{x:.2f}" for x in t.lengths),
                " ".join(f"{g:.4f}" for g in t.gaps),
                " ".join(f"{lo:.4f}" for lo, _ in t.gap_intervals),
                " ".join(f"{hi:.4f}" for _, hi in t.gap_intervals),
            ])  # fmt: skip
