"""Structured configuration of the data pipeline (Hydra group ``data``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from nmt.errors import ConfigError

DEFAULT_ROOT = "data"


@dataclass
class TokenizerConfig:
    """SentencePiece settings; the model is trained on the train split only."""

    type: str = "unigram"  # unigram | bpe
    vocab_size: int = 8000
    joint: bool = True  # one model shared by both languages
    character_coverage: float = 1.0


@dataclass
class SyntheticConfig:
    """A generated copy/reverse task, for checking a model learns at all."""

    task: str = "reverse"  # copy | reverse
    min_len: int = 5
    max_len: int = 60
    vocab: int = 20
    n_train: int = 20000
    n_valid: int = 500
    n_test: int = 1000
    seed: int = 1234


@dataclass
class DataConfig:
    """Which corpus, which direction and splits, and how to tokenize and batch it."""

    name: str = "multi30k"
    src: str = "de"
    tgt: str = "en"
    train: str = "train"
    valid: str = "val"
    test: str = "test_2016_flickr"
    extra_tests: list[str] = field(default_factory=list)
    max_len: int = 100  # max subword tokens per side for training pairs
    max_chars: int = 1000  # raw pairs longer than this (either side) are dropped from train
    max_tokens: int = 4096  # batch budget: batch size x max padded length (incl. BOS/EOS)
    valid_size: int = 2000  # tatoeba: pairs held out for validation
    # BLEU-by-length buckets: upper bounds in source words (a bucket under 50 sentences
    # joins the next); None: equal-count buckets in comparisons, LENGTH_EDGES in results
    length_edges: list[int] | None = None
    mirror: str | None = None  # offline copy of the downloads; NMT_DATA_MIRROR when unset
    root: str = DEFAULT_ROOT  # downloads and tokenizers; NMT_DATA_DIR replaces the default
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    # train from the prepared split (token ids on disk, made once: nmt.data.store); false:
    # read, tokenize and hold the train split in memory at every start, as nmt once did
    prepared: bool = True
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    seed: int = 1


def data_root(root: str | os.PathLike[str] | None = DEFAULT_ROOT) -> Path:
    """The data folder: ``root``, or ``$NMT_DATA_DIR`` when root is left at its default."""
    env = os.environ.get("NMT_DATA_DIR")
    if env and (root is None or str(root) == DEFAULT_ROOT):
        return Path(env).expanduser()
    return Path(root if root is not None else DEFAULT_ROOT).expanduser()


def mirror_dir(mirror: str | os.PathLike[str] | None = None) -> Path | None:
    """The corpus mirror: ``mirror``, else ``$NMT_DATA_MIRROR``, else None (download)."""
    value = mirror if mirror not in (None, "") else os.environ.get("NMT_DATA_MIRROR")
    return Path(value).expanduser() if value else None


def as_data_config(cfg: object) -> DataConfig:
    """A ``DataConfig`` from itself, an OmegaConf node or a plain dict (keys checked)."""
    if isinstance(cfg, DataConfig):
        return cfg
    try:
        merged = OmegaConf.merge(OmegaConf.structured(DataConfig), cfg)
        return OmegaConf.to_object(merged)  # type: ignore[return-value]
    except OmegaConfBaseException as e:
        first = str(e).splitlines()[0]
        raise ConfigError(f"data config: {first}; fix the data.* keys") from None


def split_name(cfg: Any, key: str) -> str:
    """The name a user knows a split by: ``test`` is ``data.test`` (``test_2016_flickr``; a
    file's name for the files corpus), ``valid`` is ``data.valid``; extra tests are named
    already."""
    value = {"train": cfg.train, "valid": cfg.valid, "test": cfg.test}.get(key, key)
    if not value:
        return key
    return Path(str(value)).name if "/" in str(value) else str(value)
