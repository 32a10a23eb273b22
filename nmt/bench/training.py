"""Training throughput of a variant beside its textbook counterpart, both through the
trainer's own update (:class:`~nmt.training.step.TrainStep`) with the default training
config's loss and clipping (:class:`~nmt.training.config.TrainConfig`), on the same batches.

- real target and source tokens/s in steady state (after warm-up steps), the median of
  several timed windows, with min and max;
- model FLOPs utilisation: FLOPs of a training step counted by ``torch.utils.flop_counter``
  on the CPU (device-independent), times steps/s, over the device's matmul peak;
- peak memory (CUDA: max allocated; CPU: the process's max RSS since the variant began).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from typing import Any

import torch
import torch.nn.functional as F

from nmt import PAD_ID
from nmt.bench.memory import peak_rss_mb, reset_peak_rss
from nmt.bench.peaks import peak_key, sync
from nmt.data.config import DataConfig, SyntheticConfig, TokenizerConfig
from nmt.models import build_model
from nmt.models.registry import configuration
from nmt.models.textbook import textbook_loss
from nmt.training.build import make_optimizer
from nmt.training.config import TrainConfig
from nmt.training.step import TrainStep, smoothed_loss

#: the learning rate of every benchmarked optimiser (the speed does not depend on it)
LR = 1e-4


def bench_data(name: str) -> DataConfig:
    """The benchmark's data: a corpus by name, or ``synthetic`` (tiny, for tests)."""
    if name == "synthetic":
        return DataConfig(
            name="synthetic",
            src="src",
            tgt="tgt",
            train="train",
            valid="valid",
            test="test",
            tokenizer=TokenizerConfig(vocab_size=32),
            synthetic=SyntheticConfig(
                task="reverse",
                vocab=10,
                min_len=3,
                max_len=12,
                n_train=2000,
                n_valid=50,
                n_test=100,
            ),
        )
    return DataConfig(name=name)


