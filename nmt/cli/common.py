"""What the command-line tools share: argument checks, search flags and the device choice."""

from __future__ import annotations

import argparse

from nmt.decoding import Decoding
from nmt.device import resolve_device

__all__ = ["add_decoding_args", "decoding_from_args", "positive_int", "resolve_device"]


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a number >= 0."""
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return value


def add_decoding_args(p: argparse.ArgumentParser) -> None:
    """The search settings (``decode.*`` of a run), each defaulting to the run's own."""
    g = p.add_argument_group("search (default: the settings the run decoded its test sets with)")
    g.add_argument("--beam", type=positive_int, help="beam size (1 = greedy)")
    g.add_argument("--length-penalty", type=float, help="GNMT length penalty alpha")
    g.add_argument("--max-len-a", type=non_negative_float, help="output limit: a * source + b")
    g.add_argument("--max-len-b", type=int, help="output limit: a * source + b")
    g.add_argument(
        "--batch-tokens", type=positive_int, help="search batch budget: sentences x source x beam"
    )


def decoding_from_args(default: Decoding, args: argparse.Namespace) -> Decoding:
    """``default`` with the search flags that were given."""
    return default.replace(
        beam=args.beam,
        length_penalty=args.length_penalty,
        max_len_a=args.max_len_a,
        max_len_b=args.max_len_b,
        batch_tokens=args.batch_tokens,
    )
