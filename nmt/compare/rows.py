"""Analyse: the comparison's tables as data -- one row per run (its scores with 95%
intervals, how it stopped and what it used), one row per variant over its seeds (mean,
sample sd and the 95% interval of the mean test BLEU over seeds and sentences); cells
keyed by column key, numbers kept as numbers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nmt.compare.grouping import Group
from nmt.compare.rundir import Run
from nmt.compare.stats import mean_sd
from nmt.compare.trend import Estimate
from nmt.evaluation.metrics import length_ratio
from nmt.models import describe_sizes

#: validation loss at the best validation BLEU, at the last validation, lowest of the run
LOSS_KEYS = ("valid_loss_at_best_bleu", "valid_loss_last", "valid_loss_lowest")
#: the scores and budgets a variant's row gives over its seeds (and each extra test's BLEU)
GROUP_KEYS = ("test_bleu", "test_chrf", "test_bleu_lc", "exact_match", "steps",
              "train_tgt_tokens", "train_seconds", "best_valid_bleu")  # fmt: skip


@dataclass(frozen=True)
class MeanSd:
    """Mean and sample standard deviation over a variant's seeds (sd None for one seed)."""

    mean: float
    sd: float | None


@dataclass(frozen=True)
class Tables:
    """The rows of the run table (in run order) and of the variant table (group order)."""

    runs: tuple[dict[str, Any], ...]
    groups: tuple[dict[str, Any], ...]


def _device(results: dict[str, Any]) -> str | None:
    """The device, with the process count of a torchrun run (``2 x NVIDIA H100``)."""
    world = int(results.get("world_size") or 1)
    device = results.get("device")
    return f"{world} x {device}" if world > 1 and device else device


def _bound(scores: dict[str, Any], sign: int) -> float | None:
    """BLEU ± the half-width of its 95% interval (None without one)."""
    if scores.get("bleu_ci") is None:
        return None
    return round(scores["bleu"] + sign * scores["bleu_ci"], 2)


def run_row(
    run: Run,
    extra_tests: Sequence[str],
    exact: tuple[float, float, float] | None = None,
    group: str | None = None,
) -> dict[str, Any]:
    """A run's cells, keyed by column key. ``exact`` is (accuracy, low, high) in percent;
    ``group`` the label of its variant."""
    r, test = run.results, run.test_scores()
    d = run.decoding
    row: dict[str, Any] = {
        "variant": run.label,
        "seed": run.seed,
        "settings": describe_sizes(run.model_config),
        "parameters": r.get("parameters"),
        "stop_reason": r.get("stop_reason"),
        "steps": r.get("steps"),
        "epochs_trained": r.get("epochs_trained", r.get("epochs")),
        "train_tgt_tokens": r.get("train_tgt_tokens"),
        "train_seconds": r.get("train_seconds"),
        "wall_seconds": r.get("wall_seconds"),
        "processes": r.get("processes", 1),
        "device": _device(r),
        "precision": r.get("precision"),
        "train_tgt_tokens_per_s": r.get("train_tgt_tokens_per_s"),
        "best_valid_bleu": r.get("best_valid_bleu"),
        **dict(zip(LOSS_KEYS, run.validation_losses() or (None,) * 3, strict=True)),
        "test_bleu": test.get("bleu"),
        "test_bleu_ci": test.get("bleu_ci"),
        "test_bleu_low": _bound(test, -1),
        "test_bleu_high": _bound(test, +1),
        "test_chrf": test.get("chrf"),
        "test_chrf_ci": test.get("chrf_ci"),
        "test_bleu_lc": test.get("bleu_lc"),
        "test_length_ratio": length_ratio(test),
        "beam": d.setting("beam"),
        "length_penalty": d.setting("length_penalty"),
        "max_len_a": d.setting("max_len_a"),
        "max_len_b": d.setting("max_len_b"),
        "decode_precision": d.precision,
        "run": str(run.path),
        "bleu_signature": test.get("bleu_signature"),
    }
    if exact is not None:
        row["exact_match"], row["exact_match_low"], row["exact_match_high"] = exact
    for name in extra_tests:
        scores = r["test"][name]
        row[f"{name}_bleu"], row[f"{name}_bleu_ci"] = scores.get("bleu"), scores.get("bleu_ci")
        row[f"{name}_length_ratio"] = length_ratio(scores)
    if group is not None:
        row["group"] = group
    return row


def group_row(
    group: Group,
    rows: Mapping[str, dict[str, Any]],
    extra: Sequence[str],
    interval: Estimate | None = None,
):
    """A group's row: the mean and sample sd (:class:`MeanSd`) over its seeds of each score
    and budget that some seed has, its seeds, and how its runs stopped; ``interval``: the
    95% interval of its mean test BLEU over seeds and sentences
    (:func:`nmt.compare.trend.mean_bleu_interval`)."""
    members = [rows[r.label] for r in group.runs]
    row: dict[str, Any] = {
        "variant": group.label,
        "seeds": ", ".join(str(s) for s in group.seeds),
        "n": len(group.runs),
        "stop_reason": ", ".join(sorted({str(m.get("stop_reason")) for m in members})),
    }
    for key in (*GROUP_KEYS, *(f"{name}_bleu" for name in extra)):
        values = [m.get(key) for m in members if m.get(key) is not None]
        if values:
            row[key] = MeanSd(*mean_sd(values))
    if interval is not None:
        row["test_bleu_low"], row["test_bleu_high"] = (
            round(interval.low, 2),
            round(interval.high, 2),
        )
    return row


def tables(
    runs: Sequence[Run],
    groups: Sequence[Group],
    extra_tests: Sequence[str],
    exact: Mapping[str, tuple[float, float, float]] | None,
    intervals: Mapping[str, Estimate] | None = None,
) -> Tables:
    """The run rows and the group rows (``intervals``: each seeded group's interval of its
    mean test BLEU, by group label)."""
    group_of = {r.label: g.label for g in groups for r in g.runs}
    rows = [
        run_row(r, extra_tests, None if exact is None else exact[r.label], group_of[r.label])
        for r in runs
    ]
    by_label = {r.label: row for r, row in zip(runs, rows, strict=True)}
    intervals = intervals or {}
    return Tables(
        tuple(rows),
        tuple(group_row(g, by_label, extra_tests, intervals.get(g.label)) for g in groups),
    )
