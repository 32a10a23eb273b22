"""The training loop shared by every variant: one process, or DDP under torchrun.

``Trainer.fit`` runs epochs of token-budget batches through :class:`TrainStep` (AdamW,
label smoothing, gradient clipping and accumulation), validates (loss and sacreBLEU)
every ``train.eval_every`` updates or every epoch, keeps ``best.pt`` / ``last.pt``
(written atomically), stops early on a stalled validation BLEU (or loss:
``train.early_stopping_metric``), and finally scores the test sets with beam search into
``results.json``. It reads and writes its run directory only through :class:`RunDir`.

Exact resumption: checkpoints are only written at update boundaries, with the
weights, optimiser, scheduler, :class:`Progress`, the RNG states of every rank and the
clock, so N updates plus N resumed updates give the weights of 2N straight. Every
decision that ends training (budget, signal, early stopping, a NaN) is taken by all ranks
together.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any, NoReturn

from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from nmt.data.config import split_name
from nmt.errors import CheckpointError, DataError
from nmt.evaluation.metrics import N_BOOTSTRAP
from nmt.evaluation.scoring import score_tests
from nmt.runs.checkpoint import load_checkpoint
from nmt.runs.records import Validation
from nmt.runs.run_dir import BEST, LAST, RunDir
from nmt.system.allocator import release_free_memory
from nmt.system.device import process_seconds
from nmt.system.distributed import (
    DistInfo,
    all_sum,
    barrier,
    broadcast_object,
    gather_objects,
)
from nmt.training.batches import EpochBatches
from nmt.training.budget import Budget, TrainClock
from nmt.training.build import build_training, device_name, load_optimizer_state
from nmt.training.console import BudgetBar
from nmt.training.progress import Meter, Progress
from nmt.training.results import run_results
from nmt.training.state import Interrupted, StopFlag, check_resumable, rng_state, set_rng_state
from nmt.training.step import StepResult, TrainStep, smoothed_loss
from nmt.training.tensorboard import TensorBoardLogger
from nmt.training.validation import score_validation
from nmt.translation.decoding import Decoding
from nmt.translation.translator import Translator


class Trainer:
    """Train ``cfg.model`` on prepared data; only rank 0 writes into ``run_dir``."""

    def __init__(self, cfg: DictConfig, data: Any, run_dir: Path, dist_info: DistInfo) -> None:
        self.cfg, self.tcfg, self.data, self.dist = cfg, cfg.train, data, dist_info
        self.run = RunDir(run_dir)
        self.run_dir = self.run.path
        for split in ("train", "valid"):
            if not data.encoded.get(split):
                raise DataError(f"the {split} split of {cfg.data.name} is empty; check data.*")
        tok = data.tokenizer
        built = build_training(cfg, tok.src_vocab_size, tok.tgt_vocab_size, dist_info)
        self.device, self.precision = built.device, built.precision
        self.model_cfg, self.model, self.net = built.model_config, built.model, built.net
        self.optimizer, self.scheduler = built.optimizer, built.scheduler
        self.variant = self.model.variant
        self.update = TrainStep(
            self.net, self.model, self.optimizer, self.device, self.precision,
            loss=smoothed_loss(self.tcfg.label_smoothing),
            clip_grad_norm=self.tcfg.clip_grad_norm, scheduler=self.scheduler,
            distributed=dist_info.enabled,
        )  # fmt: skip
        self.batches = EpochBatches(data, cfg, dist_info, self.device)
        # the test sets' search; validation searches alike with train.eval_beam
        self.decoding = Decoding.from_dict(OmegaConf.to_container(cfg.decode, resolve=True))
        self.progress = Progress()  # all of it goes into last.pt
        self.tokens_tgt = self.tokens_src = 0  # this rank's, this process's
        self.budget = Budget.from_config(self.tcfg)
        self.clock = TrainClock()  # replaced when fit() begins, from clock_state
        self.clock_state = {"train_seconds": 0.0, "wall_seconds": 0.0}
        self.tb = TensorBoardLogger(self.run.tensorboard) if dist_info.is_main else None

    # ----------------------------------------------------------------- checkpoints
    def save(self, name: str, full: bool = True) -> None:
        """Write a checkpoint (rank 0). ``full`` adds what resumption needs; with DDP it
        gathers every rank's RNG state, so every rank must call it."""
        rngs = gather_objects(rng_state(self.device), self.dist) if full else None
        if not self.dist.is_main:
            return
        p = self.progress
        payload: dict[str, Any] = {
            "model": self.model.state_dict(),
            "model_config": self.model_cfg,
            "tokenizer": self.data.tokenizer.state_dict(),
            "data": OmegaConf.to_container(self.cfg.data, resolve=True),
            "decode": self.decoding.as_dict(),
            "variant": self.variant,
            "step": p.step,
            "epoch": p.epoch,
            "best_bleu": p.best_bleu,
        }
        if full:
            payload |= {
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "sampler": {"epoch": p.epoch, "position": p.position},
                "rng": rngs,
                "world_size": self.dist.world_size,
                "trainer": p.record(),
                "clock": {
                    "train_seconds": self.clock.train_seconds,
                    "wall_seconds": self.clock.wall_seconds,
                },
                "train_config": OmegaConf.to_container(self.tcfg, resolve=True),
            }
        self.run.save_checkpoint(name, payload)

    def resume_from(self, path: Path) -> None:
        """Continue the run a ``last.pt`` saved (any release's, migrated on load)."""
        ckpt = load_checkpoint(path)
        if "optimizer" not in ckpt:
            raise CheckpointError(f"{path}: holds weights only; resume needs a last.pt")
        check_resumable(
            path, ckpt, self.model_cfg, OmegaConf.to_container(self.cfg.data, resolve=True),
            OmegaConf.to_container(self.tcfg, resolve=True), self.scheduler.kind,
            self.dist.world_size,
        )  # fmt: skip
        self.model.load_state_dict(ckpt["model"])
        load_optimizer_state(self.optimizer, ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        self.progress = Progress.resumed(ckpt)
        self.clock_state = ckpt["clock"]
        set_rng_state(ckpt["rng"][self.dist.rank], self.device)

    # ----------------------------------------------------------------- the loop
    def fit(self) -> dict[str, Any] | None:
        """Train until a budget, early stopping or a signal ends it: batches, update,
        validate on schedule, stop when the budget, patience or a signal says so.

        Returns the results (rank 0, finished run); a signal raises Interrupted once
        last.pt is saved."""
        t, p = self.tcfg, self.progress
        self.clock = TrainClock(**self.clock_state)  # this process counts from here
        p.machines.append(device_name(self.device))
        meter = Meter(self.device, 0, self.clock.train_seconds)
        with self._bar() as bar, StopFlag() as flag:  # the bar closes before any error line
            stop = self._stop_reason(flag)
            while not stop and p.epoch < t.max_epochs:
                self.net.train()
                for group in self.batches.groups(p.epoch, p.position):
                    stop = self._book(self.update(group), meter, flag, bar)
                    if t.eval_every and p.step % t.eval_every == 0:
                        stop = self._validate_on_schedule(stop, meter)
                    if stop:
                        break
                if p.position >= len(self.batches):  # the epoch is complete: roll over
                    p.epoch, p.position = p.epoch + 1, 0
                    if not t.eval_every:
                        stop = self._validate_on_schedule(stop, meter)
                stop = stop or self._stop_reason(flag)
            bar.close()  # the summary lines below it
            meter.check_finite(self.dist, self.progress.step, self.run.last)
            p.stops.append(stop := stop or "max_epochs")
            if stop == "signal":
                self._interrupted(flag.signum)
            self._wrap_up()
        # test scoring runs with the default signal handlers: Ctrl-C aborts it at once
        return self.finish(stop) if self.dist.is_main else None

    def _book(self, result: StepResult, meter: Meter, flag: StopFlag, bar: BudgetBar) -> str:
        """Count an update, move the bar, log on schedule; returns the stop reason."""
        p = self.progress
        if self.tokens_tgt == 0 and self.dist.is_main:  # this process's first update
            started = process_seconds()
            if started is not None:
                print(f"first update {started:.1f} s after the process started")
        p.step, p.position = p.step + 1, p.position + result.batches
        self.tokens_tgt += result.tgt_tokens
        self.tokens_src += result.src_tokens
        meter.update(result.loss, result.grad_norm)
        stop = self._stop_reason(flag, result.tgt_tokens, result.src_tokens)
        bar.advance(p, self.batches.epochs(p), self.clock.train_seconds)
        if p.step % self.tcfg.log_every == 0:
            self._log_train(bar, meter)
        return stop

    def _stop_reason(self, flag: StopFlag, tgt: int = 0, src: int = 0) -> str:
        """Book this update's tokens (all ranks) and say why training must stop now ("" to
        go on): one small all-reduce, so every rank takes the same decision (a rank whose
        clock ran out stops them all)."""
        out_of_time = self.budget.out_of_time(self.clock.train_seconds)
        signalled, out_of_time, tgt, src = all_sum(
            [flag.signum is not None, out_of_time, tgt, src], self.dist
        )
        p = self.progress
        p.trained_tgt_tokens += int(tgt)
        p.trained_src_tokens += int(src)
        if signalled:
            return "signal"
        seconds = float("inf") if out_of_time else 0.0  # the agreed verdict on time
        return self.budget.exhausted(p.step, p.trained_tgt_tokens, seconds)

    def _validate_on_schedule(self, stop: str, meter: Meter) -> str:
        """A scheduled validation (the clock paused); returns the stop reason, "patience"
        when early stopping ends the run (a signal's stop stands)."""
        meter.check_finite(self.dist, self.progress.step, self.run.last)
        with self.clock.paused():
            early = self.validate()
        self.net.train()
        return "patience" if early and stop != "signal" else stop

    def _wrap_up(self) -> None:
        """After the loop: a last validation unless the last update had one (it may update
        best.pt), last.pt, and the clock stopped (all ranks)."""
        with self.clock.paused():
            if self.progress.last_eval_step != self.progress.step:
                self.validate(final=True)
            else:
                self.save(LAST)
        barrier(self.dist)
        self.clock.stop()  # results.json: the training loops, not the testing after them

    def _interrupted(self, signum: int | None) -> NoReturn:
        """Save where a signal stopped the run, say how to continue it, and stop (every rank)."""
        self.save(LAST)
        if self.dist.is_main:
            print(
                f"interrupted (signal {signum}) at step {self.progress.step}; saved "
                f"{self.run.last}; continue with train.resume=true hydra.run.dir={self.run_dir}"
            )
        raise Interrupted(signum or signal.SIGTERM)

    def _bar(self) -> BudgetBar:
        """The progress bar (rank 0), where a resumed run stopped."""
        bar = BudgetBar(self.budget, disable=not self.dist.is_main)
        bar.start_at(self.progress, self.batches.epochs(self.progress), self.clock.train_seconds)
        return bar

    def _log_train(self, bar: BudgetBar, meter: Meter) -> None:
        """Progress bar and TensorBoard: loss, lr, gradient norm and this rank's training
        tokens/s since the last log."""
        meter.check_finite(self.dist, self.progress.step, self.run.last)
        loss, tps = meter.read(self.tokens_tgt, self.clock.train_seconds)
        lr = self.scheduler.lr
        bar.set_postfix(step=self.progress.step, loss=f"{loss:.3f}", tok_s=f"{tps:,.0f}",
                        lr=f"{lr:.2e}")  # fmt: skip
        if self.tb:
            values = {"loss": loss, "lr": lr, "grad_norm": float(meter.grad_norm)}
            self.tb.scalars("train", values | {"tokens_per_s": tps}, self.progress.step)

    # ----------------------------------------------------------------- validation
    def validate(self, final: bool = False) -> bool:
        """Validation loss and BLEU (rank 0), shared with every rank; True = stop early.

        ``final`` marks the extra validation after the budget ran out: it may
        update best.pt but leaves the schedule and the patience count alone, so
        a resumed run continues exactly as one that never stopped.
        """
        p, t = self.progress, self.tcfg
        p.last_eval_step = p.step
        scores = self._score_validation() if self.dist.is_main else None
        release_free_memory()  # decoding's blocks of every size, freed: their pages back
        scores = broadcast_object(scores, self.dist)
        bleu, loss = scores["valid_bleu"], scores["valid_loss"]
        score = bleu if t.early_stopping_metric == "bleu" else -loss
        improved = p.improve(score, bleu)
        if improved:
            self.save(BEST, full=False)
        self._keep_last()
        if not final:
            p.patience(score)
            self.scheduler.on_eval(bleu if t.early_stopping_metric == "bleu" else loss)
        self.save(LAST)
        if self.dist.is_main:
            self._record_validation(scores, final, improved)
        return (not final) and t.patience > 0 and p.bad_evals >= t.patience

    def _score_validation(self) -> dict[str, Any]:
        return score_validation(
            self.model, self.data, self.device, self.precision, self.cfg.data.max_tokens,
            self._translator(), self.decoding.replace(beam=self.tcfg.eval_beam),
            self.tcfg, self.tb, self.progress.step,
        )  # fmt: skip

    def _record_validation(self, scores: dict[str, Any], final: bool, improved: bool) -> None:
        """metrics.jsonl's line and the console's (rank 0)."""
        p, seconds = self.progress, self.clock.train_seconds
        self.run.append_validation(
            Validation(
                step=p.step, epoch=p.epoch, **scores, best_valid_bleu=p.best_bleu,
                lr=self.scheduler.lr, train_tgt_tokens=p.trained_tgt_tokens,
                train_tokens_per_s=round(p.trained_tgt_tokens / max(1e-9, seconds), 1),
                train_seconds=round(seconds, 1), final=final,
            )
        )  # fmt: skip
        name = split_name(self.cfg.data, "valid")
        tqdm.write(
            f"step {p.step}: valid{f' ({name})' if name != 'valid' else ''} "
            f"loss {scores['valid_loss']:.3f} "
            f"ppl {scores['valid_ppl']:.2f} BLEU {scores['valid_bleu']:.2f} "
            f"chrF {scores['valid_chrf']:.2f}{'  (best)' if improved else ''}"
        )

    def _keep_last(self) -> None:
        """``train.keep_last``: this validation's weights as ``step_<N>.pt``; the oldest
        beyond N go."""
        if self.tcfg.keep_last <= 0:
            return
        self.save(self.run.step_checkpoint(self.progress.step).name, full=False)
        if self.dist.is_main:
            for old in self.run.step_checkpoints()[: -self.tcfg.keep_last]:
                old.unlink(missing_ok=True)

    def _translator(self) -> Translator:
        return Translator(
            self.model, self.data.tokenizer, self.device, precision=self.precision,
            decoding=self.decoding,
        )  # fmt: skip

    # ----------------------------------------------------------------- the end
    def finish(self, stop_reason: str) -> dict[str, Any]:
        """Score the test sets with the best checkpoint and write results.json (rank 0)."""
        if self.run.best.exists():
            self.model.load_state_dict(self.run.load_checkpoint(BEST)["model"])
        tests = {}
        for key, (scores, hyps) in score_tests(
            self._translator(), self.data.text, self.decoding,
            edges=self.cfg.data.get("length_edges"), n_bootstrap=N_BOOTSTRAP,
        ).items():  # fmt: skip
            scores["hypotheses"] = self.run.write_hypotheses(key, self.decoding.beam, hyps)
            tests[key] = {"split": split_name(self.cfg.data, key), **scores}
        results = run_results(
            self.cfg, self.model, self.progress, stop_reason, tests,
            model_config=self.model_cfg, device=self.device, budget=self.budget,
            clock=self.clock, dist=self.dist, precision=self.precision, decoding=self.decoding,
            tokenizer=self.data.tokenizer.fingerprint,
            epochs_trained=self.batches.epochs(self.progress), best=self.run.best,
        )  # fmt: skip
        self.run.write_results(results)
        if self.tb:
            for s in tests.values():
                values = {"bleu": s["bleu"], "chrf": s["chrf"]}
                self.tb.scalars(f"test/{s['split']}", values, self.progress.step)
            self.tb.close()
        return results
