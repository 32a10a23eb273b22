"""The ``nmt-train`` console command: the memory allocator first (it may restart the
process with tcmalloc or jemalloc, :func:`nmt.allocator.preload_allocator`), then the Hydra app."""

from __future__ import annotations


def train() -> None:
    from nmt.allocator import preload_allocator

    preload_allocator()  # before torch is imported: the process may start over
    from nmt.cli.train import main

    main()
