"""sacreBLEU scores (BLEU, chrF, lowercased BLEU) with signatures and 95% bootstrap confidence
intervals, and BLEU by length.

The intervals are sacreBLEU's own (``corpus_score(..., n_bootstrap=N)``, as ``sacrebleu
--confidence``): the test sentences are resampled with replacement N times (seed 12345,
sacreBLEU's default, so a score's interval is reproducible), and the interval is the mean of
the resampled scores plus or minus half the distance between their 2.5th and 97.5th
percentiles (Koehn 2004); the interval reported is the score plus or minus that
half-width. It measures how much the score depends on which sentences happen
to be in the test set, not how much it depends on the training run (seeds do that).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sacrebleu.metrics import BLEU as _SacreBLEU
from sacrebleu.metrics import CHRF as _SacreCHRF
from sacrebleu.metrics.base import Score

#: bootstrap resamples for the 95% confidence intervals (sacreBLEU's --confidence default)
N_BOOTSTRAP = 1000


def interval(score: Score) -> dict[str, object]:
    """sacreBLEU's bootstrap estimate of ``score`` as JSON: the half-width of the 95%
    interval (``ci``, half the distance between the 2.5th and 97.5th percentiles of the
    resampled scores), the bootstrap mean, and the interval ``[score - ci, score + ci]``
    around the score itself, as every table and figure shows it, cut to the scale's 0-100."""
    mean, ci = float(score._mean), float(score._ci)
    if mean < 0:  # no bootstrap ran (sacreBLEU marks that with -1)
        return {}
    value = float(score.score)
    return {
        "ci": round(ci, 2),
        "mean": round(mean, 2),
        "ci95": [round(max(0.0, value - ci), 2), round(min(100.0, value + ci), 2)],
    }


class _FloatScores:
    """sacreBLEU's metric with every resampled score a Python float.

    sacreBLEU 2.x resamples float32 statistics, so a resample scores a numpy float32,
    except one with a zero n-gram precision, which scores the float 0.0; its
    ``estimate_ci`` then hands the mix to ``statistics.mean``, which raises TypeError
    (small or poor test sets, length buckets). The scores themselves are unchanged.
    """

    def _compute_score_from_stats(self, stats):
        score = super()._compute_score_from_stats(stats)
        score.score = float(score.score)
        return score


class BLEU(_FloatScores, _SacreBLEU):
    """sacreBLEU's BLEU (see :class:`_FloatScores`)."""


class CHRF(_FloatScores, _SacreCHRF):
    """sacreBLEU's chrF (see :class:`_FloatScores`)."""


def corpus_scores(
    hyps: Sequence[str], refs: Sequence[Sequence[str]], n_bootstrap: int = 0
) -> dict[str, object]:
    """Cased BLEU, chrF and lowercased BLEU on detokenized text, each with its signature;
    with ``n_bootstrap`` > 1 also the 95% bootstrap interval of BLEU and chrF
    (``bleu_ci`` = its half-width, ``bleu_ci95`` = [low, high], likewise ``chrf_*``).

    ``refs`` is a list of reference streams (one list of lines per reference).
    """
    hyps = list(hyps)
    streams = [list(r) for r in refs]
    bleu, chrf, bleu_lc = BLEU(), CHRF(), BLEU(lowercase=True)
    n = n_bootstrap if n_bootstrap > 1 and hyps else 1
    b = bleu.corpus_score(hyps, streams, n_bootstrap=n)
    c = chrf.corpus_score(hyps, streams, n_bootstrap=n)
    lc = bleu_lc.corpus_score(hyps, streams)
    out: dict[str, object] = {
        "bleu": round(b.score, 2),
        "bleu_signature": str(bleu.get_signature()),
        "bleu_detail": str(b),
        "bleu_bp": round(b.bp, 4),
        "bleu_precisions": [round(x, 2) for x in b.precisions],  # 1- to 4-gram, %
        "length_ratio": round(b.sys_len / b.ref_len, 4) if b.ref_len else None,
        "chrf": round(c.score, 2),
        "chrf_signature": str(chrf.get_signature()),
        "bleu_lc": round(lc.score, 2),
        "bleu_lc_signature": str(bleu_lc.get_signature()),
        "sentences": len(hyps),
    }
    if n > 1:
        for name, score in (("bleu", b), ("chrf", c)):
            out |= {f"{name}_{k}": v for k, v in interval(score).items()}
        out["bootstrap"] = n
    return out


def _from_scores(scores: dict, key: str, detail_name: str) -> float | None:
    """``scores[key]``, or for results written before it was stored, the value sacreBLEU
    printed as ``<detail_name> = x`` in ``bleu_detail``; None when neither has it."""
    if scores.get(key) is not None:
        return float(scores[key])
    found = re.search(rf"\b{detail_name} = ([0-9.]+)", str(scores.get("bleu_detail") or ""))
    return float(found.group(1)) if found else None


def length_ratio(scores: dict) -> float | None:
    """Hypothesis length over reference length (BLEU's ``ratio``), from ``corpus_scores``'s
    ``length_ratio`` or an older result's ``bleu_detail``."""
    return _from_scores(scores, "length_ratio", "ratio")


