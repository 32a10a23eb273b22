"""The console commands that run models: the memory allocator first (it may restart the
process with tcmalloc or jemalloc, :func:`nmt.system.allocator.preload_allocator`), then the
command itself. Decoding allocates blocks of every size too: under glibc's malloc each
fresh large block page-faults (``scripts/bench.py`` measures nmt under the same allocator)."""

from __future__ import annotations

import importlib
import sys

from nmt.errors import NMTError
from nmt.system.allocator import preload_allocator


def _main(command: str):
    """The command's ``main``; an import that fails on the user's setup (a module of
    ``$NMT_USER_MODULES``, say) ends in one line."""
    try:
        return importlib.import_module(f"nmt.cli.{command}").main
    except NMTError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


def _launch(command: str) -> None:
    preload_allocator()  # before torch is imported: the process may start over
    _main(command)()


def compare() -> None:
    _main("compare")()


def train() -> None:
    _launch("train")


def translate() -> None:
    _launch("translate")


def evaluate() -> None:
    _launch("evaluate")


def serve() -> None:
    _launch("serve")
