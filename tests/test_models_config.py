"""Model configs: every yaml composes through Hydra and builds; bad values fail with one line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.errors import ConfigCompositionException
from omegaconf import DictConfig, OmegaConf

from nmt.errors import ConfigError
from nmt.models import VARIANTS, build_model, parse_model_config, register_model_configs

MODEL_CONFIGS = Path(__file__).resolve().parents[1] / "nmt" / "configs" / "model"
VOCAB = 8000  # the default joint sentencepiece vocabulary


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory) -> Path:
    """A test-only primary config beside a copy of configs/model."""
    root = tmp_path_factory.mktemp("configs")
    shutil.copytree(MODEL_CONFIGS, root / "model")
    (root / "config.yaml").write_text("defaults:\n  - model: transformer\n  - _self_\n")
    register_model_configs(ConfigStore.instance())
    return root


def compose_model(config_dir: Path, *overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides)).model


def test_every_variant_has_a_yaml() -> None:
    assert sorted(p.stem for p in MODEL_CONFIGS.glob("*.yaml")) == sorted(VARIANTS)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_config_composes_and_builds(config_dir: Path, variant: str) -> None:
    cfg = compose_model(config_dir, f"model={variant}")
    assert cfg.name == variant
    model = build_model(cfg, VOCAB, VOCAB)
    assert model.variant == variant
    # the plain dict a checkpoint stores rebuilds the same architecture
    plain = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(plain, dict)
    assert build_model(plain, VOCAB, VOCAB).num_parameters() == model.num_parameters()


def test_yaml_values_equal_schema_defaults(config_dir: Path) -> None:
    """The yaml files restate the dataclass defaults: one place cannot drift from the other."""
    for variant in VARIANTS:
        cfg = compose_model(config_dir, f"model={variant}")
        assert parse_model_config(cfg) == parse_model_config({"name": variant})


def test_default_sizes_are_comparable() -> None:
    counts = {v: build_model({"name": v}, VOCAB, VOCAB).num_parameters() for v in VARIANTS}
    assert all(9e6 < n < 15e6 for n in counts.values()), counts
    assert max(counts.values()) / min(counts.values()) < 1.5, counts


def test_misspelt_key_fails_at_composition(config_dir: Path) -> None:
    with pytest.raises(ConfigCompositionException, match="scroe"):
        compose_model(config_dir, "model=luong", "model.scroe=dot")


def test_wrong_type_fails_at_composition(config_dir: Path) -> None:
    with pytest.raises(ConfigCompositionException, match="hidden_size"):
        compose_model(config_dir, "model=luong", "model.hidden_size=big")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"name": "luong", "score": "foo"},
            r"model\.score: 'foo' is not one of dot, general, concat",
        ),
        (
            {"name": "bahdanau", "rnn_type": "rnn"},
            r"model\.rnn_type: 'rnn' is not one of gru, lstm",
        ),
        ({"name": "rnnsearch"}, r"model\.name: 'rnnsearch' is not one of seq2seq, bahdanau"),
        ({"name": "seq2seq", "score": "dot"}, r"model\.score: not a seq2seq key"),
        ({"name": "transformer", "heads": 3}, r"model\.heads: must divide d_model=256"),
        ({"name": "seq2seq", "hidden_size": 0}, r"model\.hidden_size: must be a positive integer"),
        ({"name": "seq2seq", "hidden_size": 15}, r"model\.hidden_size: must be even"),
        ({"name": "transformer", "dropout": 1.5}, r"model\.dropout: must be in \[0, 1\)"),
    ],
)
def test_bad_values_raise_config_error(overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_model(overrides, VOCAB, VOCAB)


def test_bad_choice_from_hydra_raises_config_error(config_dir: Path) -> None:
    cfg = compose_model(config_dir, "model=luong", "model.score=foo")
    with pytest.raises(ConfigError, match=r"model\.score: .foo. is not one of"):
        build_model(cfg, VOCAB, VOCAB)


def test_shared_embeddings_need_one_vocabulary() -> None:
    with pytest.raises(ConfigError, match=r"model\.share_embeddings"):
        build_model({"name": "transformer", "share_embeddings": True}, 8000, 7000)
