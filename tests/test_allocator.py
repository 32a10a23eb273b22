"""The allocator nmt-train runs with: tcmalloc (else jemalloc) preloaded by restarting the
process when the system has it, glibc's malloc when asked (NMT_ALLOCATOR=system) or when it
has neither."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nmt.system.allocator import find_allocator, find_jemalloc

PROBE = (
    "import os, sys; from nmt.system.allocator import preload_allocator, allocator_name, "
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
    out = probe(NMT_ALLOCATOR="jemalloc")
    name, released, *args = out.stdout.strip().split(maxsplit=2)
    assert name == "jemalloc" and released == "True"  # its arenas purged via mallctl
    assert args == ["['x', '--y=1']"]  # the restarted process got the same arguments
    assert out.stderr.count("start") == 2  # it started over once, not more


def test_jemalloc_runs_without_the_oversize_arena() -> None:
    """``oversize_threshold:1`` (every large block in one arena that keeps its pages) grew
    to 10-14 GB in one epoch of the WMT news Bahdanau model and ran a 24 GB machine out of
    memory: the preloaded jemalloc must run with its default threshold (8 MiB)."""
    if find_jemalloc() is None:
        pytest.skip("no libjemalloc on this system (apt-get install libjemalloc2)")
    read = (
        "import ctypes; from nmt.system.allocator import preload_allocator; preload_allocator(); "
        "v = ctypes.c_size_t(); n = ctypes.c_size_t(ctypes.sizeof(v)); "
        "ctypes.CDLL(None).mallctl(b'opt.oversize_threshold', ctypes.byref(v), "
        "ctypes.byref(n), None, ctypes.c_size_t(0)); print(v.value)"
    )
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("NMT_ALLOC", "LD_PRE", "MALLOC_CONF"))}  # fmt: skip
    out = subprocess.run([sys.executable, "-c", read], env=clean | {"NMT_ALLOCATOR": "jemalloc"},
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert int(out.stdout) >= 1 << 20  # only blocks of a MiB or more in that arena (8 MiB)


def test_tcmalloc_when_asked() -> None:
    if find_allocator("tcmalloc") is None:
        pytest.skip("no libtcmalloc_minimal on this system (apt-get install libtcmalloc-minimal4)")
    name, released, _ = probe(NMT_ALLOCATOR="tcmalloc").stdout.split(maxsplit=2)
    assert name == "tcmalloc" and released == "True"  # MallocExtension_ReleaseFreeMemory


def test_auto_takes_tcmalloc_first() -> None:
    if find_jemalloc() is None or find_allocator("tcmalloc") is None:
        pytest.skip("needs both libjemalloc2 and libtcmalloc-minimal4")
    out = probe(NMT_ALLOCATOR="auto")
    assert out.stdout.split()[0] == "tcmalloc" and out.stderr.count("start") == 2


@pytest.fixture
def no_restart(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """preload_allocator in this process with a clean environment, restored afterwards, and
    its os.execve caught instead of restarting pytest: the call's arguments are returned."""
    from nmt.system import allocator

    for key in (allocator._MARK, "LD_PRELOAD", "MALLOC_CONF", "NMT_ALLOCATOR"):
        monkeypatch.setenv(key, "")  # recorded, so that the teardown restores or removes it
        monkeypatch.delenv(key)
    call: dict[str, object] = {}

    def execve(path: str, argv: list[str], env: dict[str, str]) -> None:
        call.update(path=path, argv=argv, env=env)

    monkeypatch.setattr(allocator.os, "execve", execve)
    return call


def test_auto_falls_back_to_jemalloc_without_tcmalloc(
    monkeypatch: pytest.MonkeyPatch, no_restart: dict[str, object]
) -> None:
    from nmt.system import allocator

    libraries = {"jemalloc": "libjemalloc.so.2", "tcmalloc": None}
    monkeypatch.setattr(allocator, "find_allocator", libraries.get)
    allocator.preload_allocator()
    env = no_restart["env"]
    assert env["LD_PRELOAD"] == "libjemalloc.so.2" and env[allocator._MARK] == "libjemalloc.so.2"
    assert env["MALLOC_CONF"] == allocator.JEMALLOC_CONF  # freed pages kept, no oversize arena


def test_an_allocator_that_is_missing_warns_and_keeps_the_system_malloc(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_restart: dict
) -> None:
    from nmt.system import allocator

    monkeypatch.setattr(allocator, "find_allocator", lambda name: None)
    monkeypatch.setenv("NMT_ALLOCATOR", "tcmalloc")
    allocator.preload_allocator()
    assert "apt-get install libtcmalloc-minimal4" in capsys.readouterr().err
    assert os.environ[allocator._MARK] == "system" and not no_restart


def test_an_allocator_already_preloaded_is_kept(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_restart: dict
) -> None:
    from nmt.system import allocator

    monkeypatch.setenv("LD_PRELOAD", "/usr/lib/libjemalloc.so.2")
    monkeypatch.setenv("NMT_ALLOCATOR", "tcmalloc")
    allocator.preload_allocator()
    assert not no_restart and not capsys.readouterr().err


def test_an_unknown_choice_warns_and_keeps_the_system_malloc() -> None:
    out = probe(NMT_ALLOCATOR="mimalloc")
    assert out.stdout.split()[0] == "system" and "NMT_ALLOCATOR='mimalloc'" in out.stderr


@pytest.mark.parametrize("command", ["train", "translate", "evaluate", "serve"])
def test_every_command_that_runs_a_model_preloads_the_allocator_first(command, monkeypatch):
    """nmt-train, nmt-translate, nmt-evaluate and nmt-serve go through nmt.cli.launch: the
    allocator (which may restart the process) before the command's own module is imported."""
    from nmt.cli import launch

    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert f'nmt-{command} = "nmt.cli.launch:{command}"' in pyproject.splitlines()
    calls: list[str] = []
    monkeypatch.setattr(launch, "preload_allocator", lambda: calls.append("allocator"))
    cli = importlib.import_module(f"nmt.cli.{command}")
    monkeypatch.setattr(cli, "main", lambda: calls.append("main"))
    getattr(launch, command)()
    assert calls == ["allocator", "main"]
