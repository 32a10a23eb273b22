"""Collect, part 1: finished run directories as the comparison reads them.

:class:`Run` is one finished run as read from its directory, with :class:`RunDecoding`,
how its test scores were decoded. Run directories are read through
:class:`nmt.runs.run_dir.RunDir` (records migrated from any release); nothing in
:mod:`nmt.compare` parses run files."""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from nmt.data.config import DEFAULT_ROOT
from nmt.errors import ConfigError
from nmt.runs.run_dir import RESULTS, RunDir, is_sweep
from nmt.translation.decoding import Decoding

#: the search settings (:class:`Decoding` fields) the test scores depend on, in the order
#: the comparison names them; the search batch budget (``batch_tokens``) is not one
SEARCH_KEYS = ("beam", "length_penalty", "max_len_a", "max_len_b")


@dataclass(frozen=True)
class RunDecoding:
    """How a run's test scores were decoded: its search settings and its precision.

    ``search`` holds the settings the run recorded, :class:`Decoding`'s defaults standing
    in for any it did not (``recorded`` names those it did): :meth:`setting` gives None for
    an unrecorded one, as the run's files do."""

    search: Decoding
    precision: str | None
    recorded: frozenset[str] = frozenset(SEARCH_KEYS)

    @classmethod
    def from_record(cls, values: Mapping[str, Any], precision: str | None) -> RunDecoding:
        """From a ``decode`` record (today's setting names), unset settings as None."""
        given = {k: values.get(k) for k in SEARCH_KEYS if values.get(k) is not None}
        return cls(Decoding.from_dict(given), precision, frozenset(given))

    def setting(self, key: str) -> Any:
        """One setting's value (``precision`` included); None when the run did not record it."""
        if key == "precision":
            return self.precision
        return getattr(self.search, key) if key in self.recorded else None

    def as_record(self) -> dict[str, Any]:
        """The settings as a ``decode`` record: beam, length penalty, limits, precision."""
        return {k: self.setting(k) for k in (*SEARCH_KEYS, "precision")}


