"""Resident memory of a long CPU run: the two places where it was seen to grow.

1. **oneDNN's primitive cache.** bf16 matmuls on the CPU go through oneDNN, which
   compiles a kernel per input shape and caches up to 1024 of them. Batches of
   varying length, and greedy search (a new shape every step), fill it: with the
   default capacity the default Multi30k Transformer's resident memory peaked 0.4 GB
   higher in its first epoch and 0.7 GB higher in its fifth than with 64
   (``scripts/bench_memory.py``; README, "Memory"). :func:`bound_onednn_cache` keeps
   64 (training no slower in that measurement).
2. **malloc's free pages.** glibc keeps freed blocks inside its heap; after a
   validation (decoding allocates blocks of every size) :func:`release_free_memory`
   hands their pages back (``malloc_trim(0)``), which lowers the resident memory
   between validations.

What grows after both (~0.1-0.2 GB an epoch in that measurement, slowing) is not yet
explained. Environment variables win: ``ONEDNN_PRIMITIVE_CACHE_CAPACITY``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import platform

#: oneDNN primitives kept (its default is 1024)
ONEDNN_CACHE = 64


def bound_onednn_cache(capacity: int = ONEDNN_CACHE) -> None:
    """Keep at most ``capacity`` oneDNN primitives. oneDNN reads the setting when it
    creates its first primitive: call before the first matmul."""
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(capacity))


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc, looked up once (``find_library`` runs ldconfig)."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def release_free_memory() -> bool:
    """Give the pages of malloc's free blocks back to the OS (glibc ``malloc_trim(0)``:
    every arena, not only the top of the heap). Returns whether it did."""
    libc = _glibc()
    return libc is not None and bool(libc.malloc_trim(0))
