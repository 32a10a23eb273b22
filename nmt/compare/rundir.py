"""Finished run directories as the comparison reads them, and the check that they share a
test set."""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from nmt.data.config import DEFAULT_ROOT
from nmt.errors import ConfigError
from nmt.models import describe_variant
from nmt.translation.decoding import current_names

#: synthetic-corpus keys that decide the test split's content
SYNTHETIC_TEST_KEYS = ("task", "min_len", "max_len", "vocab", "n_test", "seed")
#: the search settings of the test scores, as results.json records them
DECODE_KEYS = ("beam", "length_penalty", "max_len_a", "max_len_b", "precision")
#: what each decoding setting is called in messages (the config key that sets it)
DECODE_NAMES = {
    "beam": "beam (decode.beam)",
    "length_penalty": "length penalty (decode.length_penalty)",
    "max_len_a": "length limit a (decode.max_len_a)",
    "max_len_b": "length limit b (decode.max_len_b)",
    "precision": "decode precision (train.precision)",
    "tokenizer": "tokenizer (data.tokenizer / SentencePiece model)",
}
#: settings that do not change what a run learns: runs that differ only in these (and in
#: train.seed) are seeds of one configuration
NOT_THE_METHOD = {
    "train": ("seed", "resume", "threads", "num_workers", "log_every", "num_samples", "device"),
    "data": ("root", "mirror", "length_edges"),  # length_edges: how the test is tabulated
}


@dataclass
class Run:
    """One finished run: its results.json, config.yaml, metrics.jsonl and Hydra overrides."""

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
        path = self.path / ".hydra" / "hydra.yaml"
        if not path.is_file():
            return None
        cwd = OmegaConf.select(OmegaConf.load(path), "hydra.runtime.cwd")
        return Path(cwd) if cwd else None

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
        return self.path / "checkpoints" / "best.pt"

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
    def decoding(self) -> dict[str, Any]:
        """How the test scores were decoded: beam, length penalty, length limits, precision
        (from results.json; runs from before it recorded them: from their config)."""
        saved = self.results.get("decode") or self.config.get("decode")
        if saved:
            saved = current_names(saved)
            saved.setdefault("precision", self.results.get("precision"))
            return {k: saved.get(k) for k in DECODE_KEYS}
        t = self.train_config  # the settings' keys before the config's decode node
        return {
            "beam": self.results.get("test_beam", t.get("test_beam")),
            "length_penalty": t.get("length_penalty"),
            "max_len_a": t.get("max_len_a"),
            "max_len_b": t.get("max_len_b"),
            "precision": self.results.get("precision"),
        }

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
        path = self.path / self.test_scores(split)["hypotheses"]
        if not path.is_file():
            raise ConfigError(f"{path}: hypotheses file missing; the run directory is incomplete")
        return path.read_text(encoding="utf-8").split("\n")[:-1]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"{path}: not readable as JSON ({e})") from None


def _read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue  # a line cut by a crash: the rest still plots
    return rows


def load_run(path: str | Path) -> Run:
    """Read a finished run directory, or raise a one-line ConfigError naming what is missing."""
    path = Path(path)
    if not path.is_dir():
        raise ConfigError(f"{path}: no such run directory")
    results_path = path / "results.json"
    if not results_path.is_file():
        raise ConfigError(
            f"{path}: no results.json (an unfinished or failed run?); compare finished runs only"
        )
    results = _read_json(results_path)
    if "test" not in results.get("test", {}):
        raise ConfigError(f"{results_path}: holds no scores of the test split")
    config_path = path / "config.yaml"
    if not config_path.is_file():
        raise ConfigError(f"{path}: no config.yaml; not an nmt run directory")
    config = OmegaConf.to_container(OmegaConf.load(config_path), resolve=False)
    if not isinstance(config, dict) or "data" not in config:
        raise ConfigError(f"{config_path}: holds no data config; not an nmt run directory")
    overrides_path = path / ".hydra" / "overrides.yaml"
    overrides = (
        [str(o) for o in OmegaConf.to_container(OmegaConf.load(overrides_path)) or []]
        if overrides_path.is_file()
        else []
    )
    return Run(path, results, config, _read_metrics(path / "metrics.jsonl"), overrides)


