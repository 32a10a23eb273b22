"""Resident memory of a long CPU run: the allocator, and two caches that grow.

Measured with ``scripts/bench_memory.py`` (``docs/results/bench/memory_ab/``):

1. **glibc malloc fragments.** PyTorch's CPU tensors come straight from ``malloc``.
   Batches of varying shape leave glibc's heap holding 1-1.5 GB of free blocks beside
   0.3-0.5 GB in use (``mallinfo2``), and the heap keeps growing: the default Multi30k
   Transformer's resident memory rose 19-23% over four to five epochs.
   :func:`preload_allocator` restarts ``nmt-train`` with another malloc preloaded when
   the system has one, as PyTorch's own CPU launcher does
   (``python -m torch.backends.xeon.run_cpu --enable_tcmalloc``): **tcmalloc** (Debian:
   ``libtcmalloc-minimal4``), else **jemalloc** (``libjemalloc2``) with its freed pages
   kept (``dirty_decay_ms:-1``; its default decay re-faults them and trained 30%
   slower). In an interleaved A/B tcmalloc trained the WMT news Bahdanau model 8.6%
   faster than jemalloc in 2.1 GB instead of 4.5 GB, and the Multi30k Transformer as
   fast in 6% less (``docs/results/bench/memory_wmt/allocator_ab/``).
   ``NMT_ALLOCATOR`` chooses (``tcmalloc``, ``jemalloc``, ``system`` for glibc's).
2. **oneDNN's primitive cache.** bf16 matmuls on the CPU go through oneDNN, which
   compiles a kernel per input shape and caches up to 1024 of them; varying batch
   lengths and greedy search fill it. :func:`bound_onednn_cache` keeps 64.
3. **Validation's blocks.** Decoding allocates blocks of every size; after each
   validation :func:`release_free_memory` hands the free pages back (tcmalloc:
   ``MallocExtension_ReleaseFreeMemory``; jemalloc: purge every arena; glibc:
   ``malloc_trim(0)``).

What is *not* used: jemalloc's ``oversize_threshold:1`` (PyTorch's launcher sets it: every
large block in one dedicated arena). With freed pages kept, that arena grew to 10-14 GB
within one epoch of the WMT news Bahdanau model, and a 24 GB machine ran out of memory;
without it jemalloc still climbs through the epoch, to 4.5-5.0 GB before the purge after
validation (tcmalloc and glibc level off at 2.1 and 2.4 GB;
``docs/results/bench/memory_wmt/``).
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
#: purging done by a background thread
JEMALLOC_CONF = "background_thread:true,dirty_decay_ms:-1,muzzy_decay_ms:-1"

#: the allocators ``NMT_ALLOCATOR=auto`` tries, in order: name -> (library for
#: ``ctypes.util.find_library``, Debian package, environment it runs with)
ALLOCATORS: dict[str, tuple[str, str, dict[str, str]]] = {
    "tcmalloc": ("tcmalloc_minimal", "libtcmalloc-minimal4", {}),
    "jemalloc": ("jemalloc", "libjemalloc2", {"MALLOC_CONF": JEMALLOC_CONF}),
}

#: set in the restarted process: the preload is done (or was refused)
_MARK = "NMT_ALLOCATOR_ACTIVE"


def bound_onednn_cache(capacity: int = ONEDNN_CACHE) -> None:
    """Keep at most ``capacity`` oneDNN primitives. oneDNN reads the setting when it
    creates its first primitive: call before the first matmul."""
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(capacity))


def find_allocator(name: str) -> str | None:
    """The shared library of allocator ``name`` (a key of :data:`ALLOCATORS`) for
    ``LD_PRELOAD``, if the system has it."""
    if platform.system() != "Linux":
        return None
    return ctypes.util.find_library(ALLOCATORS[name][0])


def find_jemalloc() -> str | None:
    """The jemalloc shared library's name for ``LD_PRELOAD``, if the system has one."""
    return find_allocator("jemalloc")


def preload_allocator() -> None:
    """Restart this process with tcmalloc (else jemalloc) preloaded (``os.execve``: the same
    PID, argv and environment plus ``LD_PRELOAD`` and the allocator's settings), once.

    ``NMT_ALLOCATOR``: ``auto`` (default) takes the first of :data:`ALLOCATORS` the system
    has; ``tcmalloc`` or ``jemalloc`` only that one; ``system`` keeps the C library's.
    Does nothing when an allocator is already preloaded or off Linux. Call first thing,
    before heavy imports: the process starts over."""
    choice = os.environ.get("NMT_ALLOCATOR", "auto")
    choices = ("auto", *ALLOCATORS, "system")
    if choice not in choices:
        print(f"warning: NMT_ALLOCATOR={choice!r} is not one of {', '.join(choices)}; "
              "using the system's malloc", file=sys.stderr)  # fmt: skip
        return
    preloaded = os.environ.get("LD_PRELOAD", "")
    if choice == "system" or os.environ.get(_MARK) or any(n in preloaded for n in ALLOCATORS):
        return
    for name in ALLOCATORS if choice == "auto" else (choice,):
        library = find_allocator(name)
        if library is not None:
            break
    else:
        if choice != "auto":
            hint = f"apt-get install {ALLOCATORS[choice][1]}"
            print(f"warning: NMT_ALLOCATOR={choice} but the system has no {choice} ({hint}); "
                  "using the system's malloc", file=sys.stderr)  # fmt: skip
        os.environ[_MARK] = "system"
        return
    env = dict(os.environ)
    env[_MARK] = library
    env["LD_PRELOAD"] = " ".join(filter(None, [library, preloaded]))
    for key, value in ALLOCATORS[name][2].items():
        env.setdefault(key, value)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)


def allocator_name() -> str:
    """The allocator in use, for logs and results.json: ``tcmalloc``, ``jemalloc`` or
    ``system``."""
    if _tcmalloc_release() is not None:
        return "tcmalloc"
    return "jemalloc" if _mallctl() is not None else "system"


@functools.cache
def _mallctl():
    """jemalloc's ``mallctl`` when jemalloc is this process's malloc, else None."""
    try:
        return ctypes.CDLL(None).mallctl
    except (AttributeError, OSError):
        return None


@functools.cache
def _tcmalloc_release():
    """tcmalloc's ``MallocExtension_ReleaseFreeMemory`` when tcmalloc is this process's
    malloc (``malloc`` is its ``tc_malloc``, not just a tcmalloc library loaded), else None."""
    try:
        process = ctypes.CDLL(None)
        same = (
            ctypes.cast(process.malloc, ctypes.c_void_p).value
            == ctypes.cast(process.tc_malloc, ctypes.c_void_p).value
        )
        release = process.MallocExtension_ReleaseFreeMemory
    except (AttributeError, OSError):
        return None
    release.restype = None
    return release if same else None


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
    """Give the pages of the allocator's free blocks back to the OS: tcmalloc releases its
    page heap (``MallocExtension_ReleaseFreeMemory``), jemalloc purges every arena
    (``arena.<MALLCTL_ARENAS_ALL>.purge``), glibc trims every arena (``malloc_trim(0)``).
    Returns whether it did."""
    release = _tcmalloc_release()
    if release is not None:
        release()
        return True
    mallctl = _mallctl()
    if mallctl is not None:
        return mallctl(b"arena.4096.purge", None, None, None, ctypes.c_size_t(0)) == 0
    libc = _glibc()
    return libc is not None and bool(libc.malloc_trim(0))
