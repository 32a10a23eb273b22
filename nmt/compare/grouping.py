"""Collect, part 2: naming the runs and grouping the seeds of one configuration."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nmt.compare.rundir import Run
from nmt.models import describe_variant

#: settings that do not change what a run learns: runs that differ only in these (and in
#: train.seed) are seeds of one configuration
NOT_THE_METHOD = {
    "train": (
        "seed",
        "resume",
        "threads",
        "num_workers",
        "log_every",
        "num_samples",
        "device",
        "recipe",
    ),  # recipe: how lr was chosen, in words; lr itself counts
    "data": ("root", "mirror", "length_edges"),  # length_edges: how the test is tabulated
}


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


@dataclass(frozen=True)
class Group:
    """Runs of one configuration that differ only in ``train.seed``."""

    label: str
    runs: tuple[Run, ...]

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
    return [Group(label, tuple(g)) for label, g in zip(labels, groups, strict=True)]


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"seed": 1}}`` -> ``{"train.seed": 1}``."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out |= _flatten(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = v
    return out
