"""Analyse: the collected runs -> one frozen :class:`Comparison`, everything the report
says computed in one go.

Reads the shared test set once, scores every run per source-length bucket (BLEU with 95%
intervals; exact match on synthetic corpora), tests every two variants against each other
(:mod:`nmt.compare.significance`), measures output length (:mod:`nmt.compare.output_length`),
judges convergence (:mod:`nmt.compare.convergence`), averages checkpoints
(:mod:`nmt.compare.averaging`), translates the heat maps' sentences
(:mod:`nmt.compare.attention`) and lays out the tables (:mod:`nmt.compare.rows`). The
rendering (:mod:`nmt.compare.render`) only formats what is here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from nmt.compare import lengths as L
from nmt.compare import stats as S
from nmt.compare.attention import Attention, heat_maps
from nmt.compare.averaging import Averaging, average_runs
from nmt.compare.collect import Collected
from nmt.compare.convergence import Convergence, judge_convergence
from nmt.compare.grouping import Group
from nmt.compare.output_length import (
    OutputLengths,
    RecordedBuckets,
    ratio_tables,
    recorded_buckets,
    whole_split_lengths,
)
from nmt.compare.reach import GroupReach, group_reach
from nmt.compare.rows import Tables, tables
from nmt.compare.rundir import Run
from nmt.compare.significance import (
    Significance,
    corrected,
    extra_hypotheses,
    extra_split_tests,
    pair_tests,
)
from nmt.compare.trend import N_TREND_RESAMPLES, mean_bleu_interval
from nmt.compare.trends import PairTrend, pair_trends
from nmt.data.config import as_data_config
from nmt.data.corpora import split_roles
from nmt.data.prepare import read_text, train_source_words
from nmt.errors import ConfigError
from nmt.evaluation.metrics import LENGTH_EDGES, N_BOOTSTRAP


@dataclass(frozen=True)
class TestSplit:
    """The test split every run was scored on, and its length buckets."""

    name: str
    size: int  # sentences
    buckets: L.Buckets  # the common source-length buckets
    extra: tuple[str, ...]  # the extra test splits every run scored


@dataclass(frozen=True)
class BucketScores:
    """Every run's scores per length bucket (keyed by run label)."""

    bleu: dict[str, list[float]]  # BLEU per length bucket
    bleu_ci: dict[str, list[float | None]]  # half-width of its 95% interval
    #: synthetic corpora: exact-match accuracy (%, low, high), per bucket and its interval
    exact: dict[str, tuple[float, float, float]] | None = None
    exact_by_length: dict[str, list[float]] | None = None
    exact_by_length_ci: dict[str, list[tuple[float, float]]] | None = None


@dataclass(frozen=True)
class Curves:
    """Validation BLEU against training, per run: target tokens trained (millions) when
    every run recorded them, else training minutes."""

    tokens: bool  # x is target tokens trained (else training minutes)
    points: dict[str, tuple[list[float], list[float]]]  # run label -> (x, validation BLEU)
    drawn: bool  # some run has a point


@dataclass(frozen=True)
class Comparison:
    """Everything the report is written from (per-run dicts are keyed by run label)."""

    runs: tuple[Run, ...]  # the seeds of a variant together
    groups: tuple[Group, ...]
    #: decoding setting (or "tokenizer") -> value per run, where the runs differ
    mismatches: dict[str, dict[str, Any]]
    test: TestSplit
    scores: BucketScores
    tables: Tables
    significance: Significance
    lengths: OutputLengths
    extra_buckets: tuple[RecordedBuckets, ...]  # BLEU by length on the extra splits
    convergence: Convergence
    curves: Curves
    averaging: Averaging
    attention: Attention
    #: the trend test of every (attentive, fixed-vector) pair (:mod:`nmt.compare.trends`)
    trends: tuple[PairTrend, ...] = ()
    #: every group's reach: the longest inputs it still gets right (:mod:`nmt.compare.reach`)
    reach: tuple[GroupReach, ...] = ()
    #: resamples of the trend tests and of the seeded groups' intervals of their mean BLEU
    trend_resamples: int = N_TREND_RESAMPLES

    @property
    def seeded(self) -> bool:
        """Some variant has more than one seed."""
        return any(len(g.runs) > 1 for g in self.groups)


def bucket_scores(
    runs: Sequence[Run],
    test: Any,
    hyps: dict[str, list[str]],
    lengths: list[int],
    buckets: L.Buckets,
    synthetic: bool,
) -> BucketScores:
    """BLEU per bucket with 95% intervals; on synthetic corpora also exact match, on the
    whole test set and per bucket, with Wilson intervals."""
    bleu, bleu_ci, exact, exact_len, exact_len_ci = {}, {}, {}, {}, {}
    for run in runs:
        h = hyps[run.label]
        scored = L.bleu_per_bucket(test.src, h, test.refs, buckets, n_bootstrap=N_BOOTSTRAP)
        bleu[run.label] = [b for b, _ in scored]
        bleu_ci[run.label] = [ci for _, ci in scored]
        if synthetic:
            ref = test.refs[0]
            exact[run.label] = (L.exact_match(h, ref), *S.wilson(L.exact_hits(h, ref), len(h)))
            exact_len[run.label] = L.exact_match_per_bucket(lengths, h, ref, buckets)
            exact_len_ci[run.label] = [
                S.wilson(L.exact_hits([h[i] for i in g], [ref[i] for i in g]), len(g))
                for g in buckets.groups(lengths)
            ]
    if not synthetic:
        return BucketScores(bleu, bleu_ci)
    return BucketScores(bleu, bleu_ci, exact, exact_len, exact_len_ci)


