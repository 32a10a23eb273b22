"""Build what a training run trains with: device, precision, model, optimiser, schedule,
and the network the loop calls (compiled and/or wrapped in DDP)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch.nn.parallel import DistributedDataParallel

from nmt.models import EncoderDecoder, build_model
from nmt.system.device import cpu_description, resolve_device, resolve_precision
from nmt.system.distributed import DistInfo
from nmt.training.schedule import Scheduler, resolve_lr


def pick_device(name: str, dist_info: DistInfo) -> torch.device:
    """``train.device`` resolved; under DDP on CUDA, this rank's GPU."""
    name = resolve_device(name, "train.device")
    if name.startswith("cuda") and dist_info.enabled:
        return torch.device("cuda", dist_info.local_rank)  # one GPU per rank
    return torch.device(name)


#: torch has a fused AdamW for CPU tensors from 2.4 on (CUDA: long before)
FUSED_ADAMW_ON_CPU = tuple(int(x) for x in torch.__version__.split(".")[:2]) >= (2, 4)


def make_optimizer(
    params: Any,
    lr: float,
    device: torch.device,
    betas: Any = (0.9, 0.98),
    weight_decay: float = 0.0,
) -> torch.optim.AdamW:
    """AdamW (Loshchilov & Hutter 2019, Alg. 2), fused into one kernel over all parameters
    where torch has one: the update is the same, without a Python loop over the tensors."""
    fused = device.type == "cuda" or (device.type == "cpu" and FUSED_ADAMW_ON_CPU)
    return torch.optim.AdamW(
        params, lr=lr, betas=tuple(betas), weight_decay=weight_decay, fused=fused
    )


#: optimiser settings that choose an implementation, not the update: a checkpoint's are
#: not restored, so a run resumes with the implementation this torch and device have
IMPLEMENTATION_KEYS = ("fused", "foreach", "capturable", "differentiable")


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """``optimizer.load_state_dict(state)`` keeping the optimiser's own implementation
    settings (:data:`IMPLEMENTATION_KEYS`): a last.pt from the per-tensor AdamW resumes
    fused, and a fused one resumes on a torch without the fused CPU kernel."""
    kept = [{k: g[k] for k in IMPLEMENTATION_KEYS if k in g} for g in optimizer.param_groups]
    optimizer.load_state_dict(state)
    for group, settings in zip(optimizer.param_groups, kept, strict=True):
        group.update(settings)


def device_name(device: torch.device) -> str:
    """The device in words, for results.json."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu: {cpu_description()}"


@dataclass
class Training:
    """The pieces a run trains with."""

    device: torch.device
    precision: str  # "fp32" | "bf16"
    model_config: dict[str, Any]  # plain, as checkpoints keep it
    model: EncoderDecoder  # the weights (checkpoints, evaluation)
    net: torch.nn.Module  # what the loop calls: model, compiled and/or DDP-wrapped
    optimizer: torch.optim.Optimizer
    scheduler: Scheduler


def build_training(
    cfg: DictConfig, src_vocab_size: int, tgt_vocab_size: int, dist_info: DistInfo
) -> Training:
    """Model on its device, AdamW (:func:`make_optimizer`) at the variant's or the configured rate,
    the variant's schedule, ``torch.compile`` when asked, DDP when launched by torchrun."""
    t = cfg.train
    device = pick_device(t.device, dist_info)
    precision = resolve_precision(t.precision, device)
    model_config = OmegaConf.to_container(cfg.model, resolve=True)
    model = build_model(model_config, src_vocab_size, tgt_vocab_size).to(device)
    torch.manual_seed(t.seed + dist_info.rank)  # dropout differs across ranks
    optimizer = make_optimizer(
        [p for p in model.parameters() if p.requires_grad],
        resolve_lr(t, model.variant),
        device,
        betas=t.betas,
        weight_decay=t.weight_decay,
    )
    net: torch.nn.Module = torch.compile(model) if t.compile else model
    if dist_info.enabled:
        ids = [device.index] if device.type == "cuda" else None
        net = DistributedDataParallel(net, device_ids=ids)
    return Training(
        device=device,
        precision=precision,
        model_config=model_config,
        model=model,
        net=net,
        optimizer=optimizer,
        scheduler=Scheduler(optimizer, t, model.variant),
    )
