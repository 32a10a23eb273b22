"""Structured configs of the RNN variants and the Transformer, one dataclass each.

:mod:`nmt.models.registry` stores each in Hydra's ConfigStore as
``<variant>_schema``, which ``configs/model/<variant>.yaml`` extends, so a
misspelt key fails when Hydra composes the config. Choices (``rnn_type``,
``score``) and ranges are checked in ``__post_init__``. Each config also says
how it is summarised in reports: :meth:`method` (the settings that make it a
different method) and :meth:`sizes`. Defaults are sized for Multi30k with a
joint 8k vocabulary: every variant has 10-12M parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nmt.errors import ConfigError
from nmt.models.attention import LUONG_SCORES
from nmt.models.encoder import RNN_TYPES


def _choice(key: str, value: Any, choices: Any) -> None:
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
        _choice("rnn_type", self.rnn_type, tuple(RNN_TYPES))
        _positive(self, "emb_dim", "hidden_size", "enc_layers", "dec_layers")
        _probability("dropout", self.dropout)
        if self.bidirectional and self.hidden_size % 2:
            raise ConfigError(
                f"model.hidden_size: must be even with bidirectional=true, got {self.hidden_size}"
            )

    def method(self) -> list[str]:
        """The settings that make this a different method (for report labels)."""
        return ["lstm"] if self.rnn_type == "lstm" else []

    def sizes(self) -> str:
        """Model sizes in a few words, for report tables."""
        parts = [
            self.rnn_type,
            f"emb {self.emb_dim}",
            f"hidden {self.hidden_size}",
            f"layers {self.enc_layers}+{self.dec_layers}",
        ]
        if self.bidirectional:
            parts.append("bidirectional")
        return ", ".join([*parts, *self._extra_sizes(), f"dropout {self.dropout}"])

    def _extra_sizes(self) -> list[str]:
        return []


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

    def _extra_sizes(self) -> list[str]:
        return [f"attention {self.attention_dim}"]


@dataclass
class LuongConfig(RNNConfig):
    """Luong et al. 2015: attention from the current decoder state, optional input feeding."""

    name: str = "luong"
    score: str = "general"
    input_feeding: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        _choice("score", self.score, LUONG_SCORES)

    def method(self) -> list[str]:
        feeding = "input feeding" if self.input_feeding else "no input feeding"
        return [*super().method(), self.score, feeding]


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

    def method(self) -> list[str]:
        """The settings that make this a different method (for report labels)."""
        return []

    def sizes(self) -> str:
        """Model sizes in a few words, for report tables."""
        norm = "pre-norm" if self.pre_norm else "post-norm"
        return (
            f"d {self.d_model}, {self.heads} heads, ff {self.ff_dim}, "
            f"layers {self.enc_layers}+{self.dec_layers}, {norm}, dropout {self.dropout}"
        )
