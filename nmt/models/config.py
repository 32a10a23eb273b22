"""Structured configs, one dataclass per variant, registered in Hydra's ConfigStore.

``configs/model/<variant>.yaml`` extends ``<variant>_schema``, so a misspelt
key fails when Hydra composes the config. Choices (``rnn_type``, ``score``)
and ranges are checked by :func:`parse_model_config`, which also accepts the
plain dict stored in a checkpoint. Defaults are sized for Multi30k with a
joint 8k vocabulary: every variant has 10-12M parameters.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from nmt.errors import ConfigError

RNN_TYPES = ("gru", "lstm")
LUONG_SCORES = ("dot", "general", "concat")


def _choice(key: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"model.{key}: {value!r} is not one of {', '.join(choices)}")


def _positive(cfg: Any, *keys: str) -> None:
    for key in keys:
        value = getattr(cfg, key)
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"model.{key}: must be a positive integer, got {value!r}")


def _probability(key: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ConfigError(f"model.{key}: must be in [0, 1), got {value!r}")


@dataclass
class RNNConfig:
    """Fields shared by the three RNN variants (encoder, bridge, decoder RNN)."""

    name: str
    rnn_type: str = "gru"
    emb_dim: int = 256
    hidden_size: int = 512
    enc_layers: int = 2
    dec_layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.3

    def __post_init__(self) -> None:
        _choice("rnn_type", self.rnn_type, RNN_TYPES)
        _positive(self, "emb_dim", "hidden_size", "enc_layers", "dec_layers")
        _probability("dropout", self.dropout)
        if self.bidirectional and self.hidden_size % 2:
            raise ConfigError(
                f"model.hidden_size: must be even with bidirectional=true, got {self.hidden_size}"
            )


@dataclass
class Seq2SeqConfig(RNNConfig):
    """Cho et al. 2014: the source reaches the decoder only as one fixed vector."""

    name: str = "seq2seq"


@dataclass
class BahdanauConfig(RNNConfig):
    """Bahdanau et al. 2015: additive attention from the previous decoder state."""

    name: str = "bahdanau"
    attention_dim: int = 512

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(self, "attention_dim")


@dataclass
class LuongConfig(RNNConfig):
    """Luong et al. 2015: attention from the current decoder state, optional input feeding."""

    name: str = "luong"
    score: str = "general"
    input_feeding: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        _choice("score", self.score, LUONG_SCORES)


@dataclass
class TransformerConfig:
    """Vaswani et al. 2017, base architecture scaled down for Multi30k."""

    name: str = "transformer"
    d_model: int = 256
    heads: int = 4
    ff_dim: int = 1024
    enc_layers: int = 3
    dec_layers: int = 3
    dropout: float = 0.1  # embeddings and every sublayer's output (§5.4, P_drop)
    attention_dropout: float = 0.0  # on attention weights (not in the paper)
    activation_dropout: float = 0.0  # inside the FFN, after the ReLU (not in the paper)
    pre_norm: bool = True
    tie_embeddings: bool = True
    share_embeddings: bool = False

    def __post_init__(self) -> None:
        _positive(self, "d_model", "heads", "ff_dim", "enc_layers", "dec_layers")
        _probability("dropout", self.dropout)
        _probability("attention_dropout", self.attention_dropout)
        _probability("activation_dropout", self.activation_dropout)
        if self.d_model % self.heads:
            raise ConfigError(f"model.heads: must divide d_model={self.d_model}, got {self.heads}")


ModelConfig = Seq2SeqConfig | BahdanauConfig | LuongConfig | TransformerConfig

CONFIGS: dict[str, type[ModelConfig]] = {
    "seq2seq": Seq2SeqConfig,
    "bahdanau": BahdanauConfig,
    "luong": LuongConfig,
    "transformer": TransformerConfig,
}


def register_model_configs(cs: ConfigStore) -> None:
    """Store every schema in group ``model`` as ``<variant>_schema``."""
    for name, cls in CONFIGS.items():
        cs.store(group="model", name=f"{name}_schema", node=cls)


def parse_model_config(cfg: Mapping[str, Any] | DictConfig) -> ModelConfig:
    """Validate a model config (Hydra node or plain dict) into its dataclass.

    Raises:
        ConfigError: unknown variant, unknown key, bad choice or range.
    """
    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_container(cfg, resolve=True)
    values = dict(cfg)
    name = values.get("name")
    if name not in CONFIGS:
        raise ConfigError(f"model.name: {name!r} is not one of {', '.join(CONFIGS)}")
    cls = CONFIGS[name]
    known = [f.name for f in dataclasses.fields(cls)]
    for key in values:
        if key not in known:
            raise ConfigError(f"model.{key}: not a {name} key; valid keys: {', '.join(known)}")
    return cls(**values)
