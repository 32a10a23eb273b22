"""One device / precision resolution for every tool."""

from __future__ import annotations

import pytest
import torch

from nmt.errors import ConfigError
from nmt.system import device as nmt_device
from nmt.system.device import (
    autocast,
    cpu_description,
    cpu_has_native_bf16,
    resolve_device,
    resolve_precision,
)


def test_auto_picks_cuda_only_when_there_is_one():
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_names_the_key_and_the_way_out():
    with pytest.raises(ConfigError, match=r"train.device=cuda:1: CUDA is not available.*use cpu"):
        resolve_device("cuda:1", "train.device")


@pytest.mark.parametrize("native_bf16", [True, False])
def test_precision_auto_is_bf16_on_cuda_and_on_cpus_with_native_bf16(monkeypatch, native_bf16):
    monkeypatch.setattr(nmt_device, "cpu_has_native_bf16", lambda: native_bf16)
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == ("bf16" if native_bf16 else "fp32")
    assert resolve_precision("auto", torch.device("cuda")) == "bf16"
    assert resolve_precision("bf16", cpu) == "bf16"
    assert resolve_precision("fp32", cpu) == "fp32"


def test_native_bf16_follows_the_cpu_flags(monkeypatch):
    for avx512_bf16, amx in [(False, False), (True, False), (False, True)]:
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda v=avx512_bf16: v)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda v=amx: v)
        assert cpu_has_native_bf16() is (avx512_bf16 or amx)
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported")
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported")
    assert cpu_has_native_bf16() is False  # a torch without the probes: stay fp32


def test_the_cpu_is_named_with_its_bf16_matrix_instructions(monkeypatch):
    monkeypatch.setattr(nmt_device, "cpu_model", lambda: "Some CPU")
    for avx512_bf16, amx, units in [(True, True, "AMX, AVX512-BF16"), (True, False, "AVX512-BF16"),
                                    (False, False, "no bf16 matrix instructions")]:  # fmt: skip
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda v=avx512_bf16: v)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda v=amx: v)
        assert cpu_description() == f"Some CPU ({units})"
    monkeypatch.undo()
    assert nmt_device.cpu_model() and cpu_description().startswith(nmt_device.cpu_model())


def test_autocast_runs_matmuls_in_bf16_only_when_resolved_to_bf16(monkeypatch):
    a = torch.randn(4, 4)
    cpu = torch.device("cpu")
    with autocast(cpu, "fp32"):
        assert (a @ a).dtype == torch.float32
    monkeypatch.setattr(nmt_device, "cpu_has_native_bf16", lambda: False)
    with autocast(cpu, "auto"):
        assert (a @ a).dtype == torch.float32
    monkeypatch.setattr(nmt_device, "cpu_has_native_bf16", lambda: True)
    with autocast(cpu, "auto"):
        assert (a @ a).dtype == torch.bfloat16
    with autocast(cpu, "bf16"):
        assert (a @ a).dtype == torch.bfloat16
