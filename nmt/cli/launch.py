"""The console commands that run models: the memory allocator first (it may restart the
process with tcmalloc or jemalloc, :func:`nmt.allocator.preload_allocator`), then the
command itself. Decoding allocates blocks of every size too: under glibc's malloc each
fresh large block page-faults (``scripts/bench.py`` measures nmt under the same allocator)."""

from __future__ import annotations

from nmt.allocator import preload_allocator


def train() -> None:
    preload_allocator()  # before torch is imported: the process may start over
    from nmt.cli.train import main

    main()


def translate() -> None:
    preload_allocator()
    from nmt.cli.translate import main

    main()


def evaluate() -> None:
    preload_allocator()
    from nmt.cli.evaluate import main

    main()


def serve() -> None:
    preload_allocator()
    from nmt.cli.serve import main

    main()
