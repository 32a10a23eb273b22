"""torchrun / DDP plumbing: nccl on CUDA, gloo on CPU; rank 0 alone writes files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

#: ranks wait this long in a collective (rank 0 validates alone while the others wait)
TIMEOUT = timedelta(minutes=60)


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    enabled: bool = False  # a process group is up (torchrun, even with one process)
    cpu_group: Any = None  # a gloo group for small host-side agreements (None: the default)

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    """torchrun sets these for every worker, also with ``--nproc_per_node=1``."""
    return "TORCHELASTIC_RUN_ID" in os.environ or (
        "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ
    )


def init_distributed(device_type: str) -> DistInfo:
    """Join the process group torchrun set up (no-op for a single process)."""
    if not launched_by_torchrun():
        return DistInfo()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        if device_type == "cuda":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend, timeout=TIMEOUT)
    cpu_group = dist.new_group(backend="gloo") if dist.get_backend() != "gloo" else None
    return DistInfo(dist.get_rank(), dist.get_world_size(), local_rank, True, cpu_group)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def broadcast_object(obj: Any, info: DistInfo) -> Any:
    """Send rank 0's ``obj`` to every rank."""
    if not info.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(obj: Any, info: DistInfo) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not info.enabled:
        return [obj]
    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, obj, group=info.cpu_group)
    return out


def all_sum(values: list[float | int | bool], info: DistInfo) -> list[float]:
    """Element-wise sum of ``values`` over all ranks (flags: > 0 means any rank set it):
    one small float64 all-reduce on the CPU, exact for counts below 2**53."""
    if not info.enabled:
        return [float(v) for v in values]
    t = torch.tensor([float(v) for v in values], dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.SUM, group=info.cpu_group)
    return t.tolist()


def any_rank_tensor(flag: torch.Tensor, info: DistInfo) -> bool:
    """OR of a device-side bool over all ranks, read on the host (one sync)."""
    if info.enabled:
        flag = flag.float()
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


def cleanup(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
