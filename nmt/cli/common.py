"""What the command-line tools share: argument checks and the device choice."""

from __future__ import annotations

import argparse

import torch

from nmt.errors import ConfigError


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def resolve_device(name: str) -> str:
    """``auto`` -> cuda when available, else cpu; a CUDA device on a machine without one fails."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: CUDA is not available here; use --device cpu")
    return name
