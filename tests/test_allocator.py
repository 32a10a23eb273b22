"""The allocator nmt-train runs with: jemalloc preloaded by restarting the process when the
system has it, glibc's malloc when asked (NMT_ALLOCATOR=system) or when it has not."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from nmt.allocator import find_jemalloc

PROBE = (
    "import os, sys; from nmt.allocator import preload_allocator, allocator_name, "
    "release_free_memory; print('start', file=sys.stderr); preload_allocator(); "
    "print(allocator_name(), release_free_memory(), sys.argv[1:])"
)


def probe(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("NMT_ALLOC", "LD_PRE"))}
    return subprocess.run([sys.executable, "-c", PROBE, "x", "--y=1"], env=clean | env,
                          capture_output=True, text=True, check=True)  # fmt: skip


def test_system_malloc_when_asked() -> None:
    out = probe(NMT_ALLOCATOR="system")
    assert out.stdout.split()[0] == "system" and out.stderr.count("start") == 1


def test_jemalloc_is_preloaded_by_restarting_with_the_same_arguments() -> None:
    if find_jemalloc() is None:
        pytest.skip("no libjemalloc on this system (apt-get install libjemalloc2)")
    out = probe()
    name, released, *args = out.stdout.strip().split(maxsplit=2)
    assert name == "jemalloc" and released == "True"  # its arenas purged via mallctl
    assert args == ["['x', '--y=1']"]  # the restarted process got the same arguments
    assert out.stderr.count("start") == 2  # it started over once, not more


def test_an_unknown_choice_warns_and_keeps_the_system_malloc() -> None:
    out = probe(NMT_ALLOCATOR="tcmalloc")
    assert out.stdout.split()[0] == "system" and "NMT_ALLOCATOR='tcmalloc'" in out.stderr
