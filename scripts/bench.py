"""Benchmark training and decoding speed of every variant; writes JSON (and a Markdown table).

The benchmark is :mod:`nmt.bench` (``nmt/bench/cli.py`` describes what it measures); this
entry point preloads ``nmt-train``'s malloc first, so that it measures what training runs.

Usage::

    python scripts/bench.py --out bench.json --markdown BENCHMARK.md
    python scripts/bench.py --variants transformer --precision bf16 --threads 2
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's nmt

from nmt.bench.cli import main
from nmt.system.allocator import preload_allocator

if __name__ == "__main__":
    preload_allocator()  # nmt-train's malloc (tcmalloc, else jemalloc): measure what it runs
    main()
