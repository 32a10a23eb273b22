"""Collect: finished run directories -> named, grouped runs that are fit to compare.

The first stage of ``nmt-compare``: :func:`collect_runs` reads each run directory
(:mod:`nmt.compare.rundir`), refuses runs tested on different data or (unless allowed)
decoded differently, names the runs and groups the seeds of one configuration
(:mod:`nmt.compare.grouping`). The analysis (:mod:`nmt.compare.analyse`) takes it from
there.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nmt.compare.grouping import Group, group_runs, name_runs
from nmt.compare.rundir import SEARCH_KEYS, Run, load_run
from nmt.errors import ConfigError

#: synthetic-corpus keys that decide the test split's content
SYNTHETIC_TEST_KEYS = ("task", "min_len", "max_len", "vocab", "n_test", "seed")
#: what each decoding setting is called in messages (the config key that sets it)
DECODE_NAMES = {
    "beam": "beam (decode.beam)",
    "length_penalty": "length penalty (decode.length_penalty)",
    "max_len_a": "length limit a (decode.max_len_a)",
    "max_len_b": "length limit b (decode.max_len_b)",
    "precision": "decode precision (train.precision)",
    "tokenizer": "tokenizer (data.tokenizer / SentencePiece model)",
}


@dataclass(frozen=True)
class Collected:
    """The runs to compare, the seeds of a variant together (in group order)."""

    runs: tuple[Run, ...]
    groups: tuple[Group, ...]
    #: decoding setting (or "tokenizer") -> value per run label, where the runs differ
    mismatches: dict[str, dict[str, Any]]


def collect_runs(run_dirs: Sequence[str | Path], allow_mismatch: bool = False) -> Collected:
    """Read the run directories, check that they are comparable, name and group them.

    Raises:
        ConfigError: a run is unfinished or incomplete, the runs differ in test data, or
            (unless ``allow_mismatch``) in how their test scores were decoded.
    """
    runs = [load_run(d) for d in run_dirs]
    check_same_test(runs)
    if not allow_mismatch:
        check_same_decoding(runs)
    name_runs(runs)
    groups = group_runs(runs)
    runs = [r for g in groups for r in g.runs]  # the seeds of a variant together
    return Collected(tuple(runs), tuple(groups), decoding_mismatches(runs))


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
    values = {key: [r.decoding.setting(key) for r in runs] for key in (*SEARCH_KEYS, "precision")}
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
