"""Uncertainty: sacreBLEU's bootstrap intervals and paired tests, Wilson intervals, seed
groups, training budgets (the clock and the limits)."""

from __future__ import annotations

import random
import types
from pathlib import Path

import pytest

import nmt.training.budget
from nmt.compare.grouping import group_runs, name_runs
from nmt.compare.rundir import Run
from nmt.compare.stats import format_mean_sd, paired_bleu, paired_by_bucket, wilson
from nmt.evaluation.metrics import bleu_by_length, corpus_scores
from nmt.training.budget import Budget, TrainClock


def corpus(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    words = [
        "the",
        "a",
        "dog",
        "cat",
        "runs",
        "sits",
        "on",
        "mat",
        "grass",
        "red",
        "blue",
        "big",
        "small",
        "two",
        "men",
        "play",
    ]
    return [" ".join(rng.choice(words) for _ in range(rng.randint(6, 14))) for _ in range(n)]


def half_right(refs: list[str], share: float, seed: int) -> list[str]:
    """Each hypothesis is its reference (with probability ``share``) or unrelated words."""
    rng = random.Random(seed)
    return [r if rng.random() < share else "zzz yyy xxx www" for r in refs]


def test_the_interval_of_perfect_hypotheses_is_a_point():
    refs = corpus(300)
    s = corpus_scores(refs, [refs], n_bootstrap=1000)
    assert s["bleu"] == 100.0 and s["bleu_ci"] == 0.0 and s["bleu_ci95"] == [100.0, 100.0]
    assert s["chrf_ci"] == 0.0 and s["bootstrap"] == 1000
    assert "bs:1000" in s["bleu_signature"]


def test_the_interval_of_a_noisy_system_is_wide_and_narrows_with_more_sentences():
    refs = corpus(2000, seed=1)
    hyps = half_right(refs, 0.5, seed=2)
    small = corpus_scores(hyps[:100], [refs[:100]], n_bootstrap=1000)
    large = corpus_scores(hyps, [refs], n_bootstrap=1000)
    assert small["bleu_ci"] > 5.0, small  # a 100-sentence test set: many BLEU either way
    assert large["bleu_ci"] < small["bleu_ci"] / 2  # ~1/sqrt(n)
    lo, hi = large["bleu_ci95"]
    assert lo < large["bleu"] < hi
    assert corpus_scores(hyps, [refs]).get("bleu_ci") is None  # no bootstrap asked for


def test_bleu_by_length_gives_each_bucket_an_interval():
    src = ["a b"] * 60 + ["a b c d e f g h i j k l"] * 60
    refs = corpus(120, seed=3)
    hyps = refs[:60] + half_right(refs[60:], 0.5, seed=4)
    perfect, noisy = bleu_by_length(src, hyps, [refs], edges=(5,), min_count=50, n_bootstrap=500)
    assert perfect.bleu_ci == 0.0 and noisy.bleu_ci > 3.0


def test_paired_test_tells_a_real_difference_from_noise():
    refs = corpus(1000, seed=5)
    weak = half_right(refs, 0.4, seed=6)
    strong = half_right(refs, 0.6, seed=7)
    same_quality = half_right(refs, 0.4, seed=8)
    better, alike, identical = paired_bleu(weak, [strong, same_quality, weak], [refs])
    assert better.delta > 5 and better.p < 0.05 and better.significant
    assert alike.p > 0.05 and not alike.significant
    assert identical.delta == 0 and identical.p == 1.0


def test_paired_test_inside_length_buckets():
    refs = corpus(400, seed=9)
    lengths = [5] * 200 + [20] * 200
    base = half_right(refs, 0.5, seed=10)
    # better only on the long half
    system = base[:200] + [r for r in refs[200:]]
    short, long = paired_by_bucket(lengths, [(0, 10), (11, 30)], base, system, [refs])
    assert short.p == 1.0 and not short.significant
    assert long.delta > 10 and long.significant


def test_wilson_interval():
    assert wilson(0, 10) == (0.0, 27.75)
    assert wilson(10, 10) == (72.25, 100.0)
    lo, hi = wilson(50, 100)
    assert lo < 50 < hi and hi - lo == pytest.approx(19.2, abs=0.2)


def fake_run(path: Path, variant: str, seed: int, **train) -> Run:
    config = {
        "model": {"name": variant},
        "data": {"name": "synthetic", "src": "s", "tgt": "t", "root": str(path)},
        "train": {"seed": seed, "max_target_tokens": 1000, "threads": 2, **train},
        "name": variant,
    }
    return Run(path / f"{variant}_{seed}", {"variant": variant, "seed": seed}, config)


def test_runs_that_differ_only_in_the_seed_are_grouped(tmp_path):
    runs = [
        fake_run(tmp_path, "seq2seq", 1),
        fake_run(tmp_path, "bahdanau", 2),
        fake_run(tmp_path, "seq2seq", 2, threads=1),  # threads do not change the method
        fake_run(tmp_path, "bahdanau", 1),
        fake_run(tmp_path, "bahdanau", 3, max_target_tokens=2000),  # another budget
    ]
    groups = group_runs(runs)
    assert [(g.label, g.seeds) for g in groups] == [
        ("seq2seq", [1, 2]),
        ("bahdanau (train.max_target_tokens=1000)", [1, 2]),
        ("bahdanau (train.max_target_tokens=2000)", [3]),
    ]
    name_runs(runs)
    assert runs[0].label == "seq2seq, seed 1" and runs[2].label == "seq2seq, seed 2"


def test_a_setting_added_later_and_left_unset_does_not_split_the_seeds(tmp_path):
    """A run written after a new config key existed (null: unset) is a seed of the runs
    written before; evaluation-only edges never split them either."""
    runs = [fake_run(tmp_path, "seq2seq", s) for s in (1, 2, 3)]
    runs[1].config["train"]["new_option"] = None
    runs[2].config["data"]["length_edges"] = [10, 20]
    assert [(g.label, g.seeds) for g in group_runs(runs)] == [("seq2seq", [1, 2, 3])]
    runs[2].config["train"]["new_option"] = 5  # set: another configuration
    assert len(group_runs(runs)) == 2


def test_mean_and_sample_sd_over_seeds():
    assert format_mean_sd([30.0, 32.0]) == "31.00 (sd 1.41)"  # "±" is for 95% intervals only
    assert format_mean_sd([30.0]) == "30.00"
    assert format_mean_sd([]) == ""


def test_the_clock_leaves_paused_time_out_and_continues_a_resumed_run(monkeypatch):
    now = [1000.0]  # a clock the test moves, so a busy machine cannot change the counts
    monkeypatch.setattr(
        nmt.training.budget, "time", types.SimpleNamespace(monotonic=lambda: now[0])
    )
    clock = TrainClock()
    now[0] += 5
    with clock.paused():
        now[0] += 20
        with clock.paused():  # nested pauses are harmless
            now[0] += 1
    now[0] += 5
    assert clock.train_seconds == 10 and clock.wall_seconds == 31
    clock.stop()  # the training loop ended: testing counts in neither
    now[0] += 60
    assert clock.train_seconds == 10 and clock.wall_seconds == 31
    resumed = TrainClock(train_seconds=100.0, wall_seconds=500.0)
    now[0] += 2
    assert resumed.train_seconds == 102 and resumed.wall_seconds == 502


def test_budget_names_the_limit_that_ran_out():
    b = Budget(max_epochs=10, max_steps=100, max_minutes=1.0, max_target_tokens=5000)
    assert b.exhausted(99, 4999, 59.0) == ""
    assert b.exhausted(100, 0, 0.0) == "max_steps"
    assert b.exhausted(5, 5000, 0.0) == "max_target_tokens"
    assert b.exhausted(5, 10, 60.0) == "max_minutes"
    assert Budget(max_epochs=3).exhausted(10**9, 10**12, 1e9) == ""  # epochs end elsewhere
    assert "5,000 target tokens" in b.describe()


def test_a_difference_holds_only_if_every_seed_pairing_agrees_in_sign():
    from nmt.compare.stats import Paired, holds

    up, up2, down = Paired(30.0, 32.0, 0.01), Paired(29.0, 30.5, 0.02), Paired(31.0, 30.0, 0.01)
    assert holds([up, up2]) and holds([down])
    assert not holds([up, down])  # both "significant", opposite signs
    assert not holds([up, Paired(30.0, 30.4, 0.3)]) and not holds([])
