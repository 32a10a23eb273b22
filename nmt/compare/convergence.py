"""Analyse: whether the runs converged -- a budget that stopped a rising curve, patience
that stopped a run whose validation loss still fell."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from nmt.compare.grouping import Group
from nmt.compare.rundir import Run

#: a run stopped by a budget is "still improving" when its last validation BLEU is this much
#: above every earlier one (runs that stop on BLEU) ...
RISING = 0.5
#: ... or its last validation loss this share below every earlier one (runs that stop on
#: the loss, whose validation loss is far less noisy than a low BLEU)
RISING_LOSS = 0.001
#: validations the slope at the cap is fitted over
SLOPE_POINTS = 3
#: a run that patience stopped "still fell" when its last validation loss is the lowest of
#: the run and this share below its loss at the best validation BLEU
FALLING = 0.01


def at_cap(run: Run) -> tuple[str, str] | None:
    """How a budget left ``run``: ("rising", how far its last scheduled validation lies
    beyond every earlier one), ("flat", where its best lies and the slope at the cap), or
    None for a run patience stopped or with fewer than two validations. One reading of
    the curve serves :func:`still_improving` and :func:`flat_at_cap`.

    "Rising" is measured on ``train.early_stopping_metric``: the last validation BLEU at
    least RISING above every earlier one, e.g. "+0.62; +0.40 BLEU per 1M tokens at the
    cap", or the last validation loss RISING_LOSS below, "loss -0.28%". "Flat" is read on
    BLEU only, for a run whose stop reason names a budget (not a signal): "best 30.18, 3
    validations before the cap; -0.15 BLEU per 1M tokens over the last 3". The extra
    validation a budget adds between two scheduled ones is left out
    (:attr:`Run.scheduled_metrics`): a few updates into an interval, its score is noise
    around the last point of the curve, not the next one."""
    metrics = run.scheduled_metrics
    stop = run.results.get("stop_reason")
    if stop == "patience" or len(metrics) < 2:
        return None
    if run.results.get("early_stopping_metric") == "loss":
        losses = [float(m["valid_loss"]) for m in metrics if "valid_loss" in m]
        if len(losses) < 2:
            return None
        drop = 1 - losses[-1] / min(losses[:-1])
        return ("rising", f"loss -{drop:.2%}") if drop >= RISING_LOSS else None
    bleus = [float(m.get("valid_bleu", 0.0)) for m in metrics]
    slope = slope_at_cap(metrics)
    gain = bleus[-1] - max(bleus[:-1])
    if gain >= RISING:
        at_cap = "" if slope is None else f"; {slope:+.2f} BLEU per 1M tokens at the cap"
        return "rising", f"+{gain:.2f}{at_cap}"
    if stop in (None, "signal"):
        return None
    best = max(range(len(bleus)), key=lambda i: (bleus[i], -i))  # the first of equal bests
    since = len(bleus) - 1 - best
    plural = "s" if since > 1 else ""
    where = "at the last validation" if since == 0 else f"{since} validation{plural} before the cap"
    tail = (
        "" if slope is None else f"; {slope:+.2f} BLEU per 1M tokens over the last {SLOPE_POINTS}"
    )
    return "flat", f"best {bleus[best]:.2f}, {where}{tail}"


def still_improving(run: Run) -> str | None:
    """For a run that a budget stopped: how far its last scheduled validation lies beyond
    every earlier one (:func:`at_cap`'s "rising" reading), e.g. "+0.62" (BLEU) or "loss
    -0.28%"; None when it converged, was stopped early, or did not improve by RISING
    (BLEU) or RISING_LOSS (the loss)."""
    reading = at_cap(run)
    return reading[1] if reading is not None and reading[0] == "rising" else None


def slope_at_cap(metrics: list[dict], last: int = SLOPE_POINTS) -> float | None:
    """Validation BLEU's least-squares slope over the ``last`` scheduled validations, per
    million target tokens trained: how fast the run was still climbing when its budget
    ended (None without token counts or with fewer than two points)."""
    points = [
        (float(m["train_tgt_tokens"]) / 1e6, float(m["valid_bleu"]))
        for m in metrics[-last:]
        if m.get("train_tgt_tokens") is not None and m.get("valid_bleu") is not None
    ]
    if len(points) < 2:
        return None
    xs, ys = zip(*points, strict=True)
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return None if var == 0 else sum((x - mx) * (y - my) for x, y in points) / var


def flat_at_cap(run: Run) -> str | None:
    """For a run that a budget stopped before patience decided, without a rising curve:
    where its best validation lies and the slope of the last validations
    (:func:`at_cap`'s "flat" reading). None for runs patience or a signal stopped, for
    runs that stop on the loss, and for runs still improving (:func:`still_improving`)."""
    reading = at_cap(run)
    return reading[1] if reading is not None and reading[0] == "flat" else None


def loss_still_falling(run: Run) -> tuple[float, float] | None:
    """For a run that patience stopped: its validation loss at its best validation BLEU and
    at its last validation, when the last is the run's lowest and at least FALLING (1%)
    below the first (None otherwise).

    Such a run stopped because BLEU stopped rising while the model's likelihood still
    improved: on a hard task whose BLEU is close to its noise, patience on BLEU may stop a
    run that was not done."""
    losses = run.validation_losses()
    if run.results.get("stop_reason") != "patience" or losses is None:
        return None
    if run.results.get("early_stopping_metric") == "loss":  # patience already on the loss
        return None
    at_best, last, lowest = losses
    return (at_best, last) if last <= lowest and last <= at_best * (1 - FALLING) else None


@dataclass(frozen=True)
class Convergence:
    """The runs that did not converge, by label."""

    #: (run, how far its last validation lies beyond the earlier ones) of the runs a
    #: budget stopped while still improving (:func:`still_improving`)
    rising: tuple[tuple[str, str], ...]
    #: (run, loss at the best validation BLEU, last loss) of the runs patience stopped
    #: while the validation loss still fell (:func:`loss_still_falling`)
    falling: tuple[tuple[str, float, float], ...]
    #: the groups (variants) with a run that was still improving
    unconverged: frozenset[str]
    #: (run, where its best lies and its slope) of the runs a budget stopped before
    #: patience decided, on a curve no longer rising (:func:`flat_at_cap`)
    capped: tuple[tuple[str, str], ...] = ()


def judge_convergence(runs: Sequence[Run], groups: Sequence[Group] = ()) -> Convergence:
    """Which of ``runs`` a budget stopped mid-curve, which patience stopped while their
    validation loss still fell, and which of ``groups`` hold a run still improving."""
    readings = [(r.label, at_cap(r)) for r in runs]
    rising = tuple((label, a[1]) for label, a in readings if a is not None and a[0] == "rising")
    capped = tuple((label, a[1]) for label, a in readings if a is not None and a[0] == "flat")
    falling = tuple((r.label, *f) for r in runs if (f := loss_still_falling(r)) is not None)
    still = {label for label, _ in rising}
    unconverged = frozenset(g.label for g in groups if any(r.label in still for r in g.runs))
    return Convergence(rising, falling, unconverged, capped)