def model_config(name: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The default config of a variant or named configuration, with the ``overrides`` it
    has a key for (sizes, e.g. ``d_model``)."""
    variant, settings = configuration(name)
    cfg = dataclasses.asdict(variant.config())
    cfg.update({k: v for k, v in overrides.items() if k in cfg})
    return cfg | settings


def training_batches(data: Any, max_tokens: int, n: int, seed: int = 1) -> list[Any]:
    """The first ``n`` training batches of ``data`` (shuffled with ``seed``; every benchmark
    draws them with seed 1), collated up front so that timing leaves out batching;
    when ``n`` is larger than an epoch, the sampler's next epoch (its next shuffle) follows."""
    if n < 1:
        raise ValueError(f"training_batches: n must be at least 1, got {n}")
    sampler, collate = data.make_batches("train", max_tokens=max_tokens, shuffle=True, seed=seed)
    encoded = data.encoded["train"]
    batches: list[Any] = []
    while len(batches) < n:
        size = len(batches)
        for idx in sampler:
            batches.append(collate([encoded[i] for i in idx]))
            if len(batches) == n:
                break
        if len(batches) == size:
            raise ValueError("training_batches: the training split yields no batches")
    return batches


def trainer_step(
    net: torch.nn.Module,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    precision: str,
    loss: Any = None,
) -> TrainStep:
    """The trainer's update, with the default training config's label smoothing and
    gradient clipping; ``loss``: another loss function (the textbook one), else nmt's."""
    train = TrainConfig()
    return TrainStep(
        net,
        model,
        optimizer,
        device,
        precision,
        loss=loss or smoothed_loss(train.label_smoothing),
        clip_grad_norm=train.clip_grad_norm,
    )


def textbook_step(
    name: str, tok: Any, device: torch.device, precision: str, overrides: dict[str, Any]
) -> tuple[TrainStep, int]:
    """The textbook counterpart's update (``torch.optim.AdamW`` with its defaults: on the
    CPU a loop over the parameters, where nmt uses the fused kernel, part of what the ratio
    measures; the same precision, clipping and label smoothing, the tutorials' loss) and
    its parameter count."""
    variant, _ = configuration(name)
    torch.manual_seed(0)
    base = variant.textbook(model_config(name, overrides), tok.src_vocab_size, tok.tgt_vocab_size)
    base = base.to(device).train()
    opt = torch.optim.AdamW(base.parameters(), lr=LR)
    loss = textbook_loss(TrainConfig().label_smoothing)
    step = trainer_step(base, base, opt, device, precision, loss=loss)
    return step, sum(p.numel() for p in base.parameters())


def step_flops(model: torch.nn.Module, batch: Any) -> int:
    """FLOPs of one forward + backward pass, counted on a CPU copy of the model."""
    from copy import deepcopy

    from torch.utils.flop_counter import FlopCounterMode

    cpu_model = deepcopy(model).to("cpu").float().train()
    b = batch.to("cpu")
    with FlopCounterMode(display=False) as counter:
        logits, _ = cpu_model(b.src, b.src_mask, b.tgt_in)
        F.cross_entropy(logits.flatten(0, 1), b.tgt_out.flatten(), ignore_index=PAD_ID).backward()
    return int(counter.get_total_flops())


def spread(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def bench_training(
    name: str,
    data: Any,
    device: torch.device,
    precision: str,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """One variant's (or named configuration's) training row; ``_model`` holds the model."""
    reset_peak_rss()
    torch.manual_seed(0)
    tok = data.tokenizer
    cfg = model_config(name, args.model_overrides)
    model = build_model(cfg, tok.src_vocab_size, tok.tgt_vocab_size).to(device)
    optimizer = make_optimizer(model.parameters(), LR, device)  # as nmt-train makes it
    net = torch.compile(model) if args.compile else model
    prefetched = training_batches(
        data, args.max_tokens, args.warmup + args.windows * args.window_steps
    )
    flops_per_step = statistics.mean(step_flops(model, b) for b in prefetched[:3])
    tgt_per_step = statistics.mean(b.num_tgt_tokens for b in prefetched[:3])
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    steps = {"nmt": trainer_step(net, model, optimizer, device, precision)}
    if not args.no_baseline and configuration(name)[0].textbook is not None:
        steps["baseline"], baseline_params = textbook_step(
            name, tok, device, precision, args.model_overrides
        )

    def timed(step: TrainStep, chunk: list) -> float:
        sync(device)
        t0 = time.perf_counter()
        for b in chunk:
            step([b])
        sync(device)
        return time.perf_counter() - t0

    model.train()
    for step in steps.values():
        for b in prefetched[: args.warmup]:
            step([b])
    sync(device)
    windows, base_windows = [], []
    pos = args.warmup
    for w in range(args.windows):
        chunk = prefetched[pos : pos + args.window_steps]
        pos += args.window_steps
        # the same batches for both, in alternating order (ABBA): drift cancels out
        order = list(steps) if w % 2 == 0 else list(reversed(steps))
        seconds = {key: timed(steps[key], chunk) for key in order}
        dt = seconds["nmt"]
        tgt_tokens = sum(b.num_tgt_tokens for b in chunk)
        windows.append(
            {
                "tgt_tok_s": tgt_tokens / dt,
                "src_tok_s": sum(int(b.src_lengths.sum()) for b in chunk) / dt,
                "steps_s": len(chunk) / dt,
                "flops_s": len(chunk) * flops_per_step / dt,
            }
        )
        if "baseline" in seconds:
            base_windows.append({"tgt_tok_s": tgt_tokens / seconds["baseline"],
                                 "speedup": seconds["baseline"] / dt})  # fmt: skip
    flops = statistics.median(w["flops_s"] for w in windows)
    padded = sum(b.tgt_out.numel() for b in prefetched)
    real = sum(b.num_tgt_tokens for b in prefetched)
    out = {
        "variant": name,
        "parameters": model.num_parameters(),
        "precision": precision,
        "tgt_tokens_per_s": spread([w["tgt_tok_s"] for w in windows]),
        "src_tokens_per_s": statistics.median(w["src_tok_s"] for w in windows),
        "steps_per_s": statistics.median(w["steps_s"] for w in windows),
        "tgt_tokens_per_step": tgt_per_step,
        "flops_per_step": flops_per_step,
        "model_tflops_per_s": flops / 1e12,
        "mfu": flops / args.peaks[peak_key(precision)],
        "target_padding_fraction": 1 - real / max(1, padded),
        "windows": len(windows),
        "window_steps": args.window_steps,
    }
    if base_windows:
        out["baseline"] = {
            "model": configuration(name)[0].textbook_name,
            "parameters": baseline_params,
            "tgt_tokens_per_s": spread([w["tgt_tok_s"] for w in base_windows]),
            # nmt's speed over the baseline's, window by window on the same batches
            "speedup": spread([w["speedup"] for w in base_windows]),
        }
    if device.type == "cuda":
        out["peak_memory_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        out["peak_rss_mb"] = peak_rss_mb()  # this variant's training, since reset_peak_rss()
    return out | {"_model": model}
