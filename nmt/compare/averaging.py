"""Analyse: checkpoint averaging -- each run's best checkpoint against the mean of
its last N kept checkpoints (``train.keep_last``), on the same test set, with the same
decoding, with 95% intervals and a paired test.

Averaging the weights of the last checkpoints (Vaswani et al. 2017, Sec. 6.1; fairseq's
``average_checkpoints.py``, JoeyNMT's and OpenNMT's ``average_models``) smooths the noise
of the last updates. Whether it beats picking the checkpoint with the best validation score
(BLEU, or the loss with ``train.early_stopping_metric=loss``) is an empirical question per
run; this module measures it.

The averaged model's test hypotheses and scores are kept beside the run
(``<run>/eval/average_last<N>.<test>.beam<k>.{txt,json}``, with the updates they average),
so a later comparison of the same checkpoints reads them instead of translating again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nmt.compare.rundir import Run
from nmt.compare.stats import Paired, paired_bleu
from nmt.evaluation.metrics import N_BOOTSTRAP, bleu_with_ci
from nmt.runs.checkpoint import checkpoint_step
from nmt.runs.run_dir import RunDir


@dataclass(frozen=True)
class Averaged:
    """One run's best checkpoint against the average of its last ``len(steps)`` ones."""

    label: str
    best_step: int | None  # the update of best.pt
    steps: tuple[int, ...]  # the updates averaged, oldest first
    best: tuple[float, float | None]  # test BLEU of best.pt and its 95% half-width
    averaged: tuple[float, float | None]  # test BLEU of the average and its half-width
    paired: Paired  # the paired bootstrap test of the average (b) against best.pt (a)

    @property
    def delta(self) -> float:
        return self.averaged[0] - self.best[0]


@dataclass(frozen=True)
class Averaging:
    """Every run's best checkpoint against the average of its last ``n`` kept ones (runs
    that kept fewer are left out; ``n`` 0: no averaging)."""

    n: int = 0
    results: tuple[Averaged, ...] = ()

    @property
    def better(self) -> int:
        """Runs whose average the paired test holds better than the best checkpoint."""
        return sum(a.paired.significant and a.delta > 0 for a in self.results)

    @property
    def worse(self) -> int:
        """Runs whose average the paired test holds worse than the best checkpoint."""
        return sum(a.paired.significant and a.delta < 0 for a in self.results)


def auto_last(runs: Sequence[Run]) -> int:
    """How many checkpoints to average when not told: the fewest that every run kept
    (``train.keep_last``), or 0 (no averaging) when some run kept fewer than two."""
    kept = [int(r.train_config.get("keep_last") or 0) for r in runs]
    return min(kept) if kept and min(kept) >= 2 else 0


def average_run(
    run: Run,
    n: int,
    test: Any,
    test_name: str,
    device: str,
    log: Callable[[str], None] = print,
) -> Averaged | None:
    """Translate ``test`` (split ``test_name``) with the mean of ``run``'s newest ``n``
    step checkpoints (the run's test decoding and precision) and test it against the
    run's best checkpoint. None when the run kept fewer than ``n``."""
    from nmt.runs.average import average_checkpoints
    from nmt.runs.checkpoint import translator_from_state

    kept = RunDir(run.path).step_checkpoints()
    if len(kept) < n:
        log(f"{run.path}: {len(kept)} step_*.pt checkpoint(s) kept, fewer than {n}; not averaged")
        return None
    paths = kept[-n:]
    steps = tuple(map(checkpoint_step, paths))
    decoding = run.decoding
    beam = decoding.setting("beam") or 1
    name = f"average_last{n}.{test_name}.beam{beam}"
    txt, meta = run.path / "eval" / f"{name}.txt", run.path / "eval" / f"{name}.json"
    refs = [list(r) for r in test.refs]
    files = [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in paths]
    hyps = _cached(txt, meta, files, len(test.src))
    if hyps is None:
        log(f"{run.label}: averaging updates {', '.join(map(str, steps))}; translating")
        translator = translator_from_state(
            average_checkpoints(paths), device=device, precision=decoding.precision or "fp32"
        )
        # the checkpoints' own search settings: those the run's test scores were decoded with
        hyps = translator.translate_text(list(test.src), progress=True)
        txt.parent.mkdir(parents=True, exist_ok=True)
        txt.write_text("".join(h + "\n" for h in hyps), encoding="utf-8")
        meta.write_text(
            json.dumps({"steps": list(steps), "files": files, "decode": decoding.as_record()}),
            encoding="utf-8",
        )
    best_hyps = run.hypotheses("test")
    return Averaged(
        label=run.label,
        best_step=run.results.get("best_step"),
        steps=steps,
        best=bleu_with_ci(best_hyps, refs, N_BOOTSTRAP),
        averaged=bleu_with_ci(hyps, refs, N_BOOTSTRAP),
        paired=paired_bleu(best_hyps, [hyps], refs)[0],
    )


def _cached(txt: Path, meta: Path, files: list[list], n_sentences: int) -> list[str] | None:
    """The hypotheses of an earlier average of the same checkpoint files (name, size and
    modification time), if complete."""
    try:
        saved = json.loads(meta.read_text(encoding="utf-8"))
        hyps = txt.read_text(encoding="utf-8").split("\n")[:-1]
    except (OSError, ValueError):
        return None
    if saved.get("files") != files or len(hyps) != n_sentences:
        return None
    return hyps


def average_runs(
    runs: Sequence[Run],
    n: int | None,
    test: Any,
    test_name: str,
    device: str,
    log: Callable[[str], None] = print,
) -> Averaging:
    """Every run's best checkpoint against the mean of its last ``n`` kept ones (None: the
    fewest that every run kept, :func:`auto_last`; fewer than 2: no averaging)."""
    n = auto_last(runs) if n is None else n
    if n < 2:
        return Averaging()
    results = (average_run(run, n, test, test_name, device, log) for run in runs)
    return Averaging(n, tuple(a for a in results if a is not None))