def _job_order(path: Path) -> tuple[int, str]:
    """Hydra job folders (``<num>_<name>``) in job order: 2_x before 10_x."""
    head = path.name.split("_", 1)[0]
    return (int(head) if head.isdigit() else 1 << 30, path.name)


def expand_run_dirs(paths: Iterable[str | Path], warn: Any = print) -> list[Path]:
    """Run directories from the command line: a Hydra sweep folder (one holding
    multirun.yaml) stands for its finished job folders, in job order (a job that failed or
    was interrupted, and any other folder without results.json, is skipped with a
    warning); plain files are skipped with a warning."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_file():
            warn(f"skipping {p}: not a run directory")
        elif (p / "multirun.yaml").is_file() and not (p / "results.json").exists():
            jobs = sorted(
                (d for d in p.iterdir() if d.is_dir() and not d.name.startswith(".")),
                key=_job_order,
            )
            for d in jobs:
                if (d / "results.json").is_file():
                    out.append(d)
                else:
                    warn(f"skipping {d}: no results.json (an unfinished or failed job)")
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


def test_identity(data: dict[str, Any]) -> dict[str, Any]:
    """What decides the test split's content: corpus, pair, split (and the generator)."""
    ident = {
        "corpus": data["name"],
        "pair": f"{data['src']}-{data['tgt']}",
        "test split": data["test"],
    }
    if data["name"] == "synthetic":
        syn = data.get("synthetic", {})
        ident |= {f"synthetic.{k}": syn.get(k) for k in SYNTHETIC_TEST_KEYS}
    return ident


def check_same_test(runs: list[Run]) -> None:
    """Refuse runs tested on different corpora or test sets, naming the first two."""
    first = runs[0]
    want = test_identity(first.data_config)
    for run in runs[1:]:
        got = test_identity(run.data_config)
        for key, value in want.items():
            if got.get(key) != value:
                raise ConfigError(
                    f"{first.path} and {run.path} were tested on different data ({key}: "
                    f"{value} vs {got.get(key)}); compare runs of one corpus and test set"
                )


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text).strip("_")


def _until_unique(
    runs: list[Run], values: list[str], *refinements: Callable[[str, Run, int], str]
) -> list[str]:
    """Apply ``refinements`` (value, run, 1-based index -> value) one after the other, each
    to every value, until the values are unique."""
    for refine in refinements:
        if len(set(values)) == len(values):
            break
        values = [refine(v, r, i) for i, (v, r) in enumerate(zip(values, runs, strict=True), 1)]
    return values


def name_runs(runs: list[Run]) -> None:
    """Give each run a unique file name (the variant, then its seed, then its settings,
    then its folder) and a unique label (the described variant, then its seed, then its
    folder)."""
    names = _until_unique(
        runs,
        [r.variant for r in runs],
        lambda n, r, i: f"{r.variant}_seed{r.seed}",
        lambda n, r, i: f"{_slug(describe_variant(r.model_config))}_seed{r.seed}",
        lambda n, r, i: f"{n}_{_slug(r.path.name)}",
        lambda n, r, i: f"{n}_{_slug(r.path.parent.name)}",  # same job in two sweeps
        lambda n, r, i: f"{n}_{i}",
    )
    labels = _until_unique(
        runs,
        [describe_variant(r.model_config) for r in runs],
        lambda lab, r, i: f"{lab}, seed {r.seed}",
        lambda lab, r, i: f"{lab} [{r.path.name}]",
        lambda lab, r, i: f"{lab[:-1]}, {r.path.parent.name}]",
        lambda lab, r, i: f"{lab} #{i}",
    )
    for run, name, label in zip(runs, names, labels, strict=True):
        run.name, run.label = name, label


def tokenizer_identity(runs: list[Run]) -> list[str]:
    """Per run, what decides its tokenization: the SentencePiece model's sha256 when every
    run recorded it, else the tokenizer settings and the text it was trained on."""
    if all(r.results.get("tokenizer") for r in runs):
        return [str(r.results["tokenizer"])[:12] for r in runs]
    out = []
    for r in runs:
        d = r.data_config
        settings = {k: d.get(k) for k in ("name", "src", "tgt", "train", "seed")}
        out.append(json.dumps({**settings, **(d.get("tokenizer") or {})}, sort_keys=True))
    return out


