"""The training loop shared by every variant: one process, or DDP under torchrun.

``Trainer.fit`` runs epochs of token-budget batches with AdamW, label
smoothing, gradient clipping and accumulation, validates (loss and sacreBLEU)
every ``train.eval_every`` updates or every epoch, keeps ``best.pt`` /
``last.pt`` (written atomically), stops early on a stalled validation BLEU (or
loss: ``train.early_stopping_metric``), and finally scores the test sets with beam
search into ``results.json``.

Exact resumption: checkpoints are only written at update boundaries, with the
weights, optimiser, scheduler, step, epoch, the position inside the epoch, the
RNG states of every rank and the counters, so N updates plus N resumed updates
give the weights of 2N straight. Every decision that ends training (budget,
signal, early stopping, a NaN) is taken by all ranks together.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from nmt import PAD_ID
from nmt.data.batch import Batch
from nmt.errors import CheckpointError, ConfigError, DataError, NMTError
from nmt.evaluation.scoring import evaluate_split, score_tests
from nmt.runs.checkpoint import load_checkpoint, save_checkpoint, step_checkpoints
from nmt.system.allocator import release_free_memory
from nmt.system.device import autocast
from nmt.system.distributed import (
    DistInfo,
    all_sum,
    any_rank_tensor,
    barrier,
    broadcast_object,
    gather_objects,
)
from nmt.training.budget import Budget, TrainClock
from nmt.training.build import build_training, device_name, load_optimizer_state
from nmt.training.config import check_choice
from nmt.training.loss import smoothed_cross_entropy, validation_loss
from nmt.training.results import run_results, write_results
from nmt.training.state import (
    StopFlag,
    check_resumable,
    ignore_signals_in_worker,
    rng_state,
    set_rng_state,
)
from nmt.training.tensorboard import TensorBoardLogger
from nmt.translation.decoding import Decoding
from nmt.translation.translator import Translator


class TrainingDiverged(NMTError):
    """The loss or the gradient norm became NaN or infinite."""


class Meter:
    """Training loss and tokens since the last log, for the progress bar and TensorBoard.

    The loss stays a device tensor (no sync per update); ``nonfinite`` remembers a NaN/inf
    loss or gradient norm until the next check."""

    def __init__(self, device: torch.device, tokens: int, seconds: float) -> None:
        self.loss = torch.zeros((), device=device)
        self.nonfinite = torch.zeros((), dtype=torch.bool, device=device)
        self.grad_norm = torch.zeros((), device=device)
        self.since = (tokens, seconds)  # target tokens and train seconds at the last read

    def update(self, loss: torch.Tensor, grad_norm: torch.Tensor) -> None:
        """Book an update's summed loss and its gradient norm."""
        self.loss += loss
        self.grad_norm = grad_norm
        self.nonfinite |= ~torch.isfinite(loss) | ~torch.isfinite(grad_norm)

    def read(self, tokens: int, seconds: float) -> tuple[float, float]:
        """Loss per target token and target tokens/s since the last read; starts anew."""
        n, elapsed = tokens - self.since[0], seconds - self.since[1]
        loss = float(self.loss.item()) / max(1, n)
        self.loss.zero_()
        self.since = (tokens, seconds)
        return loss, n / max(1e-9, elapsed)


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
        tok = data.tokenizer
        built = build_training(cfg, tok.src_vocab_size, tok.tgt_vocab_size, dist_info)
        self.device, self.precision = built.device, built.precision
        self.model_cfg, self.model, self.net = built.model_config, built.model, built.net
        self.optimizer, self.scheduler = built.optimizer, built.scheduler
        self.variant = self.model.variant
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
        # the test sets' search; validation searches alike with train.eval_beam
        self.decoding = Decoding.from_dict(OmegaConf.to_container(cfg.decode, resolve=True))
        # progress; all of it goes into last.pt
        self.step = 0
        self.epoch = 0
        self.position = 0  # batches of the current epoch already consumed
        # train.early_stopping_metric as a score, higher is better: BLEU, or minus the loss
        check_choice("train.early_stopping_metric", self.tcfg.early_stopping_metric)
        self.metric = self.tcfg.early_stopping_metric
        self.best_score, self.best_step = float("-inf"), 0  # best validation so far (best.pt)
        self.best_bleu = -1.0  # the validation BLEU of best.pt
        self.patience_score, self.bad_evals = float("-inf"), 0  # scheduled validations only
        self.tokens_tgt = self.tokens_src = 0  # this rank's, this process's
        self.trained_tgt_tokens = self.trained_src_tokens = 0  # all ranks, every process
        self.processes = 1  # this one and those before a resume
        self.stops: list[str] = []  # why each process ended (the earlier ones of a resumed run)
        self.machines: list[str] = []  # where each process trained (device_name)
        self.last_eval_step = -1
        self.budget = Budget.from_config(self.tcfg)
        self.clock = TrainClock()  # replaced when fit() begins, from clock_state
        self.clock_state = {"train_seconds": 0.0, "wall_seconds": 0.0}
        self.tb = TensorBoardLogger(self.run_dir / "tb") if dist_info.is_main else None

    # ----------------------------------------------------------------- checkpoints
    @property
    def ckpt_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    COUNTERS = ("best_step", "best_score", "patience_score", "bad_evals", "trained_tgt_tokens",
                "trained_src_tokens", "last_eval_step", "processes", "stops",
                "machines")  # fmt: skip

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
            "decode": self.decoding.as_dict(),
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
        load_optimizer_state(self.optimizer, ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        self.step, self.best_bleu = ckpt["step"], ckpt["best_bleu"]
        self.epoch, self.position = ckpt["sampler"]["epoch"], ckpt["sampler"]["position"]
        saved = ckpt["trainer"]
        for key, value in saved.items():
            if key in self.COUNTERS:
                setattr(self, key, value)
        if "best_score" not in saved:  # a checkpoint from before early_stopping_metric: BLEU
            if self.metric != "bleu":
                raise ConfigError(
                    f"{path}: its run stopped early on validation BLEU; resume it with "
                    "train.early_stopping_metric=bleu"
                )
            self.best_score = self.best_bleu
            self.patience_score = float(saved.get("patience_bleu", self.best_bleu))
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

    def _check_finite(self, meter: Meter) -> None:
        """Stop with one line if any rank saw a NaN/inf loss or gradient norm."""
        if any_rank_tensor(meter.nonfinite, self.dist):
            last = self.ckpt_dir / "last.pt"
            hint = f"resume from {last}" if last.exists() else "start again"
            raise TrainingDiverged(
                f"the training loss or gradient norm became NaN/inf by step {self.step}; "
                f"nothing from this point was saved; lower train.lr or raise "
                f"train.warmup_steps, then {hint}"
            )

    def _groups(self) -> Iterator[list[Batch]]:
        """The rest of this epoch's batches, ``train.accum_steps`` to an update (the epoch's
        last group may be shorter)."""
        accum, n_batches = max(1, self.tcfg.accum_steps), len(self.sampler)
        position, group = self.position, []
        for batch in self._batches():
            group.append(batch)
            if len(group) == min(accum, n_batches - position):
                yield group
                position, group = position + len(group), []

    def _update(self, group: list[Batch], meter: Meter) -> tuple[int, int]:
        """One optimiser update on a group of batches (gradient accumulation: the mean of
        their per-token losses); returns the target and source tokens it trained on."""
        loss_sum, tgt, src = torch.zeros((), device=self.device), 0, 0
        for i, batch in enumerate(group):
            batch = batch.to(self.device, non_blocking=True)
            sync = not self.dist.enabled or i == len(group) - 1  # DDP: all-reduce on the last
            with nullcontext() if sync else self.net.no_sync():
                loss = self._loss(batch)
                (loss / max(1, batch.num_tgt_tokens) / len(group)).backward()
            loss_sum += loss.detach()
            tgt += batch.num_tgt_tokens
            src += int(batch.src_lengths.sum())
        clip = self.tcfg.clip_grad_norm if self.tcfg.clip_grad_norm > 0 else float("inf")
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        meter.update(loss_sum, grad_norm)
        self.step += 1
        self.position += len(group)
        self.tokens_tgt += tgt
        self.tokens_src += src
        return tgt, src

    def _validate_on_schedule(self, stop: str, meter: Meter) -> str:
        """A scheduled validation (the clock paused); returns the stop reason, "patience"
        when early stopping ends the run (a signal's stop stands)."""
        self._check_finite(meter)
        with self.clock.paused():
            early = self.validate()
        self.net.train()
        return "patience" if early and stop != "signal" else stop

    def fit(self) -> dict[str, Any] | None:
        """Train until a budget, early stopping or a signal ends it.

        Returns the results (rank 0, finished run), or None when interrupted.
        """
        t = self.tcfg
        self.clock = TrainClock(**self.clock_state)  # this process counts from here
        self.machines.append(device_name(self.device))
        bar = self._progress_bar()
        meter = Meter(self.device, self.tokens_tgt, self.clock.train_seconds)
        with StopFlag() as flag:
            stop = self._stop_reason(flag)
            while not stop and self.epoch < t.max_epochs:
                self.net.train()
                for group in self._groups():
                    stop = self._stop_reason(flag, *self._update(group, meter))
                    self._advance(bar)
                    if self.step % t.log_every == 0:
                        self._log_train(bar, meter)
                    if t.eval_every and self.step % t.eval_every == 0:
                        stop = self._validate_on_schedule(stop, meter)
                    if stop:
                        break
                if self.position >= len(self.sampler):  # the epoch is complete: roll over
                    self.epoch, self.position = self.epoch + 1, 0
                    if not t.eval_every:
                        stop = self._validate_on_schedule(stop, meter)
                stop = stop or self._stop_reason(flag)
            bar.close()
            self._check_finite(meter)
            stop = stop or "max_epochs"
            self.stops.append(stop)
            if stop == "signal":
                return self._interrupted(flag.signum)
            with self.clock.paused():
                if self.last_eval_step != self.step:
                    self.validate(final=True)
                else:
                    self.save("last.pt")
            barrier(self.dist)
            self.clock.stop()  # results.json: the training loops, not the testing after them
        # test scoring runs with the default signal handlers: Ctrl-C aborts it at once
        return self.finish(stop) if self.dist.is_main else None

    def _interrupted(self, signum: int | None) -> None:
        """Save where a signal stopped the run and say how to continue it."""
        self.save("last.pt")
        if self.dist.is_main:
            print(
                f"interrupted (signal {signum}) at step {self.step}; saved "
                f"{self.ckpt_dir / 'last.pt'}; continue with train.resume=true "
                f"hydra.run.dir={self.run_dir}"
            )

    def _progress_bar(self) -> tqdm:
        """Percent of the budget by the limit nearest its end (:meth:`Budget.used`); a
        resumed run's bar starts where it stopped."""
        bar = tqdm(
            total=100,
            desc="train",
            unit="%",
            bar_format="{desc}{percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]",
            disable=not self.dist.is_main,
        )
        self._advance(bar)
        return bar

    def _advance(self, bar: tqdm) -> None:
        """Move the bar to the share of the budget used (by the limit nearest its end)."""
        if bar.disable:  # not rank 0
            return
        epochs = self.epoch + self.position / max(1, len(self.sampler))
        fraction, name = self.budget.used(
            self.step, epochs, self.trained_tgt_tokens, self.clock.train_seconds
        )
        if bar.desc != f"train ({name})":
            bar.set_description(f"train ({name})", refresh=False)
        bar.update(100.0 * fraction - bar.n)

    def _log_train(self, bar: tqdm, meter: Meter) -> None:
        """Progress bar and TensorBoard: loss, lr, gradient norm and this rank's training
        tokens/s since the last log."""
        self._check_finite(meter)
        loss, tps = meter.read(self.tokens_tgt, self.clock.train_seconds)
        bar.set_postfix(
            step=self.step, loss=f"{loss:.3f}", tok_s=f"{tps:,.0f}", lr=f"{self.scheduler.lr:.2e}"
        )
        if self.tb:
            lr, grad_norm = self.scheduler.lr, float(meter.grad_norm)
            values = {"loss": loss, "lr": lr, "grad_norm": grad_norm}
            self.tb.scalars("train", values | {"tokens_per_s": tps}, self.step)

    # ----------------------------------------------------------------- validation
    def validate(self, final: bool = False) -> bool:
        """Validation loss and BLEU (rank 0), shared with every rank; True = stop early.

        ``final`` marks the extra validation after the budget ran out: it may
        update best.pt but leaves the schedule and the patience count alone, so
        a resumed run continues exactly as one that never stopped.
        """
        self.last_eval_step = self.step
        result = self._validate_main() if self.dist.is_main else None
        release_free_memory()  # decoding's blocks of every size, freed: their pages back
        result = broadcast_object(result, self.dist)
        bleu, loss = result["valid_bleu"], result["valid_loss"]
        score = bleu if self.metric == "bleu" else -loss
        improved = score > self.best_score
        if improved:
            self.best_score, self.best_bleu, self.best_step = score, bleu, self.step
            self.save("best.pt", full=False)
        self._keep_last()
        if not final:
            if score > self.patience_score:
                self.patience_score, self.bad_evals = score, 0
            else:
                self.bad_evals += 1
            self.scheduler.on_eval(bleu if self.metric == "bleu" else loss)
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
            if final:  # after the budget ran out, off the schedule (mid-epoch, say)
                record["final"] = True
            with open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
            tqdm.write(
                f"step {self.step}: valid loss {result['valid_loss']:.3f} "
                f"ppl {result['valid_ppl']:.2f} BLEU {bleu:.2f} chrF {result['valid_chrf']:.2f}"
                f"{'  (best)' if improved else ''}"
            )
        return (not final) and self.tcfg.patience > 0 and self.bad_evals >= self.tcfg.patience

    def _keep_last(self) -> None:
        """``train.keep_last``: this validation's weights as ``step_<N>.pt``; the oldest
        beyond N go."""
        if self.tcfg.keep_last <= 0:
            return
        self.save(f"step_{self.step}.pt", full=False)
        if self.dist.is_main:
            for old in step_checkpoints(self.ckpt_dir)[: -self.tcfg.keep_last]:
                old.unlink(missing_ok=True)

    def _validate_main(self) -> dict[str, Any]:
        loss, ppl = validation_loss(
            self.model, self.data, self.device, self.precision, self.cfg.data.max_tokens
        )
        translator = self._translator()
        text = self.data.text["valid"]
        scores, hyps = evaluate_split(
            translator,
            text,
            self.decoding.replace(beam=self.tcfg.eval_beam),
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
        return Translator(
            self.model,
            self.data.tokenizer,
            self.device,
            precision=self.precision,
            decoding=self.decoding,
        )

    # ----------------------------------------------------------------- the end
    def finish(self, stop_reason: str) -> dict[str, Any]:
        """Score the test sets with the best checkpoint and write results.json (rank 0)."""
        best = self.ckpt_dir / "best.pt"
        if best.exists():
            self.model.load_state_dict(load_checkpoint(best)["model"])
        tests = score_tests(
            self._translator(),
            self.data.text,
            self.run_dir,
            self.decoding,
            edges=self.cfg.data.get("length_edges"),
        )
        results = run_results(self, stop_reason, tests, best)
        write_results(results, self.run_dir / "results.json")
        if self.tb:
            for name, s in tests.items():
                self.tb.scalars(f"test/{name}", {"bleu": s["bleu"], "chrf": s["chrf"]}, self.step)
            self.tb.close()
        return results