def curves(runs: Sequence[Run]) -> Curves:
    """Each run's validation BLEU against target tokens trained when every run recorded
    them (the budget that is equal by construction), else against training minutes."""
    tokens = all("train_tgt_tokens" in m for r in runs for m in r.metrics)
    points = {
        r.label: (
            [
                m["train_tgt_tokens"] / 1e6 if tokens else m.get("train_seconds", 0) / 60
                for m in r.metrics
            ],
            [m.get("valid_bleu", 0) for m in r.metrics],
        )
        for r in runs
    }
    return Curves(tokens, points, any(xs for xs, _ in points.values()))


def read_test_hypotheses(runs: Sequence[Run], n_test: int) -> dict[str, list[str]]:
    """Every run's test hypotheses by label; a run with a line count other than the test
    set's was tested on different data (ConfigError)."""
    hyps = {}
    for run in runs:
        h = hyps[run.label] = run.hypotheses()
        if len(h) != n_test:
            raise ConfigError(
                f"{run.path}: {len(h)} test hypotheses but the test set has {n_test} "
                "sentences; the run was tested on different data"
            )
    return hyps


def analyse(
    collected: Collected,
    *,
    device: str = "cpu",
    root: str | None = None,
    min_count: int | None = None,
    n_sentences: int = 3,
    average_last: int | None = None,
    edges: Sequence[int] | None = None,
    trend_resamples: int = N_TREND_RESAMPLES,
    paired_resamples: int = N_BOOTSTRAP,
    log: Callable[[str], None] = print,
) -> Comparison:
    """Read the shared test set and score every run on the common length buckets, with
    95% intervals; test every two variants against each other; average checkpoints;
    translate the heat maps' sentences.

    ``edges``: length buckets cut at these source lengths (default: the runs'
    ``data.length_edges``, else equal-count buckets). ``average_last``: also score the
    mean of each run's last N kept checkpoints against its best one (None: the fewest
    that every run kept with ``train.keep_last``; 0: no). ``trend_resamples``: resamples
    of the trend test (0: none); ``paired_resamples``: of every paired test."""
    runs, groups = collected.runs, collected.groups
    data_cfg = as_data_config(runs[0].data_config)
    if root:
        data_cfg.root = root
    eval_roles = [role for role in split_roles(data_cfg) if role != "train"]
    texts, _ = read_text(data_cfg, log=log, roles=eval_roles)  # never the (large) train text
    test = texts["test"]
    lengths = L.source_lengths(test.src)
    buckets = L.common_buckets(lengths, min_count, edges or data_cfg.length_edges)
    if edges:
        buckets = replace(buckets, origin="`--edges`")
    synthetic = data_cfg.name == "synthetic"
    hyps = read_test_hypotheses(runs, len(test.src))
    scores = bucket_scores(runs, test, hyps, lengths, buckets, synthetic)
    extra = [n for n in runs[0].results["test"] if n != "test"]
    extra = tuple(n for n in extra if all(n in r.results["test"] for r in runs))
    split = TestSplit(data_cfg.test, len(test.src), buckets, extra)
    log(f"paired significance tests between {len(groups)} variants ...")
    pairs = pair_tests(groups, hyps, test.refs, lengths, buckets, paired_resamples)
    extra_hyps = extra_hypotheses(runs, extra, texts, log)
    extra_tests = extra_split_tests(groups, texts, extra_hyps, paired_resamples)
    significance = corrected(Significance(pairs, extra_tests, split.name, paired_resamples))
    ratio_edges = data_cfg.length_edges or LENGTH_EDGES
    by_bucket = ratio_tables(
        runs, texts, train_source_words(data_cfg, log), (split.name, lengths, buckets, hyps),
        extra_hyps, ratio_edges,
    )  # fmt: skip
    output_lengths = OutputLengths(
        (split.name, *extra), whole_split_lengths(runs, split.name, extra), by_bucket
    )
    recorded_edges = runs[0].data_config.get("length_edges") or LENGTH_EDGES
    seed_intervals = {
        g.label: mean_bleu_interval(
            [hyps[r.label] for r in g.runs], test.refs, resamples=trend_resamples
        )
        for g in groups
        if len(g.runs) > 1 and trend_resamples > 0
    }
    averaging = average_runs(runs, average_last, test, split.name, device, log)
    return Comparison(
        runs=runs,
        groups=groups,
        mismatches=collected.mismatches,
        test=split,
        scores=scores,
        tables=tables(runs, groups, extra, scores.exact, seed_intervals),
        significance=significance,
        lengths=output_lengths,
        extra_buckets=recorded_buckets(runs, extra, recorded_edges),
        convergence=judge_convergence(runs, groups),
        curves=curves(runs),
        averaging=averaging,
        attention=heat_maps(groups, test.src, n_sentences, device, log),
        trends=pair_trends(groups, hyps, test.refs, lengths, buckets, trend_resamples),
        reach=group_reach(
            groups,
            scores.exact_by_length if scores.exact_by_length is not None else scores.bleu,
            buckets,
            "exact match" if scores.exact_by_length is not None else "BLEU",
        ),
        trend_resamples=trend_resamples,
    )