def _decodings(runs: list[Run]) -> dict[str, list[Any]]:
    """Per decoding setting (and the tokenizer), each run's value, in run order."""
    values = {key: [r.decoding.get(key) for r in runs] for key in DECODE_KEYS}
    values["tokenizer"] = tokenizer_identity(runs)
    return values


def decoding_mismatches(runs: list[Run]) -> dict[str, dict[str, Any]]:
    """Each decoding setting (and the tokenizer) on which the runs differ -> value per run
    label (empty when every run decoded alike)."""
    return {
        key: {r.label or str(r.path): v for r, v in zip(runs, vals, strict=True)}
        for key, vals in _decodings(runs).items()
        if any(v != vals[0] for v in vals[1:])
    }


def check_same_decoding(runs: list[Run]) -> None:
    """Refuse runs whose test scores were decoded differently or tokenized differently,
    naming the first run, one that differs from it and the setting."""
    for key, vals in _decodings(runs).items():
        for run, value in zip(runs[1:], vals[1:], strict=True):
            if value != vals[0]:
                raise ConfigError(
                    f"{runs[0].path} and {run.path} were decoded differently "
                    f"({DECODE_NAMES[key]}: {vals[0]} vs {value}); compare runs decoded "
                    "alike, or pass --allow-mismatch to compare them anyway with every "
                    "difference marked"
                )


def condition(run: Run) -> str:
    """What the run is, apart from its seed: its config without the settings in
    :data:`NOT_THE_METHOD` and without null (unset) settings, as canonical JSON."""
    config = dict(run.config)
    config["model"] = run.model_config
    config["train"] = run.train_config
    for group, keys in NOT_THE_METHOD.items():
        section = dict(config.get(group) or {})
        for key in keys:
            section.pop(key, None)
        config[group] = section
    config.pop("name", None)
    return json.dumps(_set_only(config), sort_keys=True, default=str)


def _set_only(d: dict[str, Any]) -> dict[str, Any]:
    """``d`` without its null settings, at every depth: a key a later version added
    (written as null, "not set") matches a config written before it existed."""
    return {k: _set_only(v) if isinstance(v, dict) else v for k, v in d.items() if v is not None}


@dataclass
class Group:
    """Runs of one configuration that differ only in ``train.seed``."""

    label: str
    runs: list[Run]

    @property
    def seeds(self) -> list[int | None]:
        return [r.seed for r in self.runs]

    @property
    def variant(self) -> str:
        return self.runs[0].variant


def group_runs(runs: list[Run]) -> list[Group]:
    """Group runs that differ only in ``train.seed`` (in order of first appearance; runs
    in a group in seed order). A group's label is its variant described, made unique."""
    by_key: dict[str, list[Run]] = {}
    for run in runs:
        by_key.setdefault(condition(run), []).append(run)
    groups = [sorted(g, key=lambda r: (r.seed is None, r.seed or 0)) for g in by_key.values()]
    labels = [describe_variant(g[0].model_config) for g in groups]
    for label in {lab for lab in labels if labels.count(lab) > 1}:
        same = [i for i, lab in enumerate(labels) if lab == label]
        flat = [_flatten(json.loads(condition(groups[i][0]))) for i in same]
        keys = sorted(k for k in set().union(*flat) if len({str(f.get(k)) for f in flat}) > 1)
        for i, f in zip(same, flat, strict=True):
            shown = ", ".join(f"{k}={f.get(k)}" for k in keys[:3])
            labels[i] = f"{label} ({shown})" if shown else f"{label} #{i + 1}"
    if len(set(labels)) < len(labels):  # more settings differ than a label shows
        labels = [f"{lab} #{i}" for i, lab in enumerate(labels, 1)]
    return [Group(label, g) for label, g in zip(labels, groups, strict=True)]


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"seed": 1}}`` -> ``{"train.seed": 1}``."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out |= _flatten(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = v
    return out
