"""Build a model from its config: a dict from variant name to class, nothing more."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig

from nmt.models.base import EncoderDecoder
from nmt.models.config import parse_model_config
from nmt.models.rnn_decoder import Bahdanau, Luong, Seq2Seq
from nmt.models.transformer import Transformer

MODELS: dict[str, type[EncoderDecoder]] = {
    "seq2seq": Seq2Seq,
    "bahdanau": Bahdanau,
    "luong": Luong,
    "transformer": Transformer,
}


def build_model(
    cfg: Mapping[str, Any] | DictConfig, src_vocab_size: int, tgt_vocab_size: int
) -> EncoderDecoder:
    """The model ``cfg`` describes (a Hydra node or the plain dict kept in a checkpoint).

    Raises:
        ConfigError: the config names an unknown variant, key or choice.
    """
    config = parse_model_config(cfg)
    return MODELS[config.name](config, src_vocab_size, tgt_vocab_size)
