"""Analyse: each run's *reach* -- the longest source it still gets right.

A model's score on its shortest inputs is what it can do at all; its reach is the longest
source (in words) of the longest length bucket before the first bucket whose score falls
below half of that (exact match on synthetic corpora, where it is unambiguous, BLEU on
real text). A run that never falls that far reaches the longest source of the test set,
and its reach is a lower bound (``censored``). A run that scores nothing on the shortest
bucket has no reach at all (``None``): half of nothing is no bar to fall below. Grouped by
configuration, with every seed's reach: a capacity sweep (seq2seq at several hidden sizes)
reads as reach against vector size. If one fixed vector is the bottleneck, the
fixed-vector variants' reach grows with the vector and the attentive variants reach the
end at any size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nmt.compare.grouping import Group
from nmt.compare.lengths import Buckets

#: the share of the shortest bucket's score a bucket must keep to count as still right
HALF = 0.5


@dataclass(frozen=True)
class RunReach:
    """One run's reach over the common length buckets."""

    label: str
    seed: int | None
    short: float  # its score on the shortest bucket
    reach: int | None  # longest source (words) in the last bucket before the first fall;
    #   None: the run scores 0 (or nothing) on the shortest bucket
    censored: bool  # no bucket fell below HALF of ``short``: reach is a lower bound
    fell_at: str | None  # the first bucket that fell ("lo–hi"), None when censored


@dataclass(frozen=True)
class GroupReach:
    """The reach of every seed of one configuration."""

    label: str
    variant: str
    parameters: int | None
    metric: str  # "exact match" or "BLEU"
    runs: tuple[RunReach, ...]

    @property
    def low(self) -> int | None:
        """The shortest reach of its seeds (None when no seed has one)."""
        return min((r.reach for r in self.runs if r.reach is not None), default=None)

    @property
    def high(self) -> int | None:
        """The longest reach of its seeds (None when no seed has one)."""
        return max((r.reach for r in self.runs if r.reach is not None), default=None)


def run_reach(label: str, seed: int | None, scores: Sequence[float], buckets: Buckets):
    """:class:`RunReach` of one run from its score per bucket (shortest bucket first)."""
    short = float(scores[0])
    if not short > 0:  # 0 or NaN: nothing right to begin with
        return RunReach(label, seed, short, None, False, buckets.labels[0])
    bar = HALF * short
    for k, score in enumerate(scores):
        if score < bar:  # k > 0: the shortest bucket never falls below half of itself
            return RunReach(label, seed, short, buckets.top(k - 1), False, buckets.labels[k])
    return RunReach(label, seed, short, buckets.top(len(scores) - 1), True, None)


def group_reach(
    groups: Sequence[Group],
    scores: Mapping[str, Sequence[float]],
    buckets: Buckets,
    metric: str,
) -> tuple[GroupReach, ...]:
    """Every group's :class:`GroupReach` from its runs' scores per bucket (by run label);
    nothing with fewer than two buckets."""
    if len(buckets.labels) < 2:
        return ()
    return tuple(
        GroupReach(
            g.label,
            g.variant,
            g.runs[0].results.get("parameters"),
            metric,
            tuple(run_reach(r.label, r.seed, scores[r.label], buckets) for r in g.runs),
        )
        for g in groups
    )
