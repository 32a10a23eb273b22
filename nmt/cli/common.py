"""What the command-line tools share: argument checks, search flags and the device choice."""

from __future__ import annotations

import argparse

import torch

from nmt.system.device import resolve_device, resolve_precision
from nmt.translation.decoding import Decoding

__all__ = [
    "add_decoding_args",
    "add_engine_args",
    "add_precision_arg",
    "decoding_from_args",
    "engine_kwargs",
    "positive_int",
    "precision_from_args",
    "resolve_device",
]


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


def add_precision_arg(p: argparse.ArgumentParser) -> None:
    """``--precision``: the matmul precision of decoding (fp32 unless asked)."""
    p.add_argument(
        "--precision",
        choices=("fp32", "bf16", "auto"),
        default="fp32",
        help="decode in fp32 (default) or under bf16 autocast, as validation decodes in a "
        "bf16 run; auto = bf16 on CUDA and on CPUs with bf16 matrix units",
    )


def add_engine_args(p: argparse.ArgumentParser) -> None:
    """``--engine``, ``--compute-type``, ``--vocab-map``, ``--workers`` and ``--threads``:
    which search runs, over which candidates, and on how many CPU threads."""
    g = p.add_argument_group("engine")
    g.add_argument(
        "--engine",
        choices=("auto", "torch", "ct2"),
        default="auto",
        help="torch: this package's search; ct2: CTranslate2's (an nmt-export ct2 folder, or "
        "a Transformer checkpoint exported on the fly); auto (default): ct2 for an export "
        "folder, else torch",
    )
    g.add_argument(
        "--compute-type",
        default="default",
        help="CTranslate2's precision: float32, int8, int8_float32, ... (default: as exported)",
    )
    g.add_argument(
        "--vocab-map",
        default="auto",
        metavar="auto|off|FILE",
        help="score only the target pieces a batch's sources can translate into: auto "
        "(default) uses an export's map (nmt-export ct2 --vocab-map), off scores the whole "
        "vocabulary, FILE gives the PyTorch search a map (nmt-export vmap CKPT FILE)",
    )
    g.add_argument(
        "--workers",
        type=int,
        default=1,
        help="CTranslate2: batches translated at once, each on threads / workers threads "
        "(throughput on many sentences: the physical cores, one thread each; default 1)",
    )
    g.add_argument(
        "--threads",
        type=int,
        default=0,
        help="CPU threads (default 0: the physical cores; two processes on two cores each "
        "wanting both run many times slower, so give each 1)",
    )


def engine_kwargs(args: argparse.Namespace) -> dict:
    """The keyword arguments of :func:`nmt.export.load.load_translator` from
    :func:`add_engine_args`' flags; sets torch's CPU threads."""
    from nmt.system.device import set_threads

    if args.threads < 0:
        raise SystemExit(f"error: --threads must not be negative, got {args.threads}")
    threads = set_threads(args.threads)
    kwargs = {"engine": args.engine, "compute_type": args.compute_type, "threads": threads,
              "vocab_map": args.vocab_map}  # fmt: skip
    if args.workers != 1:
        kwargs["workers"] = args.workers
    return kwargs


def precision_from_args(args: argparse.Namespace, device: str) -> str:
    """``--precision`` resolved for ``device``: ``fp32`` or ``bf16``."""
    return resolve_precision(args.precision, torch.device(device))


def decoding_from_args(default: Decoding, args: argparse.Namespace) -> Decoding:
    """``default`` with the search flags that were given."""
    return default.replace(
        beam=args.beam,
        length_penalty=args.length_penalty,
        max_len_a=args.max_len_a,
        max_len_b=args.max_len_b,
        batch_tokens=args.batch_tokens,
    )
