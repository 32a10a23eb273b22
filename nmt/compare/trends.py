"""Analyse: the trend test (:mod:`nmt.compare.trend`) for every pair of an attentive and a
fixed-vector variant: does attention's lead change with source length?"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from nmt.compare.grouping import Group
from nmt.compare.lengths import Buckets
from nmt.compare.trend import N_TREND_RESAMPLES, Trend, bh_qvalues, trend_test
from nmt.models.registry import VARIANTS


@dataclass(frozen=True)
class PairTrend:
    """The gap ``attentive`` - ``fixed`` (group labels) by length, and its trend test."""

    attentive: str
    fixed: str
    trend: Trend
    #: Benjamini-Hochberg q-values of the DiD and of the slope, each over every pair's
    #: test in this comparison (one family each)
    q_did: float = 1.0
    q_slope: float = 1.0


def attends(group: Group) -> bool | None:
    """Whether a group's variant attends over the source (None: not a registered variant)."""
    v = VARIANTS.get(group.variant)
    return None if v is None else v.attention


def pair_trends(
    groups: Sequence[Group],
    hyps: Mapping[str, list[str]],
    refs: list[list[str]],
    lengths: list[int],
    buckets: Buckets,
    resamples: int = N_TREND_RESAMPLES,
) -> tuple[PairTrend, ...]:
    """One trend test per (attentive, fixed-vector) pair of groups, every seed of each in
    it (hierarchical bootstrap), over the common length buckets: the first against the
    last for the difference-in-differences, all of them for the slope. None with fewer
    than two buckets or no such pair, or with ``resamples`` 0."""
    if len(buckets.labels) < 2 or resamples <= 0:
        return ()
    index = buckets.groups(lengths)
    out = []
    for a in groups:
        for b in groups:
            if attends(a) is True and attends(b) is False:
                trend = trend_test(
                    [hyps[r.label] for r in a.runs], [hyps[r.label] for r in b.runs], refs,
                    index, lengths, resamples=resamples,
                )  # fmt: skip
                out.append(PairTrend(a.label, b.label, trend))
    q_did = bh_qvalues([pt.trend.did.p for pt in out])
    q_slope = bh_qvalues([pt.trend.slope.p for pt in out])
    return tuple(
        replace(pt, q_did=qd, q_slope=qs) for pt, qd, qs in zip(out, q_did, q_slope, strict=True)
    )
