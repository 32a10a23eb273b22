"""Every preset (``experiment=X``) composes with every variant, and takes its sizes from its
own size file; a missing size file fails at start-up, naming it."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from nmt.cli.train import CONFIG_DIR, check_preset_sizes, config_dirs
from nmt.errors import ConfigError
from nmt.models import VARIANTS, parse_model_config
from nmt.training.config import register_configs

PRESETS = sorted(p.stem for p in (Path(CONFIG_DIR) / "experiment").glob("*.yaml"))


def composed(*overrides: str):
    register_configs()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides), return_hydra_config=True)


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_composes_with_every_variant_at_its_own_sizes(preset):
    assert len(PRESETS) >= 4
    for name in VARIANTS:
        cfg = composed(f"experiment={preset}", f"model={name}")
        choices = cfg.hydra.runtime.choices
        assert choices["experiment"] == preset and choices["model"] == name
        assert CONFIG_DIR in map(str, config_dirs(cfg.hydra))
        check_preset_sizes(choices, config_dirs(cfg.hydra))
        sizes = OmegaConf.load(Path(CONFIG_DIR) / "experiment" / "model" / preset / f"{name}.yaml")
        assert cfg.model.name == name
        for key, value in sizes.items():
            assert cfg.model[key] == value, (preset, name, key)
        parse_model_config(cfg.model)


def test_a_preset_without_a_variants_sizes_fails_naming_the_file(tmp_path):
    (tmp_path / "experiment" / "model" / "mine").mkdir(parents=True)
    with pytest.raises(ConfigError, match=r"experiment=mine has no sizes for model=luong: .*"
                                          r"mine/luong\.yaml is missing"):  # fmt: skip
        check_preset_sizes({"experiment": "mine", "model": "luong"}, [CONFIG_DIR, tmp_path])
    (tmp_path / "experiment" / "model" / "mine" / "luong.yaml").write_text("{}\n")
    check_preset_sizes({"experiment": "mine", "model": "luong"}, [CONFIG_DIR, tmp_path])
    check_preset_sizes({"experiment": None, "model": "luong"}, [tmp_path])  # no preset
