"""The trend test: BLEU from sufficient statistics as sacreBLEU computes it, the
difference-in-differences and the slope of a gap with length under a paired (and, with
seeds, hierarchical) bootstrap, and Benjamini-Hochberg q-values."""

from __future__ import annotations

import random

import numpy as np
import pytest
from sacrebleu.metrics import BLEU

from nmt.compare.trend import (
    bh_qvalues,
    bleu_from_stats,
    mean_bleu_interval,
    sentence_stats,
    trend_test,
)

WORDS = ["the", "a", "cat", "dog", "sat", "ran", "on", "under", "mat", "log", "red", "blue"]


def sentences(n: int, seed: int, lo: int = 3, hi: int = 12) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.randint(lo, hi))) for _ in range(n)]


def damaged(lines: list[str], share: float, seed: int) -> list[str]:
    """Each sentence with about ``share`` of its words replaced."""
    rng = random.Random(seed)
    return [" ".join(w if rng.random() > share else "zzz" for w in s.split()) for s in lines]


@pytest.mark.parametrize("share", [0.0, 0.3, 0.7, 1.0])
def test_bleu_from_statistics_is_sacrebleus_corpus_bleu(share):
    refs = sentences(60, 1)
    hyps = damaged(refs, share, 2)
    hyps[3] = ""  # an empty hypothesis, and one shorter than its reference
    hyps[4] = refs[4].split()[0]
    ours = float(bleu_from_stats(sentence_stats(hyps, [refs]).sum(axis=0)))
    assert ours == pytest.approx(BLEU().corpus_score(hyps, [refs]).score, abs=1e-9)


def test_the_lead_that_grows_with_length_is_found_and_an_even_one_is_not():
    refs = sentences(120, 3, lo=3, hi=6) + sentences(120, 4, lo=20, hi=30)
    lengths = [len(s.split()) for s in refs]  # sources as long as their references
    buckets = [list(range(120)), list(range(120, 240))]
    attentive = damaged(refs, 0.1, 5)  # as good on long sentences as on short ones
    fixed = damaged(refs[:120], 0.1, 6) + damaged(refs[120:], 0.6, 7)  # collapses when long
    grows = trend_test([attentive], [fixed], [refs], buckets, lengths, resamples=400)
    assert grows.did.value > 20 and grows.did.low > 0 and grows.did.p < 0.01
    assert grows.slope.value > 0 and grows.slope.low > 0
    assert grows.gaps[1] > grows.gaps[0] and grows.lengths[0] < grows.lengths[1]
    for gap, (low, high) in zip(grows.gaps, grows.gap_intervals, strict=True):
        assert low < gap < high  # each bucket's gap with its interval
    assert grows.gap_intervals[1][0] > grows.gap_intervals[0][1]  # apart: the lead grew
    same = trend_test([attentive], [attentive], [refs], buckets, lengths, resamples=100)
    assert same.did.value == 0 and same.did.p == 1.0


def test_two_draws_of_one_system_are_rejected_at_about_the_nominal_rate():
    """Under the null (the same damage at every length, drawn twice) the test rejects at
    5% about once in twenty."""
    refs = sentences(60, 20, lo=3, hi=6) + sentences(60, 21, lo=20, hi=30)
    lengths = [len(s.split()) for s in refs]
    buckets = [list(range(60)), list(range(60, 120))]
    tests = [
        trend_test(
            [damaged(refs, 0.2, 2 * s)],
            [damaged(refs, 0.2, 2 * s + 1)],
            [refs],
            buckets,
            lengths,
            resamples=200,
            seed=s,
        )
        for s in range(20)
    ]
    rejected = sum(t.did.p < 0.05 for t in tests)
    covered = sum(t.did.low <= 0 <= t.did.high for t in tests)
    assert rejected <= 3 and covered >= 17, (rejected, covered)


def test_seeds_widen_the_interval_by_their_training_noise():
    refs = sentences(80, 9, lo=3, hi=6) + sentences(80, 10, lo=20, hi=30)
    lengths = [len(s.split()) for s in refs]
    buckets = [list(range(80)), list(range(80, 160))]
    a = damaged(refs, 0.1, 11)
    b_seeds = [damaged(refs[:80], 0.1, s) + damaged(refs[80:], 0.2 + 0.3 * i, s)
               for i, s in enumerate((12, 13, 14))]  # fmt: skip
    one = trend_test([a], b_seeds[1:2], [refs], buckets, lengths, resamples=400)
    three = trend_test([a], b_seeds, [refs], buckets, lengths, resamples=400)
    assert three.seeds == (1, 3)
    assert three.did.high - three.did.low > 1.5 * (one.did.high - one.did.low)


def test_mean_bleu_over_seeds_has_an_interval_with_their_training_noise():
    refs = sentences(150, 30, lo=5, hi=12)
    seeds = [damaged(refs, share, s) for share, s in ((0.2, 31), (0.35, 32), (0.5, 33))]
    scores = [BLEU().corpus_score(h, [refs]).score for h in seeds]
    three = mean_bleu_interval(seeds, [refs], resamples=400)
    one = mean_bleu_interval(seeds[1:2], [refs], resamples=400)
    assert three.value == pytest.approx(float(np.mean(scores)), abs=1e-6)
    assert three.low < three.value < three.high and one.low < scores[1] < one.high
    assert three.high - three.low > 1.5 * (one.high - one.low)  # seeds far apart: wider
    again = mean_bleu_interval(seeds, [refs], resamples=400)
    assert (again.low, again.high) == (three.low, three.high)  # seeded: reproducible


def test_benjamini_hochberg_q_values():
    p = [0.01, 0.04, 0.03, 0.005, 0.5]
    # sorted 0.005 0.01 0.03 0.04 0.5 -> x5/rank 0.025 0.025 0.05 0.05 0.5, then step-up minima
    assert bh_qvalues(p) == pytest.approx([0.025, 0.05, 0.05, 0.025, 0.5])
    assert bh_qvalues([]) == [] and bh_qvalues([0.9, 0.95]) == pytest.approx([0.95, 0.95])
    assert all(q >= p for q, p in zip(bh_qvalues(p), p, strict=True))
    assert np.all(np.array(bh_qvalues([0.001] * 10)) == pytest.approx(0.001))
