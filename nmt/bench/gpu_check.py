"""The prepared GPU check: one script, JSON out, each stage recorded even if a later one fails.

Stages (CUDA; on a CPU the same stages run with a tiny budget so the script is
tested before it ever meets a GPU):

1. ``environment``: GPU, driver, CUDA, torch, threads.
2. ``cuda_paths``: a bf16-autocast training step of the Transformer; the fused
   scaled-dot-product attention kernels (flash, memory-efficient) on the
   model's own attention; DDP under torchrun with nccl on one GPU (gloo on CPU).
3. ``throughput``: the benchmark (:mod:`nmt.bench.cli`, ``scripts/bench.py``) for every
   variant at its default size.
4. ``multi30k_transformer``: a full Multi30k de→en Transformer training to its
   test BLEU (beam 5), with the wall time.

Usage: ``python scripts/gpu_check.py --out DIR`` from the checkout (``scripts/gpu_check.sh``
wraps it): the training runs start in the current folder (its ``data/``), with the ``nmt``
this process imported first on their path.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import torch

import nmt
from nmt.runs.run_dir import RunDir

TINY_SYNTHETIC = [
    "data=synthetic", "data.synthetic.task=copy", "data.synthetic.vocab=8",
    "data.synthetic.min_len=2", "data.synthetic.max_len=6", "data.synthetic.n_train=600",
    "data.synthetic.n_valid=40", "data.synthetic.n_test=40", "data.tokenizer.vocab_size=24",
    "data.max_tokens=400", "model=transformer", "model.d_model=32", "model.heads=2",
    "model.ff_dim=64", "model.enc_layers=1", "model.dec_layers=1", "decode.beam=2",
    "train.log_every=10",
]  # fmt: skip


class Report:
    """The JSON report, rewritten after every stage."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}

    def stage(self, name: str, fn, *args) -> Any:
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        try:
            result = fn(*args)
            entry = {"ok": True, **result} if isinstance(result, dict) else {"ok": True}
        except Exception as e:  # recorded, and the next stage still runs
            traceback.print_exc()
            entry = {"ok": False, "error": f"{type(e).__name__}: {e}"[:2000]}
        entry["seconds"] = round(time.perf_counter() - t0, 1)
        self.data[name] = entry
        self.save()
        print(json.dumps(entry, indent=1, default=str)[:3000], flush=True)
        return entry

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.data, indent=2, default=str) + "\n")


def environment() -> dict[str, Any]:
    env: dict[str, Any] = {
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "cuda_available": torch.cuda.is_available(),
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
    }
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        env |= {
            "gpu": props.name,
            "memory_gb": round(props.total_memory / 2**30, 1),
            "sm_count": props.multi_processor_count,
            "capability": f"{props.major}.{props.minor}",
            "cuda": torch.version.cuda,
            "bf16_supported": torch.cuda.is_bf16_supported(),
        }
        try:
            env["driver"] = subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=30,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError) as e:
            env["driver"] = f"unknown ({e})"
    return env


def cuda_paths(device: torch.device, run_root: Path, env: dict[str, str]) -> dict[str, Any]:
    """bf16 step, fused attention kernels, and DDP through torchrun."""
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel

    from nmt import PAD_ID
    from nmt.models import build_model

    out: dict[str, Any] = {}
    torch.manual_seed(0)
    model = build_model({"name": "transformer"}, 8000, 8000).to(device)
    src = torch.randint(4, 8000, (32, 40), device=device)
    tgt = torch.randint(4, 8000, (32, 41), device=device)
    mask = src != PAD_ID
    dtype = torch.bfloat16
    with torch.autocast(device_type=device.type, dtype=dtype):
        logits, _ = model(src, mask, tgt[:, :-1])
    loss = F.cross_entropy(logits.float().flatten(0, 1), tgt[:, 1:].flatten())
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    grads_finite = all(torch.isfinite(g).all() for g in grads)
    out["bf16_step"] = {
        "logits_dtype": str(logits.dtype),
        "loss": float(loss),
        "grads_finite": bool(grads_finite),
    }
    kernels = {}
    backends = {
        "flash": SDPBackend.FLASH_ATTENTION,
        "efficient": SDPBackend.EFFICIENT_ATTENTION,
        "math": SDPBackend.MATH,
    }
    for name, backend in backends.items():
        try:
            with torch.no_grad(), sdpa_kernel([backend]), torch.autocast(device.type, dtype):
                model.eval()(src, mask, tgt[:, :-1])
            kernels[name] = "ran"
        except RuntimeError as e:
            kernels[name] = f"unavailable: {str(e).splitlines()[0][:200]}"
    out["sdpa_kernels"] = kernels
    # DDP through torchrun: nccl on CUDA, gloo on CPU
    run_dir = run_root / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=1",
        "-m",
        "nmt.cli.train",
        f"hydra.run.dir={run_dir}",
        *TINY_SYNTHETIC,
        "train.max_steps=30",
        "train.eval_every=15",
        f"train.device={device.type}",
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    ddp: dict[str, Any] = {"returncode": proc.returncode}
    if RunDir(run_dir).finished:
        res = RunDir(run_dir).read_results()
        ddp |= {k: res.get(k) for k in ("world_size", "backend", "steps", "device", "precision")}
    else:
        ddp["stderr_tail"] = proc.stderr[-1500:]
    out["ddp"] = ddp
    return out


