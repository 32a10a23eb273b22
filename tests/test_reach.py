"""Reach: the longest inputs a run still gets right (half its shortest bucket's score)."""

from __future__ import annotations

from pathlib import Path

from nmt.compare.grouping import Group
from nmt.compare.lengths import Buckets
from nmt.compare.reach import group_reach, run_reach
from nmt.compare.rundir import Run

RANGES = [(5, 10), (11, 20), (21, 30), (31, 40)]
BUCKETS = Buckets([10, 20, 30, 40], 50, RANGES, ["5–10", "11–20", "21–30", "31–40"], [50] * 4)


def test_reach_ends_before_the_first_bucket_under_half_the_shortest():
    fixed = run_reach("seq2seq", 1, [90.0, 60.0, 44.0, 50.0], BUCKETS)
    assert (fixed.reach, fixed.censored, fixed.fell_at) == (20, False, "21–30")  # 44 < 45
    assert fixed.short == 90.0  # a later recovery (50) does not extend it
    attentive = run_reach("bahdanau", 1, [99.0, 98.0, 97.0, 96.0], BUCKETS)
    assert (attentive.reach, attentive.censored, attentive.fell_at) == (40, True, None)
    at_once = run_reach("pooled", 1, [0.0, 0.0, 0.0, 0.0], BUCKETS)
    assert at_once.censored  # nothing to fall from: 0 is never below half of 0
    edge = run_reach("x", 1, [80.0, 40.0, 39.9, 10.0], BUCKETS)
    assert edge.reach == 20  # exactly half still counts as right


def test_each_seed_of_a_configuration_keeps_its_reach():
    def run(label: str, seed: int) -> Run:
        r = Run(Path(label), {"variant": "seq2seq", "parameters": 1000, "seed": seed}, {})
        r.label = label
        return r

    runs = [run("s1", 1), run("s2", 2)]
    scores = {"s1": [90.0, 30.0, 10.0, 0.0], "s2": [80.0, 70.0, 30.0, 0.0]}
    (g,) = group_reach([Group("seq2seq (hidden 128)", tuple(runs))], scores, BUCKETS, "BLEU")
    assert [r.reach for r in g.runs] == [10, 20] and (g.low, g.high) == (10, 20)
    assert [r.seed for r in g.runs] == [1, 2]
    assert g.parameters == 1000 and g.metric == "BLEU"
    one = Buckets([10], 50, RANGES[:1], ["5–10"], [50])
    assert group_reach([Group("x", tuple(runs))], scores, one, "BLEU") == ()
