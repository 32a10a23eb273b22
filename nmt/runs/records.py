"""The records a run directory keeps, and their migrations from older releases.

- :class:`Validation`: one line of ``metrics.jsonl``, written after each validation.
- the results record (``results.json``): a finished run's scores, stop and compute; a dict
  with the keys :data:`RESULTS_KEYS` names, versioned by ``"record_version"``.
  :func:`migrate_results` brings a record of any earlier release to today's form, so its
  readers (``nmt-compare``, ``nmt-serve``, the scripts) need no branches of their own.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from nmt.data.config import split_name
from nmt.models.registry import VARIANTS
from nmt.translation.decoding import current_names

#: results.json's format: 2 names each test split (``split``) and always holds ``decode``
RESULTS_VERSION = 2

#: the keys of a results record, in the order results.json lists them
RESULTS_KEYS = (
    "record_version", "variant", "model_config", "corpus", "pair", "parameters",
    "stop_reason", "stop_detail", "stops", "budget", "steps", "epochs", "epochs_trained",
    "train_tgt_tokens", "train_src_tokens", "train_seconds", "wall_seconds", "processes",
    "train_tgt_tokens_per_s", "train_src_tokens_per_s", "device", "machines", "world_size",
    "backend", "precision", "torch", "threads", "allocator", "seed", "early_stopping_metric",
    "best_valid_bleu", "best_step", "decode", "tokenizer", "test", "best_checkpoint",
)  # fmt: skip


@dataclass(frozen=True)
class Validation:
    """One validation: the line ``metrics.jsonl`` gets after it (``final``: the extra one
    after the budget ran out, off the schedule)."""

    step: int
    epoch: int | None = None
    valid_loss: float | None = None
    valid_ppl: float | None = None
    valid_bleu: float | None = None
    valid_chrf: float | None = None
    best_valid_bleu: float | None = None
    lr: float | None = None
    train_tgt_tokens: int | None = None
    train_tokens_per_s: float | None = None
    train_seconds: float | None = None
    final: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The JSON line: unset fields left out, ``final`` only when true."""
        out = {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
        if not self.final:
            out.pop("final")
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Validation:
        """From a line of any release (unknown keys ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


def migrate_results(results: dict[str, Any], config: dict[str, Any] | None = None) -> dict:
    """A results record of any release in today's form (``record_version`` 2):

    - ``decode`` always present, with today's setting names and the decode ``precision``
      (version 0 kept ``test_beam`` in results and the length settings in the train config,
      given here as ``config``);
    - each test split's record names its split (``split``).
    """
    out, config = dict(results), config or {}
    version = int(out.get("record_version", 1 if "decode" in out else 0))
    decode = out.get("decode") or config.get("decode")
    if decode:
        decode = current_names(decode)
    else:  # version 0: the search settings before the config's decode node
        train = config.get("train", {})
        decode = {
            "beam": out.get("test_beam", train.get("test_beam")),
            "length_penalty": train.get("length_penalty"),
            "max_len_a": train.get("max_len_a"),
            "max_len_b": train.get("max_len_b"),
        }
    decode.setdefault("precision", out.get("precision"))
    out["decode"] = decode
    if version < 2:  # each split's real name, from the run's data config when it has one
        data = SimpleNamespace(**{"train": "", "valid": "", "test": "", **config.get("data", {})})
        out["test"] = {
            name: {"split": split_name(data, name) if config else name, **s}
            for name, s in (out.get("test") or {}).items()
        }
    out["record_version"] = RESULTS_VERSION
    return out


def migrate_config(config: dict[str, Any]) -> dict[str, Any]:
    """A run's config.yaml of any release with the values the run used: releases before
    0.2 kept ``train.lr: 0`` and ``train.scheduler: auto`` for "the variant's default"."""
    train = dict(config.get("train") or {})
    name = (config.get("model") or {}).get("name")
    if name not in VARIANTS or not train:
        return config
    if train.get("lr") in (0, 0.0):
        train["lr"] = VARIANTS[name].lr
    if train.get("scheduler") == "auto":
        train["scheduler"] = VARIANTS[name].schedule
    return {**config, "train": train}
