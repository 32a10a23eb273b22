"""The vocabulary map of ``nmt-export ct2 --vocab-map``: IBM Model 1 over the training pairs,
written as CTranslate2's ``vmap.txt``."""

from __future__ import annotations

import random

from nmt.export.vocab_map import build_vocab_map, ibm1, sample, top_candidates


def pairs_of_a_lexicon(n: int = 2000) -> list[tuple[list[int], list[int]]]:
    """Source word w translates into w + 30, in shuffled order, plus a target word (60) that
    no source word explains."""
    rng = random.Random(0)
    pairs = []
    for _ in range(n):
        src = [rng.randrange(4, 30) for _ in range(rng.randrange(3, 9))]
        tgt = [s + 30 for s in src] + [60]
        rng.shuffle(tgt)
        pairs.append((src, tgt))
    return pairs


def test_ibm1_finds_each_words_translation_and_gives_the_rest_to_null():
    f, e, t = ibm1(pairs_of_a_lexicon(), 30, 61)
    best = top_candidates(f, e, t, per_source=1, min_prob=0.0)
    assert all(best[w] == [w + 30] for w in range(4, 30))
    assert best[30] == [60]  # the NULL word (id = source vocabulary size)
    # t(. | f) is a distribution for every source word
    sums = {}
    for fi, ti in zip(f.tolist(), t.tolist(), strict=True):
        sums[fi] = sums.get(fi, 0.0) + ti
    assert all(abs(v - 1.0) < 1e-9 for v in sums.values())


def test_the_map_is_ctranslate2s_format_without_special_pieces():
    src = [f"s{i}" for i in range(30)]
    tgt = [f"t{i}" for i in range(61)]
    text, summary = build_vocab_map(
        pairs_of_a_lexicon(), src, tgt, special=(0, 1, 2, 3), per_source=2, frequent=1
    )
    lines = text.splitlines()
    # the empty key: pieces always scored (the most frequent, and NULL's)
    key, always = lines[0].split("\t")
    assert key == "" and set(always.split()) == {"t60"}
    rules = dict(line.split("\t") for line in lines[1:])
    assert set(rules) == {f"s{i}" for i in range(4, 30)}  # no special piece is a key
    assert all(f"t{w + 30}" in rules[f"s{w}"].split() for w in range(4, 30))
    assert all(len(v.split()) <= 2 for v in rules.values())
    assert summary["pairs"] == 2000 and summary["sources"] == 26 and summary["always"] == 1


def test_a_joint_vocabulary_maps_a_piece_to_itself():
    pieces = [f"p{i}" for i in range(40)]
    pairs = [([5, 6], [7, 8]), ([6, 5], [8, 7])]
    text, _ = build_vocab_map(pairs, pieces, pieces, special=(0, 1, 2, 3), frequent=0)
    rules = dict(line.split("\t") for line in text.splitlines()[1:])
    assert "p5" in rules["p5"].split() and {"p7", "p8"} <= set(rules["p5"].split())


def test_sample_spreads_evenly_and_keeps_small_corpora_whole():
    assert sample(5, 10) == [0, 1, 2, 3, 4]
    picked = sample(1000, 5)
    assert picked[0] == 0 and picked[-1] == 999 and len(set(picked)) == 5
