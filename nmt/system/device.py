"""Device and precision choices, in one place for every tool.

``auto`` means CUDA when there is one, else the CPU; precision ``auto`` means
bf16 autocast on CUDA and on CPUs that multiply bf16 natively (AVX512-BF16 or
AMX), fp32 on other CPUs. On such a CPU bf16 autocast trains every variant with
the same (Luong: a lower) loss per update as fp32 and 12-46% faster in the trainer
(``docs/results/bf16_cpu*``, ``BENCHMARK.md``); ``train.precision=fp32`` turns it off.
"""

from __future__ import annotations

import os
import platform
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import torch

from nmt.errors import ConfigError


def resolve_device(name: str, key: str = "--device") -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; a CUDA device without CUDA fails.

    ``key`` names the setting in the error (``--device`` or ``train.device``).
    """
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"{key}={name}: CUDA is not available here; use cpu or auto")
    return name


# bf16 matrix units this CPU may have, each with the torch.cpu probe that finds it.
BF16_UNITS = (("AMX", "_is_amx_tile_supported"), ("AVX512-BF16", "_is_avx512_bf16_supported"))


def cpu_bf16_units() -> list[str]:
    """The bf16 matrix units this CPU has (names from ``BF16_UNITS``), maybe none."""
    return [name for name, probe in BF16_UNITS if getattr(torch.cpu, probe, lambda: False)()]


def cpu_has_native_bf16() -> bool:
    """True when this CPU has bf16 dot-product instructions (AVX512-BF16 or AMX tiles).

    Without them bf16 matrix products are emulated and slower than fp32.
    """
    return bool(cpu_bf16_units())


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else the architecture (``x86_64``)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_description() -> str:
    """The CPU and its bf16 matrix instructions, e.g. ``AMD EPYC (AVX512-BF16)`` or ``Intel
    Xeon ... (AMX, AVX512-BF16)``: two machines of one model name can differ ~5x in bf16
    matmul speed, so every speed figure names both."""
    units = cpu_bf16_units()
    return f"{cpu_model()} ({', '.join(units) or 'no bf16 matrix instructions'})"


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` -> ``bf16`` on CUDA and on CPUs with native bf16, else ``fp32``.

    ``fp32`` / ``bf16`` pass through.
    """
    if precision == "auto":
        fast_bf16 = device.type == "cuda" or (device.type == "cpu" and cpu_has_native_bf16())
        return "bf16" if fast_bf16 else "fp32"
    return precision


def autocast(device: torch.device, precision: str) -> AbstractContextManager:
    """bf16 autocast context when ``precision`` resolves to bf16; a no-op otherwise."""
    if resolve_precision(precision, device) == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return nullcontext()


def process_seconds() -> float | None:
    """Seconds since this process started (Linux: /proc; an ``exec`` that restarts the
    command under another allocator keeps the process, so its start counts); None
    elsewhere."""
    try:
        start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))


def physical_cores() -> int:
    """Physical CPU cores this process may use (hyper-threads counted once): the (package,
    core) pairs of /proc/cpuinfo among the allowed CPUs, else the allowed CPUs' count."""
    import os

    allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    n_allowed = len(allowed) if allowed else (os.cpu_count() or 1)
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return n_allowed
    cores, cpu, package = set(), None, "0"
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "processor":
            cpu = int(value)
        elif key == "physical id":
            package = value
        elif key == "core id" and (allowed is None or cpu in allowed):
            cores.add((package, value))
    return max(1, min(len(cores), n_allowed)) if cores else n_allowed


def set_threads(threads: int) -> int:
    """Use ``threads`` CPU threads for torch (0: the physical cores); returns how many."""
    n = threads if threads > 0 else physical_cores()
    torch.set_num_threads(n)
    return n
