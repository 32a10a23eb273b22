"""One device / precision resolution for every tool."""

from __future__ import annotations

import pytest
import torch

from nmt.device import autocast, resolve_device, resolve_precision
from nmt.errors import ConfigError


def test_auto_picks_cuda_only_when_there_is_one():
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_names_the_key_and_the_way_out():
    with pytest.raises(ConfigError, match=r"train.device=cuda:1: CUDA is not available.*use cpu"):
        resolve_device("cuda:1", "train.device")


def test_precision_auto_is_bf16_on_cuda_and_fp32_on_the_cpu():
    assert resolve_precision("auto", torch.device("cpu")) == "fp32"
    assert resolve_precision("auto", torch.device("cuda")) == "bf16"
    assert resolve_precision("bf16", torch.device("cpu")) == "bf16"


def test_autocast_runs_matmuls_in_bf16_only_on_request():
    a = torch.randn(4, 4)
    cpu = torch.device("cpu")
    with autocast(cpu, "fp32"):
        assert (a @ a).dtype == torch.float32
    with autocast(cpu, "auto"):
        assert (a @ a).dtype == torch.float32
    with autocast(cpu, "bf16"):
        assert (a @ a).dtype == torch.bfloat16