def corpus_length_ratio(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> float | None:
    """BLEU's length ratio c / r of these sentences: hypothesis length over the effective
    reference length (per sentence the closest reference), in sacreBLEU's 13a tokens
    (Papineni et al. 2002, §2.2.2); None without reference tokens."""
    b = BLEU().corpus_score(list(hyps), [list(r) for r in refs])
    return round(b.sys_len / b.ref_len, 4) if b.ref_len else None


def brevity_penalty(scores: dict) -> float | None:
    """BLEU's brevity penalty, exp(1 - 1/ratio) below ratio 1 (Papineni et al. 2002,
    §2.2.2), as sacreBLEU computed it: ``bleu_bp`` or an older result's ``bleu_detail``."""
    return _from_scores(scores, "bleu_bp", "BP")


def ngram_precisions(scores: dict) -> list[float] | None:
    """BLEU's modified 1- to 4-gram precisions in % (Papineni et al. 2002, Eq. 1):
    ``bleu_precisions``, or an older result's ``bleu_detail`` (``42.9/14.6/6.0/2.7``)."""
    if scores.get("bleu_precisions") is not None:
        return [float(x) for x in scores["bleu_precisions"]]
    found = re.search(
        r"([0-9.]+)/([0-9.]+)/([0-9.]+)/([0-9.]+) \(BP", str(scores.get("bleu_detail") or "")
    )
    return [float(x) for x in found.groups()] if found else None


def with_ci(value: float, ci: float | None) -> str:
    """``36.86 ± 1.20`` (a score and the half-width of its 95% interval), or the score."""
    return f"{value:.2f}" if ci is None else f"{value:.2f} ± {ci:.2f}"


def format_ci(scores: dict, metric: str = "bleu") -> str:
    """``scores[metric]`` with its interval (``scores[metric + "_ci"]``), or ""."""
    value = scores.get(metric)
    return "" if value is None else with_ci(value, scores.get(f"{metric}_ci"))


def bleu_score(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> float:
    """Cased corpus BLEU only (validation)."""
    return float(BLEU().corpus_score(list(hyps), [list(r) for r in refs]).score)


def bleu_with_ci(
    hyps: Sequence[str], refs: Sequence[Sequence[str]], n_bootstrap: int = N_BOOTSTRAP
) -> tuple[float, float | None]:
    """Cased corpus BLEU and the half-width of its 95% bootstrap interval (None for n < 2)."""
    hyps = list(hyps)
    if n_bootstrap < 2 or not hyps:
        return bleu_score(hyps, refs), None
    score = BLEU().corpus_score(hyps, [list(r) for r in refs], n_bootstrap=n_bootstrap)
    return float(score.score), round(float(score._ci), 2)


@dataclass
class Bucket:
    lo: int  # source length in words, inclusive
    hi: int  # inclusive; a large number for the open last bucket
    n: int
    bleu: float
    bleu_ci: float | None = None  # half-width of the 95% bootstrap interval (when computed)

    @property
    def label(self) -> str:
        return f"{self.lo}+" if self.hi >= 10**6 else f"{self.lo}-{self.hi}"


def length_buckets(lengths: Sequence[int], edges: Sequence[int], min_count: int) -> list[tuple]:
    """Cut source lengths at ``edges`` and merge buckets smaller than ``min_count`` upward.

    Returns ``[(lo, hi), ...]`` covering every length.
    """
    bounds = sorted({int(e) for e in edges if e > 0})
    ranges = []
    lo = 0
    for e in bounds:
        ranges.append([lo, e])
        lo = e + 1
    ranges.append([lo, 10**6])
    counts = [sum(r[0] <= n <= r[1] for n in lengths) for r in ranges]
    merged: list[list[int]] = []
    carry_lo, carry_n = None, 0
    for (r_lo, r_hi), c in zip(ranges, counts, strict=True):
        lo = r_lo if carry_lo is None else carry_lo
        carry_n += c
        if carry_n >= min_count:
            merged.append([lo, r_hi])
            carry_lo, carry_n = None, 0
        else:
            carry_lo = lo
    if carry_lo is not None:  # leftover small tail joins the last full bucket
        if merged:
            merged[-1][1] = 10**6
        else:
            merged.append([carry_lo, 10**6])
    return [tuple(r) for r in merged]


#: default upper bounds (source words) of the BLEU-by-length buckets of a run's results
LENGTH_EDGES = (10, 15, 20, 25, 30, 40, 50, 60)
#: fewest sentences in a length bucket: a smaller one joins its neighbour
MIN_BUCKET = 50


def bleu_by_length(
    sources: Sequence[str],
    hyps: Sequence[str],
    refs: Sequence[Sequence[str]],
    edges: Sequence[int] = LENGTH_EDGES,
    min_count: int = MIN_BUCKET,
    n_bootstrap: int = 0,
) -> list[Bucket]:
    """Corpus BLEU of the sentences in each source-length bucket (length in words), with
    the 95% bootstrap interval of each bucket's BLEU when ``n_bootstrap`` > 1.

    The figure of Bahdanau et al. (2015), Fig. 2: buckets with fewer than
    ``min_count`` sentences are merged into their neighbour so each score means something.
    """
    lengths = [len(s.split()) for s in sources]
    out = []
    for lo, hi in length_buckets(lengths, edges, min_count):
        idx = [i for i, n in enumerate(lengths) if lo <= n <= hi]
        if not idx:
            continue
        h = [hyps[i] for i in idx]
        r = [[stream[i] for i in idx] for stream in refs]
        bleu, ci = bleu_with_ci(h, r, n_bootstrap)
        out.append(Bucket(lo, hi, len(idx), round(bleu, 2), ci))
    return out
