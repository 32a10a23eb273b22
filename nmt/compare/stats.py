"""Uncertainty of a comparison: intervals, paired significance tests, seed statistics.

BLEU and chrF intervals and the paired tests are sacreBLEU's own
(:mod:`sacrebleu.significance`, as ``sacrebleu --confidence`` and ``--paired-bs``):

- a score's 95% interval comes from bootstrap resampling of the test sentences;
- the paired bootstrap test (Koehn 2004) resamples the test sentences jointly for two
  systems and asks how often the resampled difference exceeds the observed one; its
  p-value is the chance of a difference this large if the two systems were equally good
  on sentences drawn like these.

Both measure test-set sampling only. How much a score moves with the training run is
measured by seeds: runs that differ only in ``train.seed`` are grouped, and their spread
(sample standard deviation) is reported beside the intervals.

Exact-match accuracy (synthetic corpora) is a proportion: its 95% interval is the Wilson
score interval.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from sacrebleu.metrics import BLEU
from sacrebleu.significance import PairedTest

from nmt.compare.lengths import bucket_groups
from nmt.evaluation.metrics import N_BOOTSTRAP

#: significance level of the tests in the reports
ALPHA = 0.05


@dataclass(frozen=True)
class Paired:
    """One paired test of system ``b`` against baseline ``a`` (BLEU)."""

    a: float  # baseline score
    b: float  # system score
    p: float  # two-sided p-value of the paired bootstrap test

    @property
    def delta(self) -> float:
        return self.b - self.a

    @property
    def significant(self) -> bool:
        return self.p < ALPHA


def paired_bleu(
    baseline: Sequence[str],
    systems: Sequence[Sequence[str]],
    refs: Sequence[Sequence[str]],
    n_samples: int = N_BOOTSTRAP,
) -> list[Paired]:
    """sacreBLEU's paired bootstrap test of every system in ``systems`` against
    ``baseline`` (cased BLEU; ``refs`` are reference streams), one result per system.

    A system whose score or hypotheses equal the baseline's gets p = 1: sacreBLEU's test
    counts resampled differences strictly above the observed one, which for systems that
    score alike on every resample (identical, or both perfect) would give its smallest
    p-value instead.
    """
    baseline = list(baseline)
    named = [("baseline", baseline)]
    named += [(f"system{i}", list(h)) for i, h in enumerate(systems)]
    test = PairedTest(
        named, {"BLEU": BLEU()}, [list(r) for r in refs], test_type="bs", n_samples=n_samples
    )
    _, scores = test()
    results = next(v for k, v in scores.items() if k != "System")
    base = results[0].score
    return [
        Paired(base, r.score, 1.0 if r.score == base or list(h) == baseline else r.p_value)
        for r, h in zip(results[1:], systems, strict=True)
    ]


def paired_by_bucket(
    lengths: Sequence[int],
    ranges: Sequence[tuple[int, int]],
    baseline: Sequence[str],
    system: Sequence[str],
    refs: Sequence[Sequence[str]],
    n_samples: int = N_BOOTSTRAP,
) -> list[Paired]:
    """The paired bootstrap test of ``system`` against ``baseline`` inside each bucket."""
    out = []
    for idx in bucket_groups(lengths, ranges):
        pick = lambda lines, idx=idx: [lines[i] for i in idx]  # noqa: E731
        r = [pick(stream) for stream in refs]
        out.append(paired_bleu(pick(baseline), [pick(system)], r, n_samples)[0])
    return out


def mean_delta(tests: Sequence[Paired]) -> float:
    """The difference B − A averaged over seed pairings."""
    return sum(t.delta for t in tests) / len(tests)


def holds(tests: Sequence[Paired]) -> bool:
    """A difference holds when the paired test holds it at ALPHA in every seed pairing,
    with the same sign in every pairing."""
    return (
        bool(tests)
        and all(t.significant for t in tests)
        and (all(t.delta > 0 for t in tests) or all(t.delta < 0 for t in tests))
    )


def wilson(hits: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval of a proportion, in percent: (low, high)."""
    if n == 0:
        return (math.nan, math.nan)
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (round(100 * max(0.0, centre - half), 2), round(100 * min(1.0, centre + half), 2))


def mean_sd(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (None for a single value)."""
    vals = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not vals:
        return (math.nan, None)
    sd = statistics.stdev(vals) if len(vals) > 1 else None
    return (statistics.fmean(vals), sd)


def format_mean_sd(values: Sequence[float], digits: int = 2, thousands: bool = False) -> str:
    """``33.18 (sd 0.41)`` over seeds (sample sd), or the single value."""
    return format_mean_and_sd(*mean_sd(values), digits=digits, thousands=thousands)


def format_mean_and_sd(
    mean: float, sd: float | None, digits: int = 2, thousands: bool = False
) -> str:
    """``33.18 (sd 0.41)``: a mean and sample sd (:func:`mean_sd`); the mean alone without
    an sd, "" for no mean (NaN). Never "±", which the reports keep for the half-width of a
    95% interval."""
    if math.isnan(mean):
        return ""
    spec = f"{',' if thousands else ''}.{digits}f"
    return f"{mean:{spec}}" if sd is None else f"{mean:{spec}} (sd {sd:{spec}})"


def format_p(p: float) -> str:
    """``p=0.001`` (sacreBLEU's 1000 resamples cannot go below 1/1001)."""
    return f"p={p:.3f}" if p >= 0.001 else "p<0.001"
