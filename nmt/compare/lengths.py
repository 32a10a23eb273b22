"""One set of source-length buckets for every run, and scores per bucket.

Buckets hold equal numbers of test sentences (cut at the test set's length quantiles),
at least ``min_count`` each (default: 50, or 10% of the test set when that is more), so a
bucket's BLEU is a corpus BLEU over enough sentences to mean something.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nmt.evaluation.metrics import MIN_BUCKET, bleu_by_length, corpus_length_ratio, length_buckets


@dataclass(frozen=True)
class Buckets:
    """Source-length buckets (length in words, both ends inclusive) shared by all runs."""

    edges: list[int]  # the cut points passed to nmt.evaluation.metrics (inclusive upper bounds)
    min_count: int  # fewest sentences in a bucket
    ranges: list[tuple[int, int]]  # (lo, hi) as nmt.evaluation.metrics.length_buckets returns them
    labels: list[str]  # "lo–hi" from the lengths actually present
    counts: list[int]  # sentences per bucket
    equal_count: bool = True  # cut at the length quantiles (False: at given edges)
    origin: str = "`data.length_edges`"  # where given edges came from, as the report names it

    def groups(self, lengths: Sequence[int]) -> list[list[int]]:
        """The indices of the sentences in each bucket, given every sentence's length."""
        return bucket_groups(lengths, self.ranges)

    def top(self, k: int) -> int:
        """The longest source (words) in bucket ``k``: its label's upper end (the lengths
        present, not the range's, whose last upper bound is open-ended)."""
        return int(self.labels[k].split("–")[-1])

    def index(self, length: int) -> int:
        """The bucket of a sentence of ``length`` words."""
        for i, (lo, hi) in enumerate(self.ranges):
            if lo <= length <= hi:
                return i
        raise ValueError(f"length {length} is in no bucket")


@dataclass(frozen=True)
class RatioTable:
    """Output length against the reference per source-length bucket of one test split."""

    labels: list[str]  # the buckets, "lo–hi" in source words
    counts: list[int]  # test sentences per bucket
    train: list[int] | None  # training pairs whose source falls in each bucket
    ratios: dict[str, list[float | None]]  # run label -> length ratio per bucket


def bucket_groups(lengths: Sequence[int], ranges: Sequence[tuple[int, int]]) -> list[list[int]]:
    """The indices of the sentences in each of ``ranges`` (inclusive (lo, hi) lengths)."""
    return [[i for i, n in enumerate(lengths) if lo <= n <= hi] for lo, hi in ranges]


def default_min_count(n: int) -> int:
    """At least 50 sentences, or 10% of the test set when that is more (never above n)."""
    return max(1, min(n, max(MIN_BUCKET, math.ceil(0.1 * n))))


def source_lengths(sources: Sequence[str]) -> list[int]:
    """Source length in words, as nmt.evaluation.metrics.bleu_by_length counts it."""
    return [len(s.split()) for s in sources]


def common_buckets(
    lengths: Sequence[int], min_count: int | None = None, edges: Sequence[int] | None = None
) -> Buckets:
    """Equal-count buckets of ``lengths``: walking up the lengths, a bucket closes as soon as
    it holds ``min_count`` items (the length quantiles, ties kept together); a smaller tail
    joins the last bucket. With ``edges`` (upper bounds in words), buckets cut there
    instead, one under ``min_count`` (default 50) joining the next."""
    n = len(lengths)
    fixed = bool(edges)
    if fixed:
        min_count = max(1, min(MIN_BUCKET if min_count is None else min_count, n))
        edges = sorted({int(e) for e in edges})
    else:
        min_count = default_min_count(n) if min_count is None else max(1, min(min_count, n))
        edges, held = [], 0
        for length, count in sorted(Counter(lengths).items()):
            held += count
            if held >= min_count:
                edges.append(length)
                held = 0
    ranges = length_buckets(lengths, edges, min_count)
    labels, counts = [], []
    for lo, hi in ranges:
        inside = [x for x in lengths if lo <= x <= hi]
        counts.append(len(inside))
        a, b = min(inside), max(inside)
        labels.append(f"{a}" if a == b else f"{a}–{b}")
    return Buckets(list(edges), min_count, ranges, labels, counts, equal_count=not fixed)


def bleu_per_bucket(
    sources: Sequence[str],
    hyps: Sequence[str],
    refs: Sequence[Sequence[str]],
    buckets: Buckets,
    n_bootstrap: int = 0,
) -> list[tuple[float, float | None]]:
    """Corpus BLEU per bucket and the half-width of its 95% bootstrap interval (None
    without ``n_bootstrap``), by nmt.evaluation.metrics.bleu_by_length with the shared buckets."""
    scores = {
        (b.lo, b.hi): (b.bleu, b.bleu_ci)
        for b in bleu_by_length(
            sources, hyps, refs, buckets.edges, buckets.min_count, n_bootstrap=n_bootstrap
        )
    }
    return [scores.get(r, (float("nan"), None)) for r in buckets.ranges]


def exact_hits(hyps: Sequence[str], refs: Sequence[str]) -> int:
    """How many hypotheses equal their reference (whitespace-trimmed)."""
    return sum(h.strip() == r.strip() for h, r in zip(hyps, refs, strict=True))


def exact_match(hyps: Sequence[str], refs: Sequence[str]) -> float:
    """Share of hypotheses equal to their reference (whitespace-trimmed), in percent."""
    if not hyps:
        return float("nan")
    return round(100.0 * exact_hits(hyps, refs) / len(hyps), 2)


def exact_match_per_bucket(
    lengths: Sequence[int], hyps: Sequence[str], refs: Sequence[str], buckets: Buckets
) -> list[float]:
    """Exact-match accuracy (percent) per bucket."""
    return [
        exact_match([hyps[i] for i in g], [refs[i] for i in g]) for g in buckets.groups(lengths)
    ]


def length_ratio_per_bucket(
    lengths: Sequence[int], hyps: Sequence[str], refs: Sequence[Sequence[str]], buckets: Buckets
) -> list[float | None]:
    """BLEU's length ratio (hypothesis / closest reference, sacreBLEU's tokens) inside each
    bucket: where the ratio falls with source length, the model stops before the end."""
    return [
        corpus_length_ratio([hyps[i] for i in g], [[s[i] for i in g] for s in refs])
        for g in buckets.groups(lengths)
    ]


def count_words_per_bucket(counts: Mapping[int, int], buckets: Buckets) -> list[int]:
    """:func:`count_per_bucket` from a count per length (``{length: pairs}``)."""
    return [sum(c for n, c in counts.items() if lo <= n <= hi) for lo, hi in buckets.ranges]


def count_per_bucket(lengths: Sequence[int], buckets: Buckets) -> list[int]:
    """How many of ``lengths`` fall in each bucket (e.g. the training sources: a bucket
    the training data barely covers is a length the models learned from few examples)."""
    return [len(g) for g in buckets.groups(lengths)]