@dataclass
class Run:
    """One finished run: its results record, config, validation records and Hydra overrides."""

    path: Path
    results: dict[str, Any]
    config: dict[str, Any]
    metrics: list[dict[str, Any]] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)
    name: str = ""  # unique short name for file names (set by name_runs)
    label: str = ""  # unique legend / table label (set by name_runs)

    @property
    def variant(self) -> str:
        return str(self.results["variant"])

    @property
    def model_config(self) -> dict[str, Any]:
        return dict(self.results.get("model_config") or self.config["model"])

    @cached_property
    def cwd(self) -> Path | None:
        """The folder nmt-train ran in (Hydra's runtime.cwd), when the run recorded it."""
        return RunDir(self.path).hydra_cwd()

    @property
    def data_config(self) -> dict[str, Any]:
        """The run's data config, relative paths made absolute against the folder it ran in
        (so the comparison finds the same files from anywhere)."""
        data = dict(self.config["data"])
        cwd = self.cwd
        if cwd is None:
            return data

        def absolute(p: Any) -> Any:
            return str(cwd / p) if isinstance(p, str) and p and not Path(p).is_absolute() else p

        if data.get("name") == "files":
            for key in ("train", "valid", "test"):
                data[key] = absolute(data.get(key))
            data["extra_tests"] = [absolute(p) for p in data.get("extra_tests") or []]
        if not (os.environ.get("NMT_DATA_DIR") and data.get("root") == DEFAULT_ROOT):
            data["root"] = absolute(data.get("root"))
        return data

    @property
    def train_config(self) -> dict[str, Any]:
        """The run's train config, with the budget it ended under (a resumed run may have
        raised it; results.json records the last process's)."""
        train = dict(self.config.get("train", {}))
        for key, value in (self.results.get("budget") or {}).items():
            if key in train:
                train[key] = value
        return train

    @property
    def checkpoint(self) -> Path:
        return RunDir(self.path).best

    @property
    def command(self) -> str:
        """The command line that made the run (its Hydra overrides), shell-quoted; torchrun
        for a run of several processes."""
        world = int(self.results.get("world_size") or 1)
        head = ["torchrun", f"--nproc_per_node={world}", "-m", "nmt.cli.train"]
        return shlex.join([*(head if world > 1 else ["nmt-train"]), *self.overrides])

    @property
    def seed(self) -> int | None:
        seed = self.results.get("seed", self.train_config.get("seed"))
        return None if seed is None else int(seed)

    @property
    def decoding(self) -> RunDecoding:
        """How the test scores were decoded: beam, length penalty, length limits, precision
        (results records of every release give them, :func:`nmt.runs.records.migrate_results`)."""
        saved = self.results["decode"]
        return RunDecoding.from_record(saved, saved.get("precision"))

    def test_scores(self, split: str = "test") -> dict[str, Any]:
        return dict(self.results["test"][split])

    @property
    def scheduled_metrics(self) -> list[dict[str, Any]]:
        """The validations on the run's schedule (every ``train.eval_every`` updates or every
        epoch), without the extra one a budget may add when it ends training between two
        (``"final"`` in metrics.jsonl; in older runs, a last validation off the schedule:
        its step not a multiple of ``eval_every``, or in the same epoch as the one before).
        Its model has trained only part of an interval, so it is no point of the curve."""
        records = list(self.metrics)
        if any("final" in m for m in records):
            return [m for m in records if not m.get("final")]
        if len(records) >= 2:
            last, before = records[-1], records[-2]
            every = int(self.train_config.get("eval_every") or 0)
            if every > 0:
                off = int(last.get("step", 0)) % every != 0
            else:
                off = last.get("epoch") is not None and last.get("epoch") == before.get("epoch")
            if off:
                records.pop()
        return records

    def validation_losses(self) -> tuple[float, float, float] | None:
        """Validation loss at the best validation BLEU (the first of equals), at the last
        validation, and the lowest of the run; None before two validations."""
        records = [m for m in self.metrics if "valid_loss" in m and "valid_bleu" in m]
        if len(records) < 2:
            return None
        best = max(range(len(records)), key=lambda i: (float(records[i]["valid_bleu"]), -i))
        losses = [float(m["valid_loss"]) for m in records]
        return losses[best], losses[-1], min(losses)

    def hypotheses(self, split: str = "test") -> list[str]:
        """The run's detokenized test hypotheses, one per test sentence."""
        return RunDir(self.path).read_hypotheses(self.test_scores(split)["hypotheses"])


# ---------------------------------------------------------------------------------------
# Reading run directories, through nmt.runs.RunDir (it owns the files and their migrations)
# ---------------------------------------------------------------------------------------


def load_run(path: str | Path) -> Run:
    """Read a finished run directory, or raise a one-line ConfigError naming what is missing."""
    run = RunDir(path)
    if not run.path.is_dir():
        raise ConfigError(f"{run.path}: no such run directory")
    results = run.read_results()
    if "test" not in results.get("test", {}):
        raise ConfigError(f"{run.results_path}: holds no scores of the test split")
    metrics = [v.as_dict() for v in run.validations()]
    return Run(run.path, results, run.read_config(), metrics, run.overrides())


def _job_order(path: Path) -> tuple[int, str]:
    """Hydra job folders (``<num>_<name>``) in job order: 2_x before 10_x."""
    head = path.name.split("_", 1)[0]
    return (int(head) if head.isdigit() else 1 << 30, path.name)


def expand_run_dirs(paths: Iterable[str | Path], warn: Any = print) -> list[Path]:
    """Run directories from the command line: a Hydra sweep folder stands for its finished
    job folders, in job order (a job that failed or was interrupted, and any other folder
    without results, is skipped with a warning); plain files are skipped with a warning."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_file():
            warn(f"skipping {p}: not a run directory")
        elif is_sweep(p) and not RunDir(p).results_path.exists():
            jobs = sorted(
                (d for d in p.iterdir() if d.is_dir() and not d.name.startswith(".")),
                key=_job_order,
            )
            for d in jobs:
                if RunDir(d).finished:
                    out.append(d)
                else:
                    warn(f"skipping {d}: no {RESULTS} (an unfinished or failed job)")
        else:
            out.append(p)
    seen: set[Path] = set()
    for p in out:
        key = p.resolve()
        if key in seen:
            raise ConfigError(f"{p}: given twice")
        seen.add(key)
    if not out:
        raise ConfigError("no run directories given")
    return out
