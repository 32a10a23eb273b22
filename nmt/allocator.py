"""Resident memory of a long CPU run: the allocator, and two caches that grow.

Measured with ``scripts/bench_memory.py`` (``docs/results/bench/memory_ab/``):

1. **glibc malloc fragments.** PyTorch's CPU tensors come straight from ``malloc``.
   Batches of varying shape leave glibc's heap holding 1-1.5 GB of free blocks beside
   0.3-0.5 GB in use (``mallinfo2``), and the heap keeps growing: the default Multi30k
   Transformer's resident memory rose 19-23% over four to five epochs. jemalloc, with
   its pages kept rather than returned every few seconds (``dirty_decay_ms:-1``; the
   default decay re-faults them and trained 30% slower), levels off after the second
   epoch and trains faster. :func:`preload_allocator` restarts ``nmt-train`` with
   jemalloc preloaded when the system has it (Debian: ``libjemalloc2``), as PyTorch's
   own CPU launcher does (``python -m torch.backends.xeon.run_cpu --enable_jemalloc``).
   ``NMT_ALLOCATOR=system`` keeps glibc's.
2. **oneDNN's primitive cache.** bf16 matmuls on the CPU go through oneDNN, which
   compiles a kernel per input shape and caches up to 1024 of them; varying batch
   lengths and greedy search fill it. :func:`bound_onednn_cache` keeps 64.
3. **Validation's blocks.** Decoding allocates blocks of every size; after each
   validation :func:`release_free_memory` hands the free pages back (jemalloc: purge
   every arena; glibc: ``malloc_trim(0)``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import platform
import sys

#: oneDNN primitives kept (its default is 1024)
ONEDNN_CACHE = 64

#: jemalloc's settings under nmt (``MALLOC_CONF`` set by the user wins): keep freed pages
#: (no decay: the default purges them every few seconds, and training re-faults them),
#: large blocks in their own arena, purging done by a background thread
JEMALLOC_CONF = "background_thread:true,dirty_decay_ms:-1,muzzy_decay_ms:-1,oversize_threshold:1"

#: set in the restarted process: the preload is done (or was refused)
_MARK = "NMT_ALLOCATOR_ACTIVE"


def bound_onednn_cache(capacity: int = ONEDNN_CACHE) -> None:
    """Keep at most ``capacity`` oneDNN primitives. oneDNN reads the setting when it
    creates its first primitive: call before the first matmul."""
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(capacity))


def find_jemalloc() -> str | None:
    """The jemalloc shared library's name for ``LD_PRELOAD``, if the system has one."""
    if platform.system() != "Linux":
        return None
    return ctypes.util.find_library("jemalloc")


def preload_allocator() -> None:
    """Restart this process with jemalloc preloaded (``os.execve``: the same PID, argv and
    environment plus ``LD_PRELOAD`` and ``MALLOC_CONF``), once. Does nothing when
    ``NMT_ALLOCATOR=system``, when jemalloc is missing or already loaded, or off Linux.
    Call first thing, before heavy imports: the process starts over."""
    choice = os.environ.get("NMT_ALLOCATOR", "auto")
    if choice not in ("auto", "jemalloc", "system"):
        print(f"warning: NMT_ALLOCATOR={choice!r} is not auto, jemalloc or system; "
              "using the system's malloc", file=sys.stderr)  # fmt: skip
        return
    if (
        choice == "system"
        or os.environ.get(_MARK)
        or "jemalloc" in os.environ.get("LD_PRELOAD", "")
    ):
        return
    library = find_jemalloc()
    if library is None:
        if choice == "jemalloc":
            hint = "apt-get install libjemalloc2"
            print(f"warning: NMT_ALLOCATOR=jemalloc but there is no libjemalloc ({hint}); "
                  "using the system's malloc", file=sys.stderr)  # fmt: skip
        os.environ[_MARK] = "system"
        return
    env = dict(os.environ)
    env[_MARK] = library
    env["LD_PRELOAD"] = " ".join(filter(None, [library, env.get("LD_PRELOAD", "")]))
    env.setdefault("MALLOC_CONF", JEMALLOC_CONF)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)


def allocator_name() -> str:
    """The allocator in use, for logs and results.json: ``jemalloc`` or ``system``."""
    return "jemalloc" if _mallctl() is not None else "system"


@functools.cache
def _mallctl():
    """jemalloc's ``mallctl`` when jemalloc is this process's malloc, else None."""
    try:
        return ctypes.CDLL(None).mallctl
    except (AttributeError, OSError):
        return None


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
    """Give the pages of the allocator's free blocks back to the OS: jemalloc purges every
    arena (``arena.<MALLCTL_ARENAS_ALL>.purge``), glibc trims every arena
    (``malloc_trim(0)``). Returns whether it did."""
    mallctl = _mallctl()
    if mallctl is not None:
        return mallctl(b"arena.4096.purge", None, None, None, ctypes.c_size_t(0)) == 0
    libc = _glibc()
    return libc is not None and bool(libc.malloc_trim(0))
