"""Reach: the longest inputs a run still gets right (half its shortest bucket's score)."""

from __future__ import annotations

from pathlib import Path

from nmt.compare.grouping import Group
from nmt.compare.lengths import Buckets, common_buckets
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
    nothing = run_reach("pooled", 1, [0.0, 0.0, 0.0, 0.0], BUCKETS)
    # nothing right even on the shortest bucket: no reach, not the longest one
    assert (nothing.reach, nothing.censored, nothing.fell_at) == (None, False, "5–10")
    assert run_reach("pooled", 1, [float("nan"), 1.0, 1.0, 1.0], BUCKETS).reach is None
    edge = run_reach("x", 1, [80.0, 40.0, 39.9, 10.0], BUCKETS)
    assert edge.reach == 20  # exactly half still counts as right


def test_reach_is_the_longest_source_present_not_the_open_upper_bound():
    """The last bucket's range is open-ended (up to 10**6 words); a run that never falls
    reaches the longest source in the test set, and a fall counts the lengths present."""
    lengths = [5] * 60 + [9] * 60 + [17] * 60 + [23] * 60
    buckets = common_buckets(lengths, min_count=60)
    assert buckets.ranges[-1][1] == 10**6 and buckets.labels[-1] == "23"
    assert run_reach("bahdanau", 1, [99.0] * 4, buckets).reach == 23
    assert run_reach("seq2seq", 1, [90.0, 80.0, 10.0, 5.0], buckets).reach == 9


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
    none = {"s1": [0.0, 0.0, 0.0, 0.0], "s2": [80.0, 70.0, 30.0, 0.0]}
    (p,) = group_reach([Group("pooled", tuple(runs))], none, BUCKETS, "exact match")
    assert [r.reach for r in p.runs] == [None, 20] and (p.low, p.high) == (20, 20)
    one = Buckets([10], 50, RANGES[:1], ["5–10"], [50])
    assert group_reach([Group("x", tuple(runs))], scores, one, "BLEU") == ()
