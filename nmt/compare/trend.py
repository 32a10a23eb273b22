"""Does the gap between two systems change with source length? A test of the trend itself.

Comparing two systems' BLEU bucket by bucket says where one is ahead; whether its lead
*grows* with length is another claim, about the difference of two differences. For
systems A and B and a short and a long bucket,

    DiD = (BLEU_A(long) - BLEU_B(long)) - (BLEU_A(short) - BLEU_B(short)),

and over all buckets the slope of the gap ``BLEU_A(k) - BLEU_B(k)`` regressed (least
squares) on the buckets' mean source length, in BLEU per source word.

Both are tested with a paired bootstrap (Koehn 2004; Efron & Tibshirani 1993, §16): each
resample draws every bucket's sentences with replacement once, for both systems alike, and
recomputes corpus BLEU from the sentences' sufficient statistics (sacreBLEU's BLEU, its
default ``exp`` smoothing, :func:`bleu_from_stats`). With several seeds per system the
bootstrap is hierarchical: each resample also draws each system's seeds with replacement
and scores the mean BLEU over the drawn seeds, so the interval holds training noise as
well as test-set sampling. The interval is the 2.5-97.5 percentile of the resampled
statistic; the two-sided p-value is that of the bootstrap's shifted null (how often a
resampled statistic lies as far from the observed one as the observed one lies from 0).

Many p-values at once (one pair across buckets, all pairs on one split) are corrected with
the Benjamini-Hochberg step-up procedure (:func:`bh_qvalues`): a q-value below 0.05 keeps
the expected share of false discoveries among the reported ones under 5%.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sacrebleu.metrics import BLEU

#: resamples of the trend test: its smallest p-value is 1 / (1 + resamples)
N_TREND_RESAMPLES = 10_000
ORDER = 4  # BLEU's n-gram orders


def sentence_stats(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> np.ndarray:
    """sacreBLEU's sufficient statistics per sentence: (N, 2 + 2 * 4) = hypothesis and
    reference length, matched and total n-grams of orders 1-4 (``refs``: streams)."""
    streams = [list(r) for r in refs]
    stats = BLEU()._extract_corpus_statistics(list(hyps), streams)
    return np.asarray(stats, dtype=np.float64).reshape(len(hyps), 2 + 2 * ORDER)


def bleu_from_stats(stats: np.ndarray) -> np.ndarray:
    """Corpus BLEU (0-100) from summed statistics (..., 10), as sacreBLEU computes it with
    ``exp`` smoothing and without effective order; vectorised over the leading axes."""
    sys_len, ref_len = stats[..., 0], stats[..., 1]
    correct, total = stats[..., 2 : 2 + ORDER], stats[..., 2 + ORDER :]
    with np.errstate(divide="ignore", invalid="ignore"):
        bp = np.where(
            sys_len < ref_len, np.where(sys_len > 0, np.exp(1 - ref_len / sys_len), 0.0), 1.0
        )
        zeros = np.cumsum(correct == 0, axis=-1)  # mteval's smoothing doubles per empty order
        precision = np.where(correct > 0, 100.0 * correct / total, 100.0 / (2.0**zeros * total))
        score = bp * np.exp(np.log(precision).mean(axis=-1))
    dead = (correct.sum(axis=-1) == 0) | (total == 0).any(axis=-1)
    return np.where(dead, 0.0, score)


@dataclass(frozen=True)
class Estimate:
    """A bootstrapped statistic: its value, 95% interval and two-sided p-value."""

    value: float
    low: float
    high: float
    p: float


@dataclass(frozen=True)
class Trend:
    """How the gap A - B changes with length (A: typically the attentive system)."""

    did: Estimate  # long-bucket gap minus short-bucket gap, BLEU
    slope: Estimate  # gap per source word over all buckets, BLEU per word
    gaps: tuple[float, ...]  # the observed gap per bucket
    #: each bucket's gap's 95% interval (low, high), from the same resamples
    gap_intervals: tuple[tuple[float, float], ...]
    lengths: tuple[float, ...]  # each bucket's mean source length
    seeds: tuple[int, int]  # runs of A and of B
    resamples: int


def _estimate(value: float, samples: np.ndarray) -> Estimate:
    low, high = np.percentile(samples, [2.5, 97.5])
    far = np.abs(samples - value) >= abs(value) - 1e-9
    p = (1 + int(far.sum())) / (1 + len(samples)) if value != 0 else 1.0
    return Estimate(float(value), float(low), float(high), float(p))


def _slope(x: np.ndarray, gaps: np.ndarray) -> np.ndarray:
    """Least-squares slope of ``gaps`` (..., K) on ``x`` (K,)."""
    xc = x - x.mean()
    return (gaps * xc).sum(axis=-1) / max(float((xc**2).sum()), 1e-12)


def trend_test(
    a: Sequence[Sequence[str]],
    b: Sequence[Sequence[str]],
    refs: Sequence[Sequence[str]],
    buckets: Sequence[Sequence[int]],
    lengths: Sequence[int],
    *,
    short: int = 0,
    long: int = -1,
    resamples: int = N_TREND_RESAMPLES,
    seed: int = 12345,
    chunk: int = 200,
) -> Trend:
    """The trend test of systems ``a`` and ``b`` (each a list of seeds' hypotheses, one per
    test sentence) over the sentence indices of each length bucket (``buckets``, shortest
    first; ``lengths``: source length per sentence). ``short``/``long``: the buckets of the
    difference-in-differences (default: the first and the last)."""
    if len(buckets) < 2:
        raise ValueError("the trend test needs at least two length buckets")
    rng = np.random.default_rng(seed)
    # per system and bucket: every seed's statistics of the bucket's sentences (S, n_k, 10)
    stats = [
        [np.stack([s[np.asarray(idx)] for s in seeds]) for idx in buckets]
        for seeds in ([sentence_stats(h, refs) for h in sys] for sys in (a, b))
    ]
    x = np.array([float(np.mean([lengths[i] for i in idx])) for idx in buckets])
    short, long = range(len(buckets))[short], range(len(buckets))[long]

    def gaps(pick_seeds: list[np.ndarray], pick: list[np.ndarray] | None) -> np.ndarray:
        """Gap per bucket (R, K): mean BLEU over the picked seeds of A minus that of B."""
        out = []
        for k in range(len(buckets)):
            means = []
            for sys_stats, chosen in zip(stats, pick_seeds, strict=True):
                per_seed = sys_stats[k]  # (S, n_k, 10)
                rows = per_seed if pick is None else per_seed[:, pick[k]]  # (S, R, n_k, 10)
                bleu = bleu_from_stats(rows.sum(axis=-2))  # (S,) or (S, R)
                bleu = bleu[chosen] if pick is None else np.take_along_axis(bleu, chosen, 0)
                means.append(bleu.mean(axis=0))
            out.append(means[0] - means[1])
        return np.stack(out, axis=-1)

    observed = gaps([np.arange(len(a)), np.arange(len(b))], None)
    samples = []
    for start in range(0, resamples, chunk):
        r = min(chunk, resamples - start)
        pick = [rng.integers(0, len(idx), size=(r, len(idx))) for idx in buckets]
        chosen = [rng.integers(0, n, size=(n, r)) for n in (len(a), len(b))]
        samples.append(gaps(chosen, pick))
    boot = np.concatenate(samples)  # (resamples, K)
    did = observed[long] - observed[short]
    return Trend(
        did=_estimate(did, boot[:, long] - boot[:, short]),
        slope=_estimate(float(_slope(x, observed)), _slope(x, boot)),
        gaps=tuple(float(g) for g in observed),
        gap_intervals=tuple(
            (float(lo), float(hi)) for lo, hi in np.percentile(boot, [2.5, 97.5], axis=0).T
        ),
        lengths=tuple(float(v) for v in x),
        seeds=(len(a), len(b)),
        resamples=resamples,
    )


def mean_bleu_interval(
    seeds: Sequence[Sequence[str]],
    refs: Sequence[Sequence[str]],
    *,
    resamples: int = N_TREND_RESAMPLES,
    seed: int = 12345,
    chunk: int = 100,
) -> Estimate:
    """The mean corpus BLEU over a system's seeds (each a list of hypotheses) and its 95%
    interval from the hierarchical bootstrap of :func:`trend_test`: each resample draws the
    seeds with replacement and the test sentences with replacement (the same sentences for
    every seed), so the interval holds training noise and test-set sampling. Its p-value
    (against 0) means nothing and is left at 1."""
    rng = np.random.default_rng(seed)
    stats = np.stack([sentence_stats(h, refs) for h in seeds])  # (S, N, 10)
    n_seeds, n = stats.shape[:2]
    value = float(bleu_from_stats(stats.sum(axis=1)).mean())
    samples = []
    for start in range(0, resamples, chunk):
        r = min(chunk, resamples - start)
        pick = rng.integers(0, n, size=(r, n))
        chosen = rng.integers(0, n_seeds, size=(r, n_seeds))
        bleu = bleu_from_stats(stats[:, pick].sum(axis=-2))  # (S, R)
        samples.append(np.take_along_axis(bleu.T, chosen, axis=1).mean(axis=1))
    low, high = np.percentile(np.concatenate(samples), [2.5, 97.5])
    return Estimate(value, float(low), float(high), 1.0)


def bh_qvalues(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg q-values of one family of p-values (in their order): the
    smallest false-discovery rate at which each would be declared significant."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.size == 0:
        return []
    order = np.argsort(p)
    ranked = p[order] * p.size / np.arange(1, p.size + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1.0)
    out = np.empty_like(q)
    out[order] = q
    return [float(v) for v in out]
