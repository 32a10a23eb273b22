"""The training loop shared by every variant: one process, or DDP under torchrun.

``Trainer.fit`` runs epochs of token-budget batches with AdamW, label
smoothing, gradient clipping and accumulation, validates (loss and sacreBLEU)
every ``train.eval_every`` steps, keeps ``best.pt`` / ``last.pt`` (written
atomically), stops early on a stalled validation BLEU, and finally scores the
test sets with beam search into ``results.json``. Everything a resumption
needs -- weights, optimiser, scheduler, step, epoch, sampler position and RNG
states -- is in ``last.pt``.
"""

from __future__ import annotations

import json
import math
import random
import signal
import time
from contextlib import nullcontext, suppress
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from nmt import PAD_ID
from nmt.checkpoint import load_checkpoint, save_checkpoint
from nmt.config import check_choice
from nmt.data.batch import Batch
from nmt.distributed import DistInfo, any_rank, barrier, broadcast_object
from nmt.errors import CheckpointError, ConfigError, NMTError
from nmt.evaluation import evaluate_split, write_results
from nmt.models import build_model
from nmt.schedule import Scheduler, resolve_lr
from nmt.tb import TensorBoardLogger
from nmt.translator import Translator, autocast


class TrainingDiverged(NMTError):
    """The loss became NaN or infinite."""


def pick_device(name: str, dist_info: DistInfo) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"train.device={name!r} but CUDA is not available; use cpu or auto")
        if dist_info.enabled:
            return torch.device("cuda", dist_info.local_rank)
    return torch.device(name)


def rng_state(device: torch.device) -> dict[str, Any]:
    state = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


