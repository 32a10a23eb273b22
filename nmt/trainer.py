"""The training loop shared by every variant: one process, or DDP under torchrun.

``Trainer.fit`` runs epochs of token-budget batches with AdamW, label
smoothing, gradient clipping and accumulation, validates (loss and sacreBLEU)
every ``train.eval_every`` updates or every epoch, keeps ``best.pt`` /
``last.pt`` (written atomically), stops early on a stalled validation BLEU,
and finally scores the test sets with beam search into ``results.json``.

Exact resumption: checkpoints are only written at update boundaries, with the
weights, optimiser, scheduler, step, epoch, the position inside the epoch, the
RNG states of every rank and the counters, so N updates plus N resumed updates
give the weights of 2N straight. Every decision that ends training (budget,
signal, early stopping, a NaN) is taken by all ranks together.
"""

from __future__ import annotations

import json
import platform
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from nmt import PAD_ID
from nmt.budget import Budget, TrainClock, describe_stop
from nmt.checkpoint import load_checkpoint, save_checkpoint
from nmt.data.batch import Batch
from nmt.device import autocast, resolve_device, resolve_precision
from nmt.distributed import (
    DistInfo,
    all_sum,
    any_rank_tensor,
    barrier,
    broadcast_object,
    gather_objects,
)
from nmt.errors import CheckpointError, DataError, NMTError
from nmt.evaluation import evaluate_split, score_tests, validation_loss, write_results
from nmt.loss import smoothed_cross_entropy
from nmt.models import build_model
from nmt.schedule import Scheduler, resolve_lr
from nmt.tb import TensorBoardLogger
from nmt.train_state import (
    StopFlag,
    check_resumable,
    ignore_signals_in_worker,
    rng_state,
    set_rng_state,
)
from nmt.translator import Translator


class TrainingDiverged(NMTError):
    """The loss or the gradient norm became NaN or infinite."""


def pick_device(name: str, dist_info: DistInfo) -> torch.device:
    name = resolve_device(name, "train.device")
    if name.startswith("cuda") and dist_info.enabled:
        return torch.device("cuda", dist_info.local_rank)  # one GPU per rank
    return torch.device(name)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()})"


