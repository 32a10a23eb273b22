"""The device's matmul peak, the denominator of model FLOPs utilisation (MFU)."""

from __future__ import annotations

import time

import torch


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA); a no-op on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device: torch.device, dtype: torch.dtype, n: int, reps: int = 10) -> float:
    """Best FLOP/s of an n x n x n matrix product on ``device`` (2 n^3 FLOPs each)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    sync(device)
    best = 0.0
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        sync(device)
        best = max(best, 2 * n**3 / (time.perf_counter() - t0))
    return best


def matmul_peaks(device: torch.device, n: int) -> dict[str, float]:
    """The fp32 and bf16 matmul peaks (FLOP/s) of ``device``."""
    return {
        "fp32": matmul_peak(device, torch.float32, n),
        "bf16": matmul_peak(device, torch.bfloat16, n),
    }


def peak_key(precision: str) -> str:
    """The matmul peak a precision is measured against."""
    return "bf16" if precision == "bf16" else "fp32"
