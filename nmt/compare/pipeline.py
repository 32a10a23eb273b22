"""``nmt-compare``'s pipeline: collect -> analyse -> render."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nmt.compare.analyse import Comparison, analyse
from nmt.compare.collect import collect_runs
from nmt.compare.render import check_out, render
from nmt.compare.trend import N_TREND_RESAMPLES
from nmt.evaluation.metrics import N_BOOTSTRAP


@dataclass(frozen=True)
class Compared:
    """What was compared, and the files written (main files, then figures)."""

    comparison: Comparison
    files: tuple[str, ...]


def compare_runs(
    run_dirs: Sequence[str | Path],
    out: str | Path,
    *,
    device: str = "cpu",
    root: str | None = None,
    min_count: int | None = None,
    n_sentences: int = 3,
    command: str | None = None,
    wall_seconds: float | None = None,
    notes: Sequence[str] = (),
    allow_mismatch: bool = False,
    average_last: int | None = None,
    edges: Sequence[int] | None = None,
    trend_resamples: int = N_TREND_RESAMPLES,
    paired_resamples: int = N_BOOTSTRAP,
    log: Callable[[str], None] = print,
) -> Compared:
    """Compare finished runs into ``out``; returns what was compared and written.

    ``edges``: length buckets cut at these source lengths (default: the runs'
    ``data.length_edges``, else equal-count buckets).

    ``average_last``: also score the mean of each run's last N kept checkpoints against
    its best one (None: the fewest that every run kept with ``train.keep_last``; 0: no).

    Raises:
        ConfigError: ``out`` is a run directory, a run is unfinished or incomplete, the
            runs differ in test data, or (unless ``allow_mismatch``) in how their test
            scores were decoded.
    """
    out = Path(out)
    check_out(out)
    collected = collect_runs(run_dirs, allow_mismatch)
    comparison = analyse(
        collected,
        device=device,
        root=root,
        min_count=min_count,
        n_sentences=n_sentences,
        average_last=average_last,
        edges=edges,
        trend_resamples=trend_resamples,
        paired_resamples=paired_resamples,
        log=log,
    )
    files = render(comparison, out, command=command, wall_seconds=wall_seconds, notes=notes)
    return Compared(comparison, files)
