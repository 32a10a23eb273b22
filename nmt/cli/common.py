"""What the command-line tools share: argument checks and the device choice."""

from __future__ import annotations

import argparse

from nmt.device import resolve_device

__all__ = ["positive_int", "resolve_device"]


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