class StopFlag:
    """Set by SIGINT / SIGTERM; the loop saves a checkpoint and exits after the current step."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with suppress(ValueError):  # not the main thread: no handler
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.signum = signum

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


class Trainer:
    """Train ``cfg.model`` on prepared data; only rank 0 writes into ``run_dir``."""

    def __init__(self, cfg: DictConfig, data: Any, run_dir: Path, dist_info: DistInfo) -> None:
        self.cfg = cfg
        self.tcfg = cfg.train
        self.data = data
        self.run_dir = Path(run_dir)
        self.dist = dist_info
        self.device = pick_device(self.tcfg.device, dist_info)
        check_choice("train.precision", self.tcfg.precision)
        self.precision = self.tcfg.precision
        if self.precision == "auto":
            self.precision = "bf16" if self.device.type == "cuda" else "fp32"
        self.model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
        tok = data.tokenizer
        self.model = build_model(self.model_cfg, tok.src_vocab_size, tok.tgt_vocab_size)
        self.model.to(self.device)
        self.variant = self.model.variant
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(
            params,
            lr=resolve_lr(self.tcfg, self.variant),
            betas=tuple(self.tcfg.betas),
            weight_decay=self.tcfg.weight_decay,
            fused=self.device.type == "cuda",
        )
        self.scheduler = Scheduler(self.optimizer, self.tcfg, self.variant)
        self.sampler, self.collate = data.make_batches(
            "train",
            max_tokens=cfg.data.max_tokens,
            shuffle=True,
            seed=self.tcfg.seed,
            num_shards=dist_info.world_size,
            shard_id=dist_info.rank,
        )
        self.net: torch.nn.Module = self.model
        if self.tcfg.compile:
            self.net = torch.compile(self.model)
        if dist_info.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = DistributedDataParallel(self.net, device_ids=ids)
        # progress
        self.step = 0
        self.epoch = 0
        self.position = 0  # batches of the current epoch already consumed
        self.best_bleu = -1.0
        self.best_step = 0
        self.bad_evals = 0
        self.tokens_tgt = 0
        self.tokens_src = 0
        self.train_seconds = 0.0
        self.last_eval_step = -1
        self.tb = TensorBoardLogger(self.run_dir / "tb") if dist_info.is_main else None

    # ----------------------------------------------------------------- checkpoints
    @property
    def ckpt_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    def _payload(self, full: bool) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model.state_dict(),
            "model_config": self.model_cfg,
            "tokenizer": self.data.tokenizer.state_dict(),
            "data": OmegaConf.to_container(self.cfg.data, resolve=True),
            "variant": self.variant,
            "step": self.step,
            "epoch": self.epoch,
            "best_bleu": self.best_bleu,
        }
        if full:
            payload |= {
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "sampler": {"epoch": self.epoch, "position": self.position},
                "rng": rng_state(self.device),
                "trainer": {
                    "best_step": self.best_step,
                    "bad_evals": self.bad_evals,
                    "tokens_tgt": self.tokens_tgt,
                    "tokens_src": self.tokens_src,
                    "train_seconds": self.train_seconds,
                    "last_eval_step": self.last_eval_step,
                },
                "train_config": OmegaConf.to_container(self.tcfg, resolve=True),
            }
        return payload

    def save(self, name: str, full: bool = True) -> Path | None:
        if not self.dist.is_main:
            return None
        return save_checkpoint(self._payload(full), self.ckpt_dir / name)

    def resume_from(self, path: Path) -> None:
        ckpt = load_checkpoint(path, map_location="cpu")
        if "optimizer" not in ckpt:
            raise CheckpointError(f"{path}: holds weights only; resume needs a last.pt")
        if ckpt["model_config"] != self.model_cfg:
            raise ConfigError(
                f"{path}: was trained with model config {ckpt['model_config']}, "
                f"not {self.model_cfg}; resume with the same model settings"
            )
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        self.step, self.epoch = ckpt["step"], ckpt["sampler"]["epoch"]
        self.position = ckpt["sampler"]["position"]
        self.best_bleu = ckpt["best_bleu"]
        for key, value in ckpt["trainer"].items():
            setattr(self, key, value)
        set_rng_state(ckpt["rng"], self.device)

    # ----------------------------------------------------------------- the loop
    def _batches(self):
        """This epoch's batches from the saved position on (off-thread when num_workers > 0)."""
        self.sampler.load_state_dict({"epoch": self.epoch, "position": self.position})
        if self.tcfg.num_workers > 0:
            loader = torch.utils.data.DataLoader(
                self.data.encoded["train"],
                batch_sampler=self.sampler,
                collate_fn=self.collate,
                num_workers=self.tcfg.num_workers,
                pin_memory=self.device.type == "cuda",
                generator=torch.Generator(),  # keeps the global RNG untouched (exact resume)
            )
            yield from loader
        else:
            encoded = self.data.encoded["train"]
            for indices in self.sampler:
                yield self.collate([encoded[i] for i in indices])

    def _loss(self, batch: Batch, smoothing: float) -> torch.Tensor:
        """Summed token cross-entropy of a batch (label-smoothed when ``smoothing`` > 0)."""
        with autocast(self.device, self.precision):
            logits, _ = self.net(batch.src, batch.src_mask, batch.tgt_in)
        return F.cross_entropy(
            logits.float().flatten(0, 1),
            batch.tgt_out.flatten(),
            ignore_index=PAD_ID,
            label_smoothing=smoothing,
            reduction="sum",
        )

    def _budget_left(self, started: float) -> bool:
        t = self.tcfg
        if t.max_steps and self.step >= t.max_steps:
            return False
        return not (t.max_minutes and (time.monotonic() - started) / 60 >= t.max_minutes)

    def fit(self) -> dict[str, Any] | None:
        """Train until a budget, early stopping or a signal ends it.

        Returns the results (rank 0, finished run), or None when interrupted.
        """
        t = self.tcfg
        accum = max(1, t.accum_steps)
        started = time.monotonic()
        main = self.dist.is_main
        total = t.max_steps or t.max_epochs * max(1, len(self.sampler) // accum)
        bar = tqdm(total=total, initial=self.step, desc="train", unit="step", disable=not main)
        loss_acc = torch.zeros((), device=self.device)
        nonfinite = torch.zeros((), dtype=torch.bool, device=self.device)
        window = {"tokens": 0, "seconds": 0.0, "loss": 0.0, "steps": 0}
        grad_norm = torch.zeros((), device=self.device)
        stop_reason = ""
        with StopFlag() as flag:
            while self.epoch < t.max_epochs and not stop_reason:
                self.net.train()
                micro = 0
                tick = time.monotonic()
                for batch in self._batches():
                    batch = batch.to(self.device, non_blocking=True)
                    ntok = batch.num_tgt_tokens
                    last_micro = micro + 1 == accum
                    sync_ctx = (
                        self.net.no_sync()
                        if self.dist.enabled and not last_micro
                        else nullcontext()
                    )
                    with sync_ctx:
                        loss = self._loss(batch, t.label_smoothing)
                        (loss / max(1, ntok) / accum).backward()
                    loss_acc += loss.detach()
                    nonfinite |= ~torch.isfinite(loss.detach())
                    self.position += 1
                    self.tokens_tgt += ntok
                    self.tokens_src += int(batch.src_lengths.sum())
                    window["tokens"] += ntok
                    micro += 1
                    if micro < accum:
                        continue
                    micro = 0
                    if t.clip_grad_norm > 0:
                        grad_norm = torch.nn.utils.clip_grad_norm_(
                            self.model.parameters(), t.clip_grad_norm
                        )
                    self.optimizer.step()
                    self.optimizer.zero_grad(set_to_none=True)
                    self.scheduler.step()
                    self.step += 1
                    window["steps"] += 1
                    bar.update(1)
                    if self.step % t.log_every == 0:
                        now = time.monotonic()
                        window["seconds"] += now - tick
                        self.train_seconds += now - tick
                        tick = now
                        self._check_finite(nonfinite)
                        self._log_train(bar, loss_acc, window, grad_norm)
                        loss_acc.zero_()
                        window = {"tokens": 0, "seconds": 0.0, "loss": 0.0, "steps": 0}
                    interrupted = (
                        any_rank(flag.signum is not None, self.dist, self.device)
                        if (not self.dist.enabled or self.step % t.log_every == 0)
                        else False
                    )
                    if interrupted:
                        stop_reason = "signal"
                        break
                    if t.eval_every and self.step % t.eval_every == 0:
                        self.train_seconds += time.monotonic() - tick
                        self._check_finite(nonfinite)
                        if self.validate():
                            stop_reason = "early stopping"
                        tick = time.monotonic()
                        self.net.train()
                        if stop_reason:
                            break
                    if not self._budget_left(started):
                        stop_reason = "budget"
                        break
                self.train_seconds += time.monotonic() - tick
                if stop_reason:
                    break
                # epoch finished
                self.epoch += 1
                self.position = 0
                if not t.eval_every:
                    self._check_finite(nonfinite)
                    if self.validate():
                        stop_reason = "early stopping"
                if not self._budget_left(started):
                    stop_reason = "budget"
            bar.close()
            self._check_finite(nonfinite)
            if stop_reason == "signal":
                self.save("last.pt")
                if main:
                    print(
                        f"interrupted (signal {flag.signum}) at step {self.step}; saved "
                        f"{self.ckpt_dir / 'last.pt'}; continue with train.resume=true "
                        f"hydra.run.dir={self.run_dir}"
                    )
                return None
        stop_reason = stop_reason or "max_epochs"
        if self.last_eval_step != self.step:
            self.validate(final=True)
        self.save("last.pt")
        barrier(self.dist)
        if not main:
            return None
        return self.finish(stop_reason, time.monotonic() - started)

    def _check_finite(self, nonfinite: torch.Tensor) -> None:
        if bool(nonfinite.item()):
            raise TrainingDiverged(
                f"training loss became NaN/inf by step {self.step}; nothing was saved from this "
                f"point; lower train.lr or raise train.warmup_steps, then resume from "
                f"{self.ckpt_dir / 'last.pt'} or start again"
            )

    def _log_train(self, bar: tqdm, loss_acc: torch.Tensor, window: dict, grad_norm) -> None:
        tokens = window["tokens"]
        loss = float(loss_acc.item()) / max(1, tokens)
        tps = tokens / max(1e-9, window["seconds"])
        bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{tps:,.0f}", lr=f"{self.scheduler.lr:.2e}")
        if self.tb:
            self.tb.scalars(
                "train",
                {
                    "loss": loss,
                    "lr": self.scheduler.lr,
                    "grad_norm": float(grad_norm),
                    "tokens_per_s": tps,
                },
                self.step,
            )

    # ----------------------------------------------------------------- validation
    def validate(self, final: bool = False) -> bool:
        """Validation loss and BLEU on rank 0; returns True when early stopping should stop.

        ``final`` marks the extra evaluation after the budget ran out: it may
        update best.pt but leaves the schedule and the patience count alone.
        """
        self.last_eval_step = self.step
        result = None
        if self.dist.is_main:
            result = self._validate_main()
        result = broadcast_object(result, self.dist)
        bleu = result["valid_bleu"]
        improved = bleu > self.best_bleu
        if improved:
            self.best_bleu, self.best_step = bleu, self.step
            self.bad_evals = 0
            self.save("best.pt", full=False)
        elif not final:
            self.bad_evals += 1
        if not final:
            self.scheduler.on_eval(bleu)
        self.save("last.pt")
        barrier(self.dist)
        if self.dist.is_main:
            record = {
                "step": self.step,
                "epoch": self.epoch,
                **result,
                "best_valid_bleu": self.best_bleu,
                "lr": self.scheduler.lr,
                "train_tokens_per_s": round(self.tokens_tgt / max(1e-9, self.train_seconds), 1),
                "train_seconds": round(self.train_seconds, 1),
            }
            with open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
            tqdm.write(
                f"step {self.step}: valid loss {result['valid_loss']:.3f} "
                f"ppl {result['valid_ppl']:.2f} BLEU {bleu:.2f} chrF {result['valid_chrf']:.2f}"
                f"{'  (best)' if improved else ''}"
            )
        return (not final) and self.tcfg.patience > 0 and self.bad_evals >= self.tcfg.patience

    @torch.no_grad()
    def _validate_main(self) -> dict[str, Any]:
        self.model.eval()
        sampler, collate = self.data.make_batches(
            "valid", max_tokens=self.cfg.data.max_tokens, shuffle=False, seed=0
        )
        encoded = self.data.encoded["valid"]
        total, tokens = 0.0, 0
        for indices in sampler:
            batch = collate([encoded[i] for i in indices]).to(self.device)
            with autocast(self.device, self.precision):
                logits, _ = self.model(batch.src, batch.src_mask, batch.tgt_in)
            total += float(
                F.cross_entropy(
                    logits.float().flatten(0, 1),
                    batch.tgt_out.flatten(),
                    ignore_index=PAD_ID,
                    reduction="sum",
                )
            )
            tokens += batch.num_tgt_tokens
        valid_loss = total / max(1, tokens)
        translator = self._translator()
        text = self.data.text["valid"]
        limit = self.tcfg.eval_max_sentences or len(text.src)
        scores, hyps = evaluate_split(
            translator,
            text,
            beam=self.tcfg.eval_beam,
            alpha=self.tcfg.length_penalty,
            max_len_a=self.tcfg.max_len_a,
            max_len_b=self.tcfg.max_len_b,
            limit=limit,
        )
        if self.tb:
            self.tb.scalars(
                "valid",
                {
                    "loss": valid_loss,
                    "ppl": math.exp(min(valid_loss, 50)),
                    "bleu": scores["bleu"],
                    "chrf": scores["chrf"],
                },
                self.step,
            )
            self.tb.samples(text, hyps, self.tcfg.num_samples, self.step)
            self.tb.attention(translator, text.src[0], self.step)
        return {
            "valid_loss": round(valid_loss, 4),
            "valid_ppl": round(math.exp(min(valid_loss, 50)), 3),
            "valid_bleu": scores["bleu"],
            "valid_chrf": scores["chrf"],
        }

    def _translator(self) -> Translator:
        return Translator(
            self.model,
            self.data.tokenizer,
            self.device,
            precision=self.precision,
        )

    # ----------------------------------------------------------------- the end
    def finish(self, stop_reason: str, wall: float) -> dict[str, Any]:
        """Score the test sets with the best checkpoint and write results.json (rank 0)."""
        best = self.ckpt_dir / "best.pt"
        if best.exists():
            self.model.load_state_dict(load_checkpoint(best)["model"])
        translator = self._translator()
        tests = {}
        for name, text in self.data.text.items():
            if name in ("train", "valid"):
                continue
            scores, hyps = evaluate_split(
                translator,
                text,
                beam=self.tcfg.test_beam,
                alpha=self.tcfg.length_penalty,
                max_len_a=self.tcfg.max_len_a,
                max_len_b=self.tcfg.max_len_b,
                progress=True,
                by_length=True,
            )
            hyp_path = self.run_dir / "hyps" / f"{name}.beam{self.tcfg.test_beam}.txt"
            hyp_path.parent.mkdir(parents=True, exist_ok=True)
            hyp_path.write_text("".join(h + "\n" for h in hyps), encoding="utf-8")
            scores["hypotheses"] = str(hyp_path.relative_to(self.run_dir))
            tests[name] = scores
        results = {
            "variant": self.variant,
            "model_config": self.model_cfg,
            "corpus": self.cfg.data.name,
            "pair": f"{self.cfg.data.src}-{self.cfg.data.tgt}",
            "parameters": self.model.num_parameters(),
            "steps": self.step,
            "epochs": self.epoch,
            "stop_reason": stop_reason,
            "wall_seconds": round(wall, 1),
            "train_seconds": round(self.train_seconds, 1),
            "train_tgt_tokens_per_s": round(self.tokens_tgt / max(1e-9, self.train_seconds), 1),
            "train_src_tokens_per_s": round(self.tokens_src / max(1e-9, self.train_seconds), 1),
            "device": _device_name(self.device),
            "world_size": self.dist.world_size,
            "backend": torch.distributed.get_backend() if self.dist.enabled else None,
            "precision": self.precision,
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "best_valid_bleu": self.best_bleu,
            "best_step": self.best_step,
            "test_beam": self.tcfg.test_beam,
            "test": tests,
            "best_checkpoint": str(best),
        }
        write_results(results, self.run_dir / "results.json")
        if self.tb:
            for name, s in tests.items():
                self.tb.scalars(f"test/{name}", {"bleu": s["bleu"], "chrf": s["chrf"]}, self.step)
            self.tb.close()
        return results


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import platform

    return f"cpu ({platform.processor() or platform.machine()})"
