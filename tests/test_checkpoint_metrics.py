"""Checkpoints (atomic, weights_only, clear errors) and sacreBLEU scoring helpers."""

from __future__ import annotations

import itertools

import pytest
import sacrebleu
import torch

from nmt.errors import CheckpointError
from nmt.evaluation.metrics import (
    bleu_by_length,
    corpus_scores,
    length_buckets,
    length_ratio,
    ngram_precisions,
)
from nmt.runs.checkpoint import load_checkpoint, save_checkpoint


def payload() -> dict:
    return {
        "model": {"w": torch.ones(3)},
        "model_config": {"name": "seq2seq"},
        "tokenizer": {"src": torch.zeros(4, dtype=torch.uint8)},
        "data": {"src": "de", "tgt": "en"},
    }


def test_round_trip_with_weights_only(tmp_path):
    path = save_checkpoint(payload(), tmp_path / "c" / "last.pt")
    ckpt = load_checkpoint(path)
    assert torch.equal(ckpt["model"]["w"], torch.ones(3))
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]  # no temp file left


def test_failed_write_keeps_the_old_file(tmp_path):
    path = save_checkpoint(payload(), tmp_path / "last.pt")
    before = path.read_bytes()
    bad = payload() | {"model": {"f": lambda: 0}}  # cannot be pickled
    with pytest.raises(Exception):  # noqa: B017
        save_checkpoint(bad, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_missing_truncated_and_foreign_files_give_one_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "nope.pt")
    good = save_checkpoint(payload(), tmp_path / "good.pt").read_bytes()
    (tmp_path / "trunc.pt").write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(tmp_path / "trunc.pt")
    torch.save({"state_dict": {}}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not an nmt checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "text.pt")


def test_corpus_scores_match_sacrebleu():
    hyps = ["The cat sat on the mat.", "A dog runs"]
    refs = [["The cat sat on a mat.", "A dog is running"]]
    s = corpus_scores(hyps, refs)
    assert s["bleu"] == pytest.approx(round(sacrebleu.corpus_bleu(hyps, refs).score, 2))
    assert s["chrf"] == pytest.approx(round(sacrebleu.corpus_chrf(hyps, refs).score, 2))
    lc = sacrebleu.corpus_bleu([h.lower() for h in hyps], [[r.lower() for r in refs[0]]])
    assert s["bleu_lc"] == pytest.approx(round(lc.score, 2))
    assert s["bleu_signature"].startswith("nrefs:1|case:mixed")
    assert "case:lc" in s["bleu_lc_signature"]


def test_length_ratio_and_brevity_penalty_of_a_short_output():
    """A hypothesis that stops halfway: ratio 6/12 tokens, BP exp(1 - 2); results written
    before the ratio was stored give it from their bleu_detail string."""
    refs = [["a b c d e f g h i j k l"]]
    s = corpus_scores(["a b c d e f"], refs)
    assert s["length_ratio"] == pytest.approx(0.5)
    assert s["bleu_bp"] == pytest.approx(0.3679, abs=1e-4)
    assert length_ratio(s) == pytest.approx(0.5)
    old = {"bleu_detail": s["bleu_detail"]}
    assert "ratio = 0.500" in old["bleu_detail"] and length_ratio(old) == pytest.approx(0.5)
    assert length_ratio({"bleu": 1.0}) is None


def test_ngram_precisions_stored_and_read_from_an_older_results_detail():
    """Output that stops halfway keeps its n-gram precisions (all 100%) while its ratio is
    0.5; results written before they were stored give them from bleu_detail, with or
    without a bootstrap interval in the string."""
    refs = [["a b c d e f g h i j k l"]]
    s = corpus_scores(["a b c d e f"], refs)
    assert s["bleu_precisions"] == [100.0] * 4 and ngram_precisions(s) == [100.0] * 4
    hyps = ["the cat sat on a mat today", "a dog ran off"] * 5
    refs = [["the cat sat on the mat", "the dog ran away"] * 5]
    for n in (0, 20):
        scores = corpus_scores(hyps, refs, n_bootstrap=n)
        expected = [round(p, 1) for p in sacrebleu.corpus_bleu(hyps, refs).precisions]
        assert [round(p, 1) for p in scores["bleu_precisions"]] == expected
        old = {"bleu_detail": scores["bleu_detail"]}
        assert ngram_precisions(old) == expected, old
    assert ngram_precisions({"bleu": 1.0}) is None


def test_length_buckets_cover_everything_and_hold_enough():
    lengths = [3] * 40 + [12] * 5 + [18] * 60 + [70] * 2
    buckets = length_buckets(lengths, edges=(10, 15, 20, 30), min_count=30)
    assert buckets[0][0] == 0 and buckets[-1][1] >= 10**6
    for lo, hi in buckets:
        assert sum(lo <= n <= hi for n in lengths) >= 30
    for (_, hi), (lo, _) in itertools.pairwise(buckets):
        assert lo == hi + 1


def test_bleu_by_length_scores_each_bucket():
    src = ["a b"] * 60 + ["a b c d e f g h i j k l"] * 60
    hyp = ["x y"] * 60 + ["the same sentence here"] * 60
    ref = ["x y"] * 60 + ["the same sentence here"] * 60
    buckets = bleu_by_length(src, hyp, [ref], edges=(5,), min_count=50)
    assert [b.n for b in buckets] == [60, 60]
    assert buckets[1].bleu == pytest.approx(100.0)


def test_intervals_of_a_test_set_where_some_resamples_score_zero():
    """sacreBLEU's own chrF interval raises TypeError here (float32 and float 0.0 scores)."""
    hyps, refs = ["abc", "x", "y", "z"], [["abc", "b", "c", "d"]]
    scores = corpus_scores(hyps, refs, n_bootstrap=1000)
    assert scores["chrf_ci"] > 0 and scores["bleu_ci"] >= 0
    low, high = scores["chrf_ci95"]
    assert 0 <= low <= scores["chrf"] <= high <= 100  # cut to the scale
    assert high == 100  # the half-width runs past 100 here
