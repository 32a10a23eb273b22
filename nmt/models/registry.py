"""The variants: one declaration each, read by everything that needs to know a variant.

A :class:`Variant` names its config schema (a dataclass whose ``method()`` and
``sizes()`` summarise it in reports), its model class, its default
learning-rate schedule and rate, a one-line description, whether it attends
over the source, its textbook PyTorch counterpart (:mod:`nmt.models.textbook`, the
benchmark's baseline) and the smallest sizes worth training (tests and smoke
runs). Training (:mod:`nmt.training.schedule`), Hydra's schemas, ``nmt-compare``, the
benchmark, the tests and ``make compare`` read :data:`VARIANTS`; adding a
variant is its module, its ``configs/model/<name>.yaml`` and one entry here.
:data:`CONFIGURATIONS` names settings of a registered variant that the benchmark
times as a row of their own (``luong-nofeed``).

    python -m nmt.models          # the variant names, comma-separated
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from torch import nn

from nmt.errors import ConfigError
from nmt.models.base import EncoderDecoder
from nmt.models.config import BahdanauConfig, LuongConfig, Seq2SeqConfig, TransformerConfig
from nmt.models.rnn_decoder import Bahdanau, Luong, Seq2Seq
from nmt.models.textbook import PlainRNN, plain_pooled_transformer, plain_transformer
from nmt.models.transformer import Transformer
from nmt.models.transformer_pooled import PooledTransformer, PooledTransformerConfig

#: learning-rate schedules a variant can default to (``train.scheduler=auto``)
SCHEDULES = ("inverse_sqrt", "plateau", "constant")

#: (model config as a plain dict, source vocabulary size, target vocabulary size) -> model
TextbookBuilder = Callable[[dict[str, Any], int, int], nn.Module]

_TINY_RNN = {"emb_dim": 16, "hidden_size": 32, "enc_layers": 1}
_TINY_TRANSFORMER = {"d_model": 32, "heads": 2, "ff_dim": 64, "enc_layers": 1, "dec_layers": 1}


@dataclass(frozen=True)
class Variant:
    """Everything the rest of ``nmt`` knows about one encoder-decoder variant."""

    name: str
    config: type  # dataclass with method() and sizes(); Hydra schema "<name>_schema"
    model: type[EncoderDecoder]  # model(config, src_vocab_size, tgt_vocab_size)
    description: str  # one line, for --help texts and reports
    schedule: str  # default of train.scheduler=auto
    lr: float  # default of train.lr=0
    attention: bool  # decode_step returns weights over the source positions
    #: the textbook PyTorch model of its family at its sizes, and that model in a few words,
    #: for the benchmark (None: the benchmark times this variant alone)
    textbook: TextbookBuilder | None = None
    textbook_name: str = ""
    tiny: Mapping[str, Any] = field(default_factory=dict)  # sizes for tests and smoke runs

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"variant {self.name}: schedule {self.schedule!r} not in {SCHEDULES}")
        if getattr(self.config, "name", None) != self.name or self.model.variant != self.name:
            raise ValueError(f"variant {self.name}: its config and model must carry its name")

    def tiny_overrides(self) -> list[str]:
        """Hydra overrides that select this variant at its tiny size."""
        return [f"model={self.name}", *(f"model.{k}={v}" for k, v in self.tiny.items())]


def _register(*variants: Variant) -> dict[str, Variant]:
    return {v.name: v for v in variants}


VARIANTS: dict[str, Variant] = _register(
    Variant(
        "seq2seq",
        Seq2SeqConfig,
        Seq2Seq,
        "RNN encoder-decoder; the source reaches the decoder as one fixed vector (Cho 2014)",
        schedule="plateau",
        lr=1e-3,
        attention=False,
        textbook=PlainRNN,
        textbook_name="nn.GRU encoder, GRUCell loop",
        tiny=_TINY_RNN,
    ),
    Variant(
        "bahdanau",
        BahdanauConfig,
        Bahdanau,
        "RNN with additive attention from the previous decoder state (Bahdanau 2015)",
        schedule="plateau",
        lr=1e-3,
        attention=True,
        textbook=PlainRNN,
        textbook_name="nn.GRU encoder, GRUCell loop, additive attention",
        tiny={**_TINY_RNN, "attention_dim": 32},
    ),
    Variant(
        "luong",
        LuongConfig,
        Luong,
        "RNN with dot/general/concat attention and input feeding (Luong 2015)",
        schedule="plateau",
        lr=1e-3,
        attention=True,
        textbook=PlainRNN,
        textbook_name="nn.GRU encoder, GRUCell loop, general score, input feeding",
        tiny=_TINY_RNN,
    ),
    Variant(
        "transformer",
        TransformerConfig,
        Transformer,
        "multi-head self- and cross-attention, no recurrence (Vaswani 2017)",
        schedule="inverse_sqrt",
        lr=2e-3,  # with 200 warm-up updates: the fastest to validation BLEU 30 on Multi30k
        attention=True,
        textbook=plain_transformer,
        textbook_name="nn.Transformer",
        tiny=_TINY_TRANSFORMER,
    ),
    Variant(
        "transformer_pooled",
        PooledTransformerConfig,
        PooledTransformer,
        "the Transformer whose decoder sees one vector pooled from the encoder: the bottleneck",
        schedule="inverse_sqrt",
        lr=7e-4,
        attention=False,
        textbook=plain_pooled_transformer,
        textbook_name="nn.Transformer, mean-pooled memory",
        tiny=_TINY_TRANSFORMER,
    ),
)


#: named configurations of registered variants, benchmarked as rows of their own, each
#: after its variant: name -> (variant, the settings it changes)
CONFIGURATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "luong-nofeed": ("luong", {"input_feeding": False}),
}


def configuration(name: str) -> tuple[Variant, dict[str, Any]]:
    """The variant a variant's or a configuration's name stands for, and the settings the
    configuration changes (none for a variant's own name).

    Raises:
        ConfigError: neither a variant nor a configuration.
    """
    if name in CONFIGURATIONS:
        base, settings = CONFIGURATIONS[name]
        return VARIANTS[base], dict(settings)
    if name not in VARIANTS:
        known = ", ".join([*VARIANTS, *CONFIGURATIONS])
        raise ConfigError(f"{name!r} is neither a variant nor a configuration: {known}")
    return VARIANTS[name], {}


def with_configurations() -> list[str]:
    """Every variant, each followed by its named configurations."""
    return [
        name
        for v in VARIANTS
        for name in (v, *(c for c, (base, _) in CONFIGURATIONS.items() if base == v))
    ]


def register(v: Variant) -> Variant:
    """Add a variant defined outside this package (a module named in ``$NMT_USER_MODULES``
    calls this when imported); its Hydra YAML ``model/<name>.yaml`` lives in a folder
    given to Hydra as ``hydra.searchpath=[file://FOLDER]``."""
    if v.name in VARIANTS and VARIANTS[v.name] is not v:
        raise ConfigError(f"variant {v.name!r} is registered already; choose another name")
    summary = v.config()
    method, sizes = summary.method(), summary.sizes()
    if not isinstance(method, list | tuple) or not all(isinstance(m, str) for m in method):
        raise ConfigError(f"variant {v.name!r}: its config's method() must return a list of str")
    if not isinstance(sizes, str):
        raise ConfigError(f"variant {v.name!r}: its config's sizes() must return a str")
    VARIANTS[v.name] = v
    return v


#: comma-separated modules imported with the registry: each may :func:`register` variants
USER_MODULES = "NMT_USER_MODULES"


def load_user_modules(spec: str | None = None) -> list[str]:
    """Import the modules of ``$NMT_USER_MODULES`` (or ``spec``); returns their names.

    Raises:
        ConfigError: a module cannot be imported (named, with the first line of why).
    """
    spec = os.environ.get(USER_MODULES, "") if spec is None else spec
    names = [n.strip() for n in spec.split(",") if n.strip()]
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as e:  # any failure of user code: one line naming the module
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise ConfigError(
                f"${USER_MODULES}: cannot import {name!r} ({type(e).__name__}: {first}); "
                "put its folder on PYTHONPATH"
            ) from None
    return names


def variant(name: str) -> Variant:
    """The variant called ``name``.

    Raises:
        ConfigError: no such variant.
    """
    if name not in VARIANTS:
        raise ConfigError(f"model.name: {name!r} is not one of {', '.join(VARIANTS)}")
    return VARIANTS[name]


def register_model_configs(cs: ConfigStore) -> None:
    """Store every schema in group ``model`` as ``<variant>_schema``."""
    for name, v in VARIANTS.items():
        cs.store(group="model", name=f"{name}_schema", node=v.config)


def parse_model_config(cfg: Mapping[str, Any] | DictConfig) -> Any:
    """Validate a model config (Hydra node or plain dict) into its variant's dataclass.

    Raises:
        ConfigError: unknown variant, unknown key, bad choice or range.
    """
    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_container(cfg, resolve=True)
    values = dict(cfg)
    cls = variant(values.get("name")).config
    known = [f.name for f in dataclasses.fields(cls)]
    for key in values:
        if key not in known:
            raise ConfigError(
                f"model.{key}: not a {values['name']} key; valid keys: {', '.join(known)}"
            )
    return cls(**values)


def build_model(
    cfg: Mapping[str, Any] | DictConfig, src_vocab_size: int, tgt_vocab_size: int
) -> EncoderDecoder:
    """The model ``cfg`` describes (a Hydra node or the plain dict kept in a checkpoint).

    Raises:
        ConfigError: the config names an unknown variant, key or choice.
    """
    config = parse_model_config(cfg)
    return VARIANTS[config.name].model(config, src_vocab_size, tgt_vocab_size)


def describe_variant(model: Mapping[str, Any]) -> str:
    """The variant with the settings that make it a different method, e.g.
    ``luong (dot, no input feeding)``."""
    config = parse_model_config(model)
    extra = config.method()
    return f"{config.name} ({', '.join(extra)})" if extra else config.name


def describe_sizes(model: Mapping[str, Any]) -> str:
    """The model's sizes in a few words, for report tables."""
    return parse_model_config(model).sizes()


load_user_modules()  # last: user modules import this module's names
