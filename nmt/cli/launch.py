"""The console commands that run models: the memory allocator first (it may restart the
process with tcmalloc or jemalloc, :func:`nmt.system.allocator.preload_allocator`), then the
command itself. Decoding allocates blocks of every size too: under glibc's malloc each
fresh large block page-faults (``scripts/bench.py`` measures nmt under the same allocator)."""

from __future__ import annotations

import importlib

from nmt.system.allocator import preload_allocator


def _launch(command: str) -> None:
    preload_allocator()  # before torch is imported: the process may start over
    importlib.import_module(f"nmt.cli.{command}").main()


def train() -> None:
    _launch("train")


def translate() -> None:
    _launch("translate")


def evaluate() -> None:
    _launch("evaluate")


def serve() -> None:
    _launch("serve")
