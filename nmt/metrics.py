"""sacreBLEU scores (BLEU, chrF, lowercased BLEU) with signatures, and BLEU by length."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sacrebleu.metrics import BLEU, CHRF


def corpus_scores(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> dict[str, object]:
    """Cased BLEU, chrF and lowercased BLEU on detokenized text, each with its signature.

    ``refs`` is a list of reference streams (one list of lines per reference).
    """
    hyps = list(hyps)
    streams = [list(r) for r in refs]
    bleu, chrf, bleu_lc = BLEU(), CHRF(), BLEU(lowercase=True)
    b = bleu.corpus_score(hyps, streams)
    c = chrf.corpus_score(hyps, streams)
    lc = bleu_lc.corpus_score(hyps, streams)
    return {
        "bleu": round(b.score, 2),
        "bleu_signature": str(bleu.get_signature()),
        "bleu_detail": str(b),
        "chrf": round(c.score, 2),
        "chrf_signature": str(chrf.get_signature()),
        "bleu_lc": round(lc.score, 2),
        "bleu_lc_signature": str(bleu_lc.get_signature()),
        "sentences": len(hyps),
    }


def bleu_score(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> float:
    """Cased corpus BLEU only (validation)."""
    return float(BLEU().corpus_score(list(hyps), [list(r) for r in refs]).score)


@dataclass
class Bucket:
    lo: int  # source length in words, inclusive
    hi: int  # inclusive; a large number for the open last bucket
    n: int
    bleu: float

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


def bleu_by_length(
    sources: Sequence[str],
    hyps: Sequence[str],
    refs: Sequence[Sequence[str]],
    edges: Sequence[int] = (10, 15, 20, 25, 30, 40, 50, 60),
    min_count: int = 50,
) -> list[Bucket]:
    """Corpus BLEU of the sentences in each source-length bucket (length in words).

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
        out.append(Bucket(lo, hi, len(idx), round(bleu_score(h, r), 2)))
    return out