def throughput(tiny: bool, out_dir: Path) -> dict[str, Any]:
    from nmt.bench.cli import main as bench

    args = ["--out", str(out_dir / "bench.json"), "--markdown", str(out_dir / "bench.md")]
    if tiny:
        args += [
            "--data",
            "synthetic",
            "--warmup",
            "1",
            "--windows",
            "2",
            "--window-steps",
            "2",
            "--decode-sentences",
            "10",
            "--peak-n",
            "256",
            "--model",
            "d_model=32",
            "--model",
            "ff_dim=64",
            "--model",
            "heads=2",
            "--model",
            "hidden_size=32",
            "--model",
            "emb_dim=16",
            "--model",
            "attention_dim=32",
        ]
    else:
        args += ["--warmup", "10", "--windows", "5", "--window-steps", "20"]
    result = bench(args)
    return {
        "matmul_peak_tflops": result["matmul_peak_tflops"],
        "variants": [
            {
                k: v
                for k, v in r.items()
                if k
                in (
                    "variant",
                    "parameters",
                    "precision",
                    "tgt_tokens_per_s",
                    "src_tokens_per_s",
                    "mfu",
                    "model_tflops_per_s",
                    "peak_memory_mb",
                    "decoding",
                    "target_padding_fraction",
                )
            }
            for r in result["variants"]
        ],
    }


def full_training(tiny: bool, run_root: Path, env: dict[str, str], out_dir: Path) -> dict:
    run_dir = run_root / "multi30k_transformer"
    if tiny:
        overrides = [*TINY_SYNTHETIC, "train.max_steps=40", "train.eval_every=20"]
    else:
        overrides = [
            "model=transformer",
            "data=multi30k",
            "train.max_epochs=30",
            "train.max_minutes=3.5",  # of training; validation and testing come on top
            "train.log_every=100",
        ]
    cmd = [sys.executable, "-m", "nmt.cli.train", f"hydra.run.dir={run_dir}", *overrides]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=540)
    wall = time.perf_counter() - t0
    (out_dir / "multi30k_transformer.log").write_text(proc.stdout[-20000:] + proc.stderr[-20000:])
    out: dict[str, Any] = {
        "command": " ".join(["nmt-train", *overrides]),
        "returncode": proc.returncode,
        "wall_seconds": round(wall, 1),
    }
    if RunDir(run_dir).finished:
        res = RunDir(run_dir).read_results()
        (out_dir / "multi30k_transformer_results.json").write_text(json.dumps(res, indent=2))
        out |= {
            k: res.get(k)
            for k in (
                "steps",
                "epochs",
                "train_seconds",
                "train_tgt_tokens_per_s",
                "best_valid_bleu",
                "device",
                "precision",
                "parameters",
            )
        }
        out["test"] = {
            name: {k: s[k] for k in ("bleu", "chrf", "bleu_lc", "bleu_signature")}
            for name, s in res["test"].items()
        }
    else:
        out["stderr_tail"] = proc.stderr[-2000:]
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="docs/results/gpu", help="folder for gpu_check.json")
    p.add_argument("--runs", default="", help="folder for the runs (default: a temp folder)")
    p.add_argument("--tiny", action="store_true", help="tiny budget (default on a CPU)")
    args = p.parse_args(argv)
    tiny = args.tiny or not torch.cuda.is_available()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    # the runs (checkpoints included) go to --runs, or to a temp folder removed at the end
    run_root = Path(args.runs or tempfile.mkdtemp(prefix="nmt-gpu-check-"))
    # the runs use the nmt this process runs: the folder it was imported from comes first
    code = Path(nmt.__file__).resolve().parents[1]
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join([str(code), os.environ.get("PYTHONPATH", "")]),
    }
    report = Report(out_dir / "gpu_check.json")
    report.data["mode"] = "tiny" if tiny else "full"
    t0 = time.perf_counter()
    report.stage("environment", environment)
    report.stage("cuda_paths", cuda_paths, device, run_root, env)
    report.stage("throughput", throughput, tiny, out_dir)
    report.stage("multi30k_transformer", full_training, tiny, run_root, env, out_dir)
    report.data["total_seconds"] = round(time.perf_counter() - t0, 1)
    report.save()
    if not args.runs:
        shutil.rmtree(run_root, ignore_errors=True)
    failed = [k for k, v in report.data.items() if isinstance(v, dict) and not v.get("ok", True)]
    seconds = report.data["total_seconds"]
    print(f"gpu check: {report.path} ({seconds} s); failed: {failed or 'none'}")
    sys.exit(1 if failed else 0)
