"""The run directory: one place that knows its layout and reads and writes its records.

A run directory, as ``nmt-train`` leaves it::

    <run>/config.yaml            the composed config, with the resolved values the run used
    <run>/metrics.jsonl          one :class:`Validation` record per line, appended
    <run>/results.json           the :class:`~nmt.runs.records` results record (finished runs)
    <run>/train.log              everything the run printed
    <run>/tb/                    TensorBoard event files
    <run>/hyps/<split>.beam<k>.txt   the test hypotheses, one line per sentence
    <run>/checkpoints/{best,last,step_<N>}.pt
    <run>/.hydra/overrides.yaml  the command line's overrides (Hydra)
    <run>/.lock                  held while a process trains there (:mod:`nmt.runs.lock`)

Every other module reads and writes runs through :class:`RunDir`; the records' formats and
their migrations from older releases live in :mod:`nmt.runs.records` and
:mod:`nmt.runs.checkpoint`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from nmt.errors import ConfigError
from nmt.io import write_error, write_or_explain
from nmt.runs import checkpoint as ckpt_io
from nmt.runs.records import RESULTS_VERSION, Validation, migrate_config, migrate_results

CONFIG = "config.yaml"
METRICS = "metrics.jsonl"
RESULTS = "results.json"
LOG = "train.log"
TENSORBOARD = "tb"
HYPOTHESES = "hyps"
EVALUATIONS = "eval"
CHECKPOINTS = "checkpoints"
BEST, LAST = "best.pt", "last.pt"
SWEEP = "multirun.yaml"  # Hydra's record of a sweep, in the folder of its job folders


class RunDir:
    """One run directory (it need not exist yet)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    @classmethod
    def of_checkpoint(cls, path: str | Path) -> RunDir:
        """The run a checkpoint belongs to: ``<run>`` for ``<run>/checkpoints/x.pt``, else
        the checkpoint's own folder."""
        path = Path(path)
        return cls(path.parent.parent if path.parent.name == CHECKPOINTS else path.parent)

    # ------------------------------------------------------------------ layout
    @property
    def config_path(self) -> Path:
        return self.path / CONFIG

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS

    @property
    def results_path(self) -> Path:
        return self.path / RESULTS

    @property
    def log_path(self) -> Path:
        return self.path / LOG

    @property
    def tensorboard(self) -> Path:
        return self.path / TENSORBOARD

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def best(self) -> Path:
        return self.checkpoints / BEST

    @property
    def last(self) -> Path:
        return self.checkpoints / LAST

    def step_checkpoint(self, step: int) -> Path:
        return self.checkpoints / f"step_{step}.pt"

    def step_checkpoints(self) -> list[Path]:
        """The ``step_<update>.pt`` checkpoints (``train.keep_last``), oldest first."""
        return ckpt_io.step_checkpoints(self.checkpoints)

    def hypotheses_path(self, split: str, beam: int) -> Path:
        return self.path / HYPOTHESES / f"{split}.beam{beam}.txt"

    def evaluation_path(self, name: str, beam: int) -> Path:
        """Where ``nmt-evaluate`` reports a checkpoint of this run (``.txt``: hypotheses)."""
        return self.path / EVALUATIONS / f"{name}.beam{beam}.json"

    @property
    def holds_run(self) -> bool:
        """A run started here: it has a last.pt or a validation log."""
        return self.last.exists() or self.metrics_path.exists()

    @property
    def finished(self) -> bool:
        return self.results_path.is_file()

    # ------------------------------------------------------------------ config.yaml
    def write_config(self, cfg: DictConfig) -> None:
        text = OmegaConf.to_yaml(cfg, resolve=True)
        write_or_explain(self.config_path, text.encode("utf-8"))

    def read_config(self) -> dict[str, Any]:
        if not self.config_path.is_file():
            raise ConfigError(f"{self.path}: no {CONFIG}; not an nmt run directory")
        config = OmegaConf.to_container(OmegaConf.load(self.config_path), resolve=False)
        if not isinstance(config, dict) or "data" not in config:
            raise ConfigError(f"{self.config_path}: holds no data config; not an nmt run directory")
        return migrate_config(config)

    def overrides(self) -> list[str]:
        """The command line's Hydra overrides (``.hydra/overrides.yaml``), if recorded."""
        path = self.path / ".hydra" / "overrides.yaml"
        if not path.is_file():
            return []
        return [str(o) for o in OmegaConf.to_container(OmegaConf.load(path)) or []]

    def hydra_cwd(self) -> Path | None:
        """The folder nmt-train ran in (Hydra's runtime.cwd), when the run recorded it."""
        path = self.path / ".hydra" / "hydra.yaml"
        if not path.is_file():
            return None
        cwd = OmegaConf.select(OmegaConf.load(path), "hydra.runtime.cwd")
        return Path(cwd) if cwd else None

    # ------------------------------------------------------------------ metrics.jsonl
    def append_validation(self, record: Validation) -> None:
        """Append one validation record (a line) to metrics.jsonl."""
        line = json.dumps(record.as_dict()) + "\n"
        try:
            with open(self.metrics_path, "a", encoding="utf-8") as f:
                f.write(line)
        except OSError as e:
            raise write_error(self.metrics_path, len(line), e) from None

    def validations(self) -> list[Validation]:
        """Every validation record; a line cut by a crash is skipped (the rest still plots)."""
        if not self.metrics_path.is_file():
            return []
        rows = []
        for line in self.metrics_path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(Validation.from_dict(json.loads(line)))
            except (ValueError, TypeError, AttributeError):
                continue
        return rows

    def set_aside_metrics(self) -> Path | None:
        """Move a validation log without a checkpoint aside (a fresh start keeps it)."""
        if not self.metrics_path.exists():
            return None
        aside = self.metrics_path.with_name(
            f"{METRICS}.before_{int(self.metrics_path.stat().st_mtime)}"
        )
        self.metrics_path.rename(aside)
        return aside

    # ------------------------------------------------------------------ results.json
    def write_results(self, results: dict[str, Any]) -> None:
        write_record(self.results_path, results)

    def read_results(self) -> dict[str, Any]:
        """The results record, migrated to the current format; one-line error if missing."""
        if not self.results_path.is_file():
            raise ConfigError(
                f"{self.path}: no {RESULTS} (an unfinished or failed run?); "
                "compare finished runs only"
            )
        try:
            raw = json.loads(self.results_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ConfigError(f"{self.results_path}: not readable as JSON ({e})") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{self.results_path}: not a results record")
        # its config fills in what an older record lacks (split names, search settings)
        older = raw.get("record_version", 0) < RESULTS_VERSION or not raw.get("decode")
        config = self.read_config() if older and self.config_path.is_file() else None
        return migrate_results(raw, config)

    def test_bleu(self) -> tuple[float | None, float | None, str]:
        """The first test split's BLEU, its interval's half-width and the split's name, when
        the run finished; else (None, None, "")."""
        if not self.finished:
            return None, None, ""
        tests = self.read_results().get("test", {})
        if not tests:
            return None, None, ""
        key, scores = next(iter(tests.items()))
        return scores.get("bleu"), scores.get("bleu_ci"), scores.get("split", key)

    # ------------------------------------------------------------------ hypotheses
    def write_hypotheses(self, split: str, beam: int, hyps: Sequence[str]) -> str:
        """Write a split's hypotheses; returns their path relative to the run."""
        path = self.hypotheses_path(split, beam)
        write_or_explain(path, "".join(h + "\n" for h in hyps).encode("utf-8"))
        return str(path.relative_to(self.path))

    def read_hypotheses(self, relative: str) -> list[str]:
        """The hypotheses a results record names (``test.<split>.hypotheses``); in a kept
        run (:mod:`nmt.runs.keep`), their ``.gz``."""
        path = self.path / relative
        packed = path.with_name(path.name + ".gz")
        if not path.is_file() and packed.is_file():
            import gzip

            with gzip.open(packed, "rt", encoding="utf-8") as f:
                return f.read().split("\n")[:-1]
        if not path.is_file():
            raise ConfigError(f"{path}: hypotheses file missing; the run directory is incomplete")
        return path.read_text(encoding="utf-8").split("\n")[:-1]

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, name: str, payload: dict[str, Any]) -> Path:
        return ckpt_io.save_checkpoint(payload, self.checkpoints / name)

    def load_checkpoint(self, name: str, map_location: Any = "cpu") -> dict[str, Any]:
        return ckpt_io.load_checkpoint(self.checkpoints / name, map_location=map_location)


def write_record(path: str | Path, record: dict[str, Any]) -> Path:
    """A JSON record (an ``nmt-evaluate`` report, say), written atomically."""
    text = json.dumps(record, indent=2, ensure_ascii=False) + "\n"
    return write_or_explain(path, text.encode("utf-8"))


def is_sweep(path: str | Path) -> bool:
    """A Hydra sweep folder: its job folders are run directories."""
    return (Path(path) / SWEEP).is_file()
