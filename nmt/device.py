"""Device and precision choices, in one place for every tool.

``auto`` means CUDA when there is one, else the CPU; precision ``auto`` means
bf16 autocast on CUDA and fp32 on the CPU (bf16 on the CPU is there on request).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch

from nmt.errors import ConfigError


def resolve_device(name: str, key: str = "--device") -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; a CUDA device without CUDA fails.

    ``key`` names the setting in the error (``--device`` or ``train.device``).
    """
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"{key}={name}: CUDA is not available here; use cpu or auto")
    return name


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` -> ``bf16`` on CUDA, ``fp32`` elsewhere; ``fp32`` / ``bf16`` pass through."""
    if precision == "auto":
        return "bf16" if device.type == "cuda" else "fp32"
    return precision


def autocast(device: torch.device, precision: str) -> AbstractContextManager:
    """bf16 autocast context when ``precision`` resolves to bf16; a no-op otherwise."""
    if resolve_precision(precision, device) == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return nullcontext()
