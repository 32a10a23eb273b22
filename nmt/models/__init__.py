"""The encoder-decoder variants behind one decoding interface; :data:`VARIANTS` lists them."""

from nmt.models.base import EncoderDecoder, State
from nmt.models.registry import (
    VARIANTS,
    Variant,
    build_model,
    describe_sizes,
    describe_variant,
    parse_model_config,
    register_model_configs,
    variant,
)

__all__ = [
    "VARIANTS",
    "EncoderDecoder",
    "State",
    "Variant",
    "build_model",
    "describe_sizes",
    "describe_variant",
    "parse_model_config",
    "register_model_configs",
    "variant",
]