class Trainer:
    """Train ``cfg.model`` on prepared data; only rank 0 writes into ``run_dir``."""

    def __init__(self, cfg: DictConfig, data: Any, run_dir: Path, dist_info: DistInfo) -> None:
        self.cfg = cfg
        self.tcfg = cfg.train
        self.data = data
        self.run_dir = Path(run_dir)
        self.dist = dist_info
        for split in ("train", "valid"):
            if not data.encoded.get(split):
                raise DataError(f"the {split} split of {cfg.data.name} is empty; check data.*")
        self.device = pick_device(self.tcfg.device, dist_info)
        self.precision = resolve_precision(self.tcfg.precision, self.device)
        self.model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
        tok = data.tokenizer
        self.model = build_model(self.model_cfg, tok.src_vocab_size, tok.tgt_vocab_size)
        self.model.to(self.device)
        torch.manual_seed(self.tcfg.seed + dist_info.rank)  # dropout differs across ranks
        self.variant = self.model.variant
        self.optimizer = torch.optim.AdamW(
            [p for p in self.model.parameters() if p.requires_grad],
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
        if len(self.sampler) == 0:
            raise DataError(f"the train split of {cfg.data.name} gives no batches")
        self.net: torch.nn.Module = torch.compile(self.model) if self.tcfg.compile else self.model
        if dist_info.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = DistributedDataParallel(self.net, device_ids=ids)
        self.decode = {
            "beam": self.tcfg.test_beam,
            "alpha": self.tcfg.length_penalty,
            "max_len_a": self.tcfg.max_len_a,
            "max_len_b": self.tcfg.max_len_b,
        }
        # progress; all of it goes into last.pt
        self.step = 0
        self.epoch = 0
        self.position = 0  # batches of the current epoch already consumed
        self.best_bleu, self.best_step = -1.0, 0  # best validation so far (best.pt)
        self.patience_bleu, self.bad_evals = -1.0, 0  # scheduled validations only
        self.tokens_tgt = self.tokens_src = 0  # this rank's, this process's
        self.trained_tgt_tokens = self.trained_src_tokens = 0  # all ranks, every process
        self.processes = 1  # this one and those before a resume
        self.stops: list[str] = []  # why each process ended (the earlier ones of a resumed run)
        self.last_eval_step = -1
        self.budget = Budget.from_config(self.tcfg)
        self.clock = TrainClock()  # replaced when fit() begins, from clock_state
        self.clock_state = {"train_seconds": 0.0, "wall_seconds": 0.0}
        self.tb = TensorBoardLogger(self.run_dir / "tb") if dist_info.is_main else None

    # ----------------------------------------------------------------- checkpoints
    @property
    def ckpt_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    COUNTERS = ("best_step", "patience_bleu", "bad_evals", "trained_tgt_tokens",
                "trained_src_tokens", "last_eval_step", "processes", "stops")  # fmt: skip

    def save(self, name: str, full: bool = True) -> None:
        """Write a checkpoint (rank 0). ``full`` adds what resumption needs; with DDP it
        gathers every rank's RNG state, so every rank must call it."""
        rngs = gather_objects(rng_state(self.device), self.dist) if full else None
        if not self.dist.is_main:
            return
        payload: dict[str, Any] = {
            "model": self.model.state_dict(),
            "model_config": self.model_cfg,
            "tokenizer": self.data.tokenizer.state_dict(),
            "data": OmegaConf.to_container(self.cfg.data, resolve=True),
            "decode": self.decode,
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
                "rng": rngs,
                "world_size": self.dist.world_size,
                "trainer": {key: getattr(self, key) for key in self.COUNTERS},
                "clock": {
                    "train_seconds": self.clock.train_seconds,
                    "wall_seconds": self.clock.wall_seconds,
                },
                "train_config": OmegaConf.to_container(self.tcfg, resolve=True),
            }
        save_checkpoint(payload, self.ckpt_dir / name)

    def resume_from(self, path: Path) -> None:
        ckpt = load_checkpoint(path, map_location="cpu")
        if "optimizer" not in ckpt:
            raise CheckpointError(f"{path}: holds weights only; resume needs a last.pt")
        check_resumable(
            path,
            ckpt,
            self.model_cfg,
            OmegaConf.to_container(self.cfg.data, resolve=True),
            OmegaConf.to_container(self.tcfg, resolve=True),
            self.scheduler.kind,
            self.dist.world_size,
        )
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        self.step, self.best_bleu = ckpt["step"], ckpt["best_bleu"]
        self.epoch, self.position = ckpt["sampler"]["epoch"], ckpt["sampler"]["position"]
        saved = ckpt["trainer"]
        for key, value in saved.items():
            if key in self.COUNTERS:
                setattr(self, key, value)
        self.processes = int(saved.get("processes", 1)) + 1
        clock = ckpt.get("clock", {"train_seconds": saved.get("train_seconds", 0.0)})
        self.clock_state = {
            "train_seconds": float(clock.get("train_seconds", 0.0)),
            "wall_seconds": float(clock.get("wall_seconds", 0.0)),
        }
        if "trained_tgt_tokens" not in saved:  # a checkpoint from before the global count
            self.trained_tgt_tokens = int(saved.get("tokens_tgt", 0)) * self.dist.world_size
            self.trained_src_tokens = int(saved.get("tokens_src", 0)) * self.dist.world_size
        set_rng_state(ckpt["rng"][self.dist.rank], self.device)

    # ----------------------------------------------------------------- the loop
    def _batches(self):
        """This epoch's batches from ``self.position`` on (off-thread when num_workers > 0)."""
        self.sampler.load_state_dict({"epoch": self.epoch, "position": self.position})
        if self.tcfg.num_workers > 0:
            yield from torch.utils.data.DataLoader(
                self.data.encoded["train"],
                batch_sampler=self.sampler,
                collate_fn=self.collate,
                num_workers=self.tcfg.num_workers,
                pin_memory=self.device.type == "cuda",
                worker_init_fn=ignore_signals_in_worker,
                generator=torch.Generator(),  # keeps the global RNG untouched (exact resume)
            )
        else:
            encoded = self.data.encoded["train"]
            for indices in self.sampler:
                yield self.collate([encoded[i] for i in indices])

    def _loss(self, batch: Batch) -> torch.Tensor:
        """Summed, label-smoothed token cross-entropy of a batch."""
        with autocast(self.device, self.precision):
            logits, _ = self.net(batch.src, batch.src_mask, batch.tgt_in)
        return smoothed_cross_entropy(
            logits.flatten(0, 1),  # (B*T, V), bf16 under autocast: the loss works in fp32
            batch.tgt_out.flatten(),
            smoothing=self.tcfg.label_smoothing,
            ignore_index=PAD_ID,
        )

    def _stop_reason(self, flag: StopFlag, tgt: int = 0, src: int = 0) -> str:
        """Book this update's tokens (all ranks) and say why training must stop now ("" to
        go on): one small all-reduce, so every rank takes the same decision (a rank whose
        clock ran out stops them all)."""
        out_of_time = self.budget.out_of_time(self.clock.train_seconds)
        signalled, out_of_time, tgt, src = all_sum(
            [flag.signum is not None, out_of_time, tgt, src], self.dist
        )
        self.trained_tgt_tokens += int(tgt)
        self.trained_src_tokens += int(src)
        if signalled:
            return "signal"
        seconds = float("inf") if out_of_time else 0.0  # the agreed verdict on time
        return self.budget.exhausted(self.step, self.trained_tgt_tokens, seconds)

    def _check_finite(self, nonfinite: torch.Tensor) -> None:
        if any_rank_tensor(nonfinite, self.dist):
            last = self.ckpt_dir / "last.pt"
            hint = f"resume from {last}" if last.exists() else "start again"
            raise TrainingDiverged(
                f"the training loss or gradient norm became NaN/inf by step {self.step}; "
                f"nothing from this point was saved; lower train.lr or raise "
                f"train.warmup_steps, then {hint}"
            )

    def fit(self) -> dict[str, Any] | None:
        """Train until a budget, early stopping or a signal ends it.

        Returns the results (rank 0, finished run), or None when interrupted.
        """
        t = self.tcfg
        n_batches = len(self.sampler)
        bar = tqdm(  # percent of the budget, by the limit nearest its end (Budget.used)
            total=100,
            desc="train",
            unit="%",
            bar_format="{desc}{percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]",
            disable=not self.dist.is_main,
        )
        loss_sum = torch.zeros((), device=self.device)
        nonfinite = torch.zeros((), dtype=torch.bool, device=self.device)
        grad_norm = torch.zeros((), device=self.device)
        self.clock = TrainClock(**self.clock_state)  # this process counts from here
        window = (self.tokens_tgt, self.clock.train_seconds)  # for the logged tokens/s
        self._advance(bar, n_batches)  # a resumed run starts where it stopped

        with StopFlag() as flag:
            stop = self._stop_reason(flag)
            while not stop and self.epoch < t.max_epochs:
                self.net.train()
                micro, group, group_tgt, group_src = 0, 1, 0, 0
                for batch in self._batches():
                    if micro == 0:  # a new group; the epoch's last one may be short
                        group = min(max(1, t.accum_steps), n_batches - self.position)
                    batch = batch.to(self.device, non_blocking=True)
                    ntok = batch.num_tgt_tokens
                    sync = not self.dist.enabled or micro + 1 == group
                    with nullcontext() if sync else self.net.no_sync():
                        loss = self._loss(batch)
                        (loss / max(1, ntok) / group).backward()
                    loss_sum += loss.detach()
                    self.position += 1
                    group_tgt += ntok
                    group_src += int(batch.src_lengths.sum())
                    micro += 1
                    if micro < group:
                        continue
                    clip = t.clip_grad_norm if t.clip_grad_norm > 0 else float("inf")
                    grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
                    nonfinite |= ~torch.isfinite(loss_sum) | ~torch.isfinite(grad_norm)
                    self.optimizer.step()
                    self.optimizer.zero_grad(set_to_none=True)
                    self.scheduler.step()
                    self.step += 1
                    self.tokens_tgt += group_tgt
                    self.tokens_src += group_src
                    stop = self._stop_reason(flag, group_tgt, group_src)
                    self._advance(bar, n_batches)
                    micro, group_tgt, group_src = 0, 0, 0
                    if self.step % t.log_every == 0:
                        self._check_finite(nonfinite)
                        window = self._log_train(bar, loss_sum, window, grad_norm)
                        loss_sum.zero_()
                    if t.eval_every and self.step % t.eval_every == 0:
                        self._check_finite(nonfinite)
                        with self.clock.paused():
                            if self.validate():
                                stop = stop if stop == "signal" else "patience"
                        self.net.train()
                    if stop:
                        break
                if self.position >= n_batches:  # the epoch is complete: roll over
                    self.epoch, self.position = self.epoch + 1, 0
                    if not t.eval_every:
                        self._check_finite(nonfinite)
                        with self.clock.paused():
                            if self.validate() and stop != "signal":
                                stop = "patience"
                stop = stop or self._stop_reason(flag)
            bar.close()
            self._check_finite(nonfinite)
            stop = stop or "max_epochs"
            self.stops.append(stop)
            if stop == "signal":
                self.save("last.pt")
                if self.dist.is_main:
                    print(
                        f"interrupted (signal {flag.signum}) at step {self.step}; saved "
                        f"{self.ckpt_dir / 'last.pt'}; continue with train.resume=true "
                        f"hydra.run.dir={self.run_dir}"
                    )
                return None
            with self.clock.paused():
                if self.last_eval_step != self.step:
                    self.validate(final=True)
                else:
                    self.save("last.pt")
            barrier(self.dist)
        # test scoring runs with the default signal handlers: Ctrl-C aborts it at once
        return self.finish(stop) if self.dist.is_main else None

    def _advance(self, bar: tqdm, n_batches: int) -> None:
        """Move the bar to the share of the budget used (by the limit nearest its end)."""
        if bar.disable:  # not rank 0
            return
        epochs = self.epoch + self.position / max(1, n_batches)
        fraction, name = self.budget.used(
            self.step, epochs, self.trained_tgt_tokens, self.clock.train_seconds
        )
        if bar.desc != f"train ({name})":
            bar.set_description(f"train ({name})", refresh=False)
        bar.update(100.0 * fraction - bar.n)

    def _log_train(
        self, bar: tqdm, loss_sum: torch.Tensor, window: tuple[int, float], grad_norm
    ) -> tuple[int, float]:
        """Progress bar and TensorBoard: loss, lr, gradient norm and this rank's training
        tokens/s since ``window`` (tokens, train seconds); returns the next window."""
        tokens, seconds = self.tokens_tgt - window[0], self.clock.train_seconds - window[1]
        loss = float(loss_sum.item()) / max(1, tokens)
        tps = tokens / max(1e-9, seconds)
        bar.set_postfix(
            step=self.step, loss=f"{loss:.3f}", tok_s=f"{tps:,.0f}", lr=f"{self.scheduler.lr:.2e}"
        )
        if self.tb:
            values = {"loss": loss, "lr": self.scheduler.lr, "grad_norm": float(grad_norm)}
            self.tb.scalars("train", values | {"tokens_per_s": tps}, self.step)
        return self.tokens_tgt, self.clock.train_seconds

    # ----------------------------------------------------------------- validation
    def validate(self, final: bool = False) -> bool:
        """Validation loss and BLEU (rank 0), shared with every rank; True = stop early.

        ``final`` marks the extra validation after the budget ran out: it may
        update best.pt but leaves the schedule and the patience count alone, so
        a resumed run continues exactly as one that never stopped.
        """
        self.last_eval_step = self.step
        result = self._validate_main() if self.dist.is_main else None
        result = broadcast_object(result, self.dist)
        bleu = result["valid_bleu"]
        improved = bleu > self.best_bleu
        if improved:
            self.best_bleu, self.best_step = bleu, self.step
            self.save("best.pt", full=False)
        if not final:
            if bleu > self.patience_bleu:
                self.patience_bleu, self.bad_evals = bleu, 0
            else:
                self.bad_evals += 1
            self.scheduler.on_eval(bleu)
        self.save("last.pt")
        if self.dist.is_main:
            record = {
                "step": self.step,
                "epoch": self.epoch,
                **result,
                "best_valid_bleu": self.best_bleu,
                "lr": self.scheduler.lr,
                "train_tgt_tokens": self.trained_tgt_tokens,
                "train_tokens_per_s": round(
                    self.trained_tgt_tokens / max(1e-9, self.clock.train_seconds), 1
                ),
                "train_seconds": round(self.clock.train_seconds, 1),
            }
            with open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
            tqdm.write(
                f"step {self.step}: valid loss {result['valid_loss']:.3f} "
                f"ppl {result['valid_ppl']:.2f} BLEU {bleu:.2f} chrF {result['valid_chrf']:.2f}"
                f"{'  (best)' if improved else ''}"
            )
        return (not final) and self.tcfg.patience > 0 and self.bad_evals >= self.tcfg.patience

    def _validate_main(self) -> dict[str, Any]:
        loss, ppl = validation_loss(
            self.model, self.data, self.device, self.precision, self.cfg.data.max_tokens
        )
        translator = self._translator()
        text = self.data.text["valid"]
        scores, hyps = evaluate_split(
            translator,
            text,
            beam=self.tcfg.eval_beam,
            alpha=self.tcfg.length_penalty,
            max_len_a=self.tcfg.max_len_a,
            max_len_b=self.tcfg.max_len_b,
            limit=self.tcfg.eval_max_sentences or None,
        )
        if self.tb:
            values = {"loss": loss, "ppl": ppl, "bleu": scores["bleu"], "chrf": scores["chrf"]}
            self.tb.scalars("valid", values, self.step)
            self.tb.samples(text, hyps, self.tcfg.num_samples, self.step)
            self.tb.attention(translator, text.src[0], self.step)
        return {
            "valid_loss": round(loss, 4),
            "valid_ppl": round(ppl, 3),
            "valid_bleu": scores["bleu"],
            "valid_chrf": scores["chrf"],
        }

    def _translator(self) -> Translator:
        return Translator(self.model, self.data.tokenizer, self.device, precision=self.precision)

    # ----------------------------------------------------------------- the end
    def finish(self, stop_reason: str) -> dict[str, Any]:
        """Score the test sets with the best checkpoint and write results.json (rank 0)."""
        train_seconds, wall_seconds = self.clock.train_seconds, self.clock.wall_seconds
        best = self.ckpt_dir / "best.pt"
        if best.exists():
            self.model.load_state_dict(load_checkpoint(best)["model"])
        tests = score_tests(self._translator(), self.data.text, self.run_dir, self.decode)
        seconds = max(1e-9, train_seconds)
        tgt, src = self.trained_tgt_tokens, self.trained_src_tokens
        results = {
            "variant": self.variant,
            "model_config": self.model_cfg,
            "corpus": self.cfg.data.name,
            "pair": f"{self.cfg.data.src}-{self.cfg.data.tgt}",
            "parameters": self.model.num_parameters(),
            # why it stopped and what it used (every process of a resumed run)
            "stop_reason": stop_reason,
            "stop_detail": describe_stop(stop_reason),
            # why each process ended, the last = this one (a process killed without a
            # checkpoint leaves no entry; "processes" still counts it if it was resumed)
            "stops": self.stops,
            "budget": self.budget.as_dict(),
            "steps": self.step,
            "epochs": self.epoch,
            "epochs_trained": round(self.epoch + self.position / max(1, len(self.sampler)), 3),
            "train_tgt_tokens": tgt,  # all ranks together
            "train_src_tokens": src,
            "train_seconds": round(train_seconds, 1),  # training only: validation excluded
            "wall_seconds": round(wall_seconds, 1),  # the training loops, validation included
            "processes": self.processes,  # 1 + the number of resumes
            "train_tgt_tokens_per_s": round(tgt / seconds, 1),
            "train_src_tokens_per_s": round(src / seconds, 1),
            "device": device_name(self.device),
            "world_size": self.dist.world_size,
            "backend": torch.distributed.get_backend() if self.dist.enabled else None,
            "precision": self.precision,
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "seed": self.tcfg.seed,
            "best_valid_bleu": self.best_bleu,
            "best_step": self.best_step,
            "test_beam": self.tcfg.test_beam,
            # how the test scores were decoded (nmt-compare compares only matching runs)
            "decode": {**self.decode, "precision": self.precision},
            "tokenizer": self.data.tokenizer.fingerprint,
            "test": tests,
            "best_checkpoint": str(best),
        }
        write_results(results, self.run_dir / "results.json")
        if self.tb:
            for name, s in tests.items():
                self.tb.scalars(f"test/{name}", {"bleu": s["bleu"], "chrf": s["chrf"]}, self.step)
            self.tb.close()
        return results
