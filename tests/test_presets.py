"""A preset without a size file for a variant fails at start-up, naming the file (every
preset composes with every variant at its own sizes: tests/test_compare.py)."""

from __future__ import annotations

import pytest

from nmt.cli.train import CONFIG_DIR, check_preset_sizes
from nmt.errors import ConfigError


def test_a_preset_without_a_variants_sizes_fails_naming_the_file(tmp_path):
    (tmp_path / "experiment" / "model" / "mine").mkdir(parents=True)
    with pytest.raises(ConfigError, match=r"experiment=mine has no sizes for model=luong: .*"
                                          r"mine/luong\.yaml is missing"):  # fmt: skip
        check_preset_sizes({"experiment": "mine", "model": "luong"}, [CONFIG_DIR, tmp_path])
    (tmp_path / "experiment" / "model" / "mine" / "luong.yaml").write_text("{}\n")
    check_preset_sizes({"experiment": "mine", "model": "luong"}, [CONFIG_DIR, tmp_path])
    check_preset_sizes({"experiment": None, "model": "luong"}, [tmp_path])  # no preset
