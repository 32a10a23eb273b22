"""Analyse: paired bootstrap tests between every two variants -- on the whole test split,
inside each length bucket, and on each extra test split -- one test per seed pairing."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from nmt.compare import stats as S
from nmt.compare.grouping import Group
from nmt.compare.lengths import Buckets
from nmt.compare.rundir import Run
from nmt.compare.trend import bh_qvalues


@dataclass(frozen=True)
class Verdict:
    """The paired tests of variant B against variant A, one per seed pairing, summed up.

    With ``q`` (each pairing's Benjamini-Hochberg q-value in its family, see
    :func:`corrected`), a pairing holds the difference at q < ALPHA; before the correction,
    at p < ALPHA."""

    tests: tuple[S.Paired, ...]
    delta: float  # B − A, averaged over the seed pairings
    holds: bool  # held in every pairing, with one sign (:func:`stats.holds`)
    held: int  # how many pairings hold it
    q: tuple[float, ...] = ()  # per pairing; () before the correction

    @classmethod
    def of(cls, tests: Sequence[S.Paired], q: Sequence[float] = ()) -> Verdict:
        delta = S.mean_delta(tests) if tests else float("nan")
        if not q:
            return cls(tuple(tests), delta, S.holds(tests), sum(t.significant for t in tests))
        kept = [qv < S.ALPHA for qv in q]
        holds = all(kept) and S.holds(tests)  # q >= p: what q holds, p holds (and its sign)
        return cls(tuple(tests), delta, holds, sum(kept), tuple(q))


@dataclass(frozen=True)
class PairTests:
    """Variant ``b`` tested against variant ``a`` on the test split."""

    a: str
    b: str
    overall: Verdict  # on the whole split
    by_bucket: tuple[Verdict, ...]  # inside each length bucket


@dataclass(frozen=True)
class Significance:
    """Every two variants tested against each other (in group order: a before b)."""

    pairs: tuple[PairTests, ...]
    #: extra test split -> (a, b) -> the tests on the whole split
    extra: dict[str, dict[tuple[str, str], Verdict]]
    split: str = "test"  # the test split's name (the pairs' tests are on it)
    resamples: int = S.N_BOOTSTRAP  # of every paired test
    #: (split, a, b, pairing, bucket) -> Benjamini-Hochberg q-value within its family
    #: (:func:`q_values`); bucket: its index, or "all" for the whole split
    q: dict[tuple[str, str, str, int, str], float] = field(default_factory=dict)
    #: the verdicts hold differences at q < ALPHA (:func:`corrected`), not at raw p
    corrected: bool = False

    def tests(self) -> dict[tuple[str, str, str, int, str], S.Paired]:
        """Every paired test by (split, a, b, pairing, bucket)."""
        out = {}
        for pair in self.pairs:
            for k, t in enumerate(pair.overall.tests, 1):
                out[(self.split, pair.a, pair.b, k, "all")] = t
                for i, v in enumerate(pair.by_bucket):
                    out[(self.split, pair.a, pair.b, k, str(i))] = v.tests[k - 1]
        for name, tests in self.extra.items():
            for (a, b), verdict in tests.items():
                for k, t in enumerate(verdict.tests, 1):
                    out[(name, a, b, k, "all")] = t
        return out

    @property
    def held(self) -> tuple[int, int, int]:
        """Tests, those with p < ALPHA, and those of them that keep q < ALPHA."""
        tests = self.tests()
        p = [tests[k].p for k in self.q]
        kept = sum(pv < S.ALPHA and q < S.ALPHA for pv, q in zip(p, self.q.values(), strict=True))
        return len(p), sum(pv < S.ALPHA for pv in p), kept

    @property
    def overall(self) -> dict[tuple[str, str], Verdict]:
        """(a, b) -> the tests on the whole test split."""
        return {(p.a, p.b): p.overall for p in self.pairs}


def q_values(significance: Significance) -> dict[tuple[str, str, str, int, str], float]:
    """Benjamini-Hochberg q-values, family by family: one pair of variants in one seed
    pairing across the length buckets; all pairs in one seed pairing on one split (the whole
    split). Keys as :meth:`Significance.tests` (buckets by index)."""
    tests = significance.tests()
    families: dict[tuple, list[tuple]] = {}
    for key in tests:
        split, a, b, pairing, bucket = key
        family = (split, pairing, "all") if bucket == "all" else (split, a, b, pairing)
        families.setdefault(family, []).append(key)
    out = {}
    for keys in families.values():
        for key, q in zip(keys, bh_qvalues([tests[k].p for k in keys]), strict=True):
            out[key] = q
    return out


def corrected(significance: Significance) -> Significance:
    """The tests with their Benjamini-Hochberg q-values (:func:`q_values`), every verdict
    holding a difference only where q < ALPHA in each seed pairing: the per-bucket and
    per-pair claims a report makes are corrected for the size of their family."""
    q = q_values(significance)
    split = significance.split

    def redo(v: Verdict, name: str, a: str, b: str, bucket: str) -> Verdict:
        return Verdict.of(v.tests, [q[(name, a, b, k, bucket)] for k in range(1, len(v.tests) + 1)])

    pairs = tuple(
        replace(
            pt,
            overall=redo(pt.overall, split, pt.a, pt.b, "all"),
            by_bucket=tuple(redo(v, split, pt.a, pt.b, str(i)) for i, v in enumerate(pt.by_bucket)),
        )
        for pt in significance.pairs
    )
    extra = {
        name: {(a, b): redo(v, name, a, b, "all") for (a, b), v in tests.items()}
        for name, tests in significance.extra.items()
    }
    return replace(significance, pairs=pairs, extra=extra, q=q, corrected=True)


def seed_pairs(a: Group, b: Group) -> list[tuple[Run, Run]]:
    """The runs of two groups paired by seed (their common seeds, repeats of a seed in
    order; in seed order when they have none in common)."""
    common = [s for s in dict.fromkeys(a.seeds) if s in b.seeds]
    if not common:
        return list(zip(a.runs, b.runs, strict=False))
    pairs = []
    for seed in common:  # repeats of one seed pair up in order
        ra = [r for r in a.runs if r.seed == seed]
        rb = [r for r in b.runs if r.seed == seed]
        pairs += list(zip(ra, rb, strict=False))
    return pairs


def _group_pairs(groups: Sequence[Group]) -> list[tuple[Group, Group]]:
    return [(a, b) for i, a in enumerate(groups) for b in groups[i + 1 :]]


def pair_tests(
    groups: Sequence[Group],
    hyps: Mapping[str, list[str]],
    refs: list[list[str]],
    lengths: list[int],
    buckets: Buckets,
    resamples: int = S.N_BOOTSTRAP,
) -> tuple[PairTests, ...]:
    """Paired bootstrap tests (sacreBLEU, ``resamples`` resamples) between every two
    groups, on the whole test set and inside each length bucket, for each seed pairing."""
    out = []
    for a, b in _group_pairs(groups):
        pairs = seed_pairs(a, b)
        overall = [
            S.paired_bleu(hyps[ra.label], [hyps[rb.label]], refs, resamples)[0] for ra, rb in pairs
        ]
        per_pairing = [
            S.paired_by_bucket(
                lengths, buckets.ranges, hyps[ra.label], hyps[rb.label], refs, resamples
            )
            for ra, rb in pairs
        ]
        by_bucket = tuple(
            Verdict.of([p[k] for p in per_pairing]) for k in range(len(buckets.labels))
        )
        out.append(PairTests(a.label, b.label, Verdict.of(overall), by_bucket))
    return tuple(out)


def extra_hypotheses(
    runs: Sequence[Run], extra_tests: Sequence[str], texts: dict[str, Any], log: Callable
) -> dict[str, dict[str, list[str]]]:
    """Every run's hypotheses of each extra test split, by split and run label; a split
    that the corpus no longer has, or whose hypotheses do not match its lines, is left
    out (and said so)."""
    out: dict[str, dict[str, list[str]]] = {}
    for name in extra_tests:
        split = texts.get(name)
        if split is None:
            log(f"{name}: not a split of the runs' corpus as read now; no paired tests on it")
            continue
        hyps = {r.label: r.hypotheses(name) for r in runs}
        if any(len(h) != len(split.src) for h in hyps.values()):
            log(
                f"{name}: the runs' hypotheses do not match the split's {len(split.src)} "
                "lines; no paired tests or length ratios on it"
            )
            continue
        out[name] = hyps
    return out


def extra_split_tests(
    groups: Sequence[Group],
    texts: dict[str, Any],
    extra: dict[str, dict[str, list[str]]],
    resamples: int = S.N_BOOTSTRAP,
) -> dict[str, dict[tuple[str, str], Verdict]]:
    """The paired tests between every two groups on each extra test split (the whole
    split, one test per seed pairing), from the hypotheses the runs kept of it."""
    out = {}
    for name, hyps in extra.items():
        refs = texts[name].refs
        out[name] = {
            (a.label, b.label): Verdict.of(
                [
                    S.paired_bleu(hyps[ra.label], [hyps[rb.label]], refs, resamples)[0]
                    for ra, rb in seed_pairs(a, b)
                ]
            )
            for a, b in _group_pairs(groups)
        }
    return out
