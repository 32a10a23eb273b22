"""The four encoder-decoder variants behind one decoding interface."""

from nmt.models.base import EncoderDecoder, State
from nmt.models.build import MODELS, build_model
from nmt.models.config import (
    BahdanauConfig,
    LuongConfig,
    ModelConfig,
    Seq2SeqConfig,
    TransformerConfig,
    parse_model_config,
    register_model_configs,
)
from nmt.models.rnn_decoder import Bahdanau, Luong, Seq2Seq
from nmt.models.transformer import Transformer

__all__ = [
    "MODELS",
    "Bahdanau",
    "BahdanauConfig",
    "EncoderDecoder",
    "Luong",
    "LuongConfig",
    "ModelConfig",
    "Seq2Seq",
    "Seq2SeqConfig",
    "State",
    "Transformer",
    "TransformerConfig",
    "build_model",
    "parse_model_config",
    "register_model_configs",
]
