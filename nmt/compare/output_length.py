"""Analyse: output length -- each run's hypothesis length against the reference on every
test split, as a whole and per source-length bucket, beside how many training pairs have
a source of that length; and BLEU by source length on the extra splits as the runs
recorded it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nmt.compare import lengths as L
from nmt.compare.rundir import Run
from nmt.evaluation.metrics import brevity_penalty, length_ratio, ngram_precisions


@dataclass(frozen=True)
class SplitLength:
    """A run's output length on one whole test split, as sacreBLEU measured it."""

    ratio: float | None  # hypothesis length / reference length
    brevity_penalty: float | None
    precisions: tuple[float, ...] | None  # modified 1- to 4-gram precisions (%)


@dataclass(frozen=True)
class OutputLengths:
    """Every run's output length on every test split."""

    splits: tuple[str, ...]  # the test split, then the extra ones
    whole: dict[str, tuple[SplitLength, ...]]  # run label -> per split
    #: test split -> output length against the reference per source-length bucket
    by_bucket: dict[str, L.RatioTable]


@dataclass(frozen=True)
class RecordedBuckets:
    """BLEU by source length on one extra test split, as each run scored it with its best
    checkpoint at the end of training (results.json)."""

    split: str
    same: bool  # every run cut the split into the same buckets (else nothing below)
    labels: tuple[str, ...] = ()  # as results.json writes them ("lo-hi")
    counts: tuple[int, ...] = ()
    bleu: dict[str, list[float]] | None = None  # run label -> BLEU per bucket
    bleu_ci: dict[str, list[float | None]] | None = None
    edges: tuple[int, ...] = ()  # where the runs' data.length_edges cut the split


def whole_split_lengths(
    runs: Sequence[Run], test_name: str, extra_tests: Sequence[str]
) -> dict[str, tuple[SplitLength, ...]]:
    """Each run's length ratio, brevity penalty and n-gram precisions on the test split
    (``test_name``) and each extra split, from its results.json."""
    out = {}
    for r in runs:
        cells = []
        for split in (test_name, *extra_tests):
            scores = r.test_scores("test" if split == test_name else split)
            p = ngram_precisions(scores)
            cells.append(
                SplitLength(
                    length_ratio(scores), brevity_penalty(scores), None if p is None else tuple(p)
                )
            )
        out[r.label] = tuple(cells)
    return out


def ratio_tables(
    runs: Sequence[Run],
    texts: dict[str, Any],
    train_words: Mapping[int, int] | None,
    test: tuple[str, list[int], L.Buckets, Mapping[str, list[str]]],
    extra: dict[str, dict[str, list[str]]],
    edges: Sequence[int],
) -> dict[str, L.RatioTable]:
    """Every run's length ratio per source-length bucket on the test split (``test``: its
    name, source lengths, common buckets and the runs' hypotheses) and on each extra split
    (cut at ``edges``, as the runs' results.json cut it), beside how many training pairs
    have a source of that length (``train_words``: training pairs per source length)."""
    test_name, lengths, buckets, hyps = test
    splits = [(test_name, texts["test"], lengths, buckets, hyps)]
    for name, h in extra.items():
        split = texts[name]
        split_lengths = L.source_lengths(split.src)
        splits.append((name, split, split_lengths, L.common_buckets(split_lengths, None, edges), h))
    return {
        name: L.RatioTable(
            labels=b.labels,
            counts=b.counts,
            train=None if train_words is None else L.count_words_per_bucket(train_words, b),
            ratios={
                r.label: L.length_ratio_per_bucket(split_lengths, h[r.label], split.refs, b)
                for r in runs
            },
        )
        for name, split, split_lengths, b, h in splits
    }


def recorded_buckets(
    runs: Sequence[Run], extra_tests: Sequence[str], edges: Sequence[int]
) -> tuple[RecordedBuckets, ...]:
    """BLEU by source length on each extra test split as every run recorded it (a split
    some run has no such record of is left out); ``edges``: the first run's cut points."""
    out = []
    for name in extra_tests:
        per_run = [r.test_scores(name).get("bleu_by_length") for r in runs]
        if not all(per_run):
            continue
        labels = [b["label"] for b in per_run[0]]
        if any([b["label"] for b in buckets] != labels for buckets in per_run):
            out.append(RecordedBuckets(name, same=False))
            continue
        out.append(
            RecordedBuckets(
                name,
                same=True,
                labels=tuple(labels),
                counts=tuple(b["n"] for b in per_run[0]),
                bleu={r.label: [b["bleu"] for b in p] for r, p in zip(runs, per_run, strict=True)},
                bleu_ci={
                    r.label: [b.get("bleu_ci") for b in p]
                    for r, p in zip(runs, per_run, strict=True)
                },
                edges=tuple(edges),
            )
        )
    return tuple(out)
