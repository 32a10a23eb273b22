"""The process's peak resident memory (Linux), reset between the benchmark's measurements."""

from __future__ import annotations

import contextlib
import gc
from pathlib import Path

from nmt.system.allocator import release_free_memory


def reset_peak_rss() -> None:
    """Start a new peak of resident memory: free pages back to the system, then the
    kernel's high-water mark (VmHWM) reset to the current RSS (Linux ``clear_refs`` 5)."""
    gc.collect()
    release_free_memory()
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mb() -> float | None:
    """The highest resident memory since :func:`reset_peak_rss` (Linux), in MB."""
    try:
        status = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return None
    line = next((x for x in status if x.startswith("VmHWM:")), None)
    return None if line is None else int(line.split()[1]) / 1024
