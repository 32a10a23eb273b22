"""``nmt-train``: the Hydra app that trains any variant on any corpus.

Examples::

    nmt-train model=luong model.score=dot data=multi30k train.max_epochs=2
    nmt-train -m model=seq2seq,bahdanau,luong,transformer
    torchrun --nproc_per_node=2 -m nmt.cli.train model=bahdanau
"""

from __future__ import annotations

import atexit
import gc
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from nmt.data.prepare import prepare_data
from nmt.data.tokenizer import Tokenizer
from nmt.errors import ConfigError, NMTError
from nmt.evaluation.metrics import format_ci
from nmt.models import parse_model_config
from nmt.runs.lock import RunLock
from nmt.runs.log import tee_output
from nmt.runs.run_dir import RunDir
from nmt.system.allocator import allocator_name, bound_onednn_cache, release_free_memory
from nmt.system.device import resolve_device
from nmt.system.distributed import barrier, broadcast_object, cleanup, init_distributed
from nmt.training.budget import Budget
from nmt.training.config import check_choice, register_configs
from nmt.training.init_from import adopt_checkpoint, unknown_share
from nmt.training.schedule import resolve_defaults
from nmt.training.state import Interrupted
from nmt.training.trainer import Trainer
from nmt.translation.decoding import Decoding

#: the configs ship inside the package (nmt/configs), so every install finds them
CONFIG_DIR = str(Path(__file__).resolve().parents[1] / "configs")


def resolve_resume(resume: Any, run_dir: Path) -> Path | None:
    """Map ``train.resume`` (false / true / auto / a path) to a checkpoint path, or refuse to
    overwrite. ``auto`` (interrupted sweeps): this run directory's last.pt if it has one,
    else a fresh start (a validation log without a checkpoint is moved aside, not lost)."""
    run = RunDir(run_dir)
    last = run.last
    if resume == "auto":
        if last.exists():
            return last
        aside = run.set_aside_metrics()
        if aside:
            print(f"{run_dir}: no checkpoint to resume; starting afresh ({aside.name} kept)")
        return None
    if resume in (False, None, "false", "False", ""):
        if run.holds_run:
            raise ConfigError(
                f"run directory {run_dir} already holds a run; continue it with "
                "train.resume=true, or pick a new hydra.run.dir"
            )
        return None
    if resume in (True, "true", "True"):
        if not last.exists():
            raise ConfigError(
                f"train.resume=true but {last} does not exist; set hydra.run.dir to the run to "
                "continue, or give train.resume=PATH/TO/last.pt"
            )
        return last
    path = Path(str(resume))
    if not path.is_file():
        raise ConfigError(f"train.resume={resume}: no such checkpoint file")
    if run.holds_run and path.resolve() != last.resolve():
        raise ConfigError(
            f"run directory {run_dir} already holds another run; resume {path} into a new "
            "hydra.run.dir, or continue this one with train.resume=true"
        )
    return path


#: train.* keys that must be at least 1 (the others that count things may be 0 = off)
POSITIVE = ("max_epochs", "accum_steps", "eval_beam", "log_every")
NON_NEGATIVE = (
    "max_steps", "max_minutes", "max_target_tokens", "eval_every", "eval_max_sentences", "patience",
    "warmup_steps", "threads", "num_workers", "clip_grad_norm",
)  # fmt: skip


def check_config(cfg: DictConfig) -> None:
    """Fail before any data work on values the schema cannot check (choices, ranges)."""
    parse_model_config(cfg.model)
    Decoding.from_dict(OmegaConf.to_container(cfg.decode, resolve=True))  # checks its ranges
    check_choice("train.scheduler", cfg.train.scheduler)
    check_choice("train.precision", cfg.train.precision)
    check_choice("train.early_stopping_metric", cfg.train.early_stopping_metric)
    for key in POSITIVE:
        if cfg.train[key] < 1:
            raise ConfigError(f"train.{key}={cfg.train[key]} must be at least 1")
    for key in NON_NEGATIVE:
        if cfg.train[key] < 0:
            raise ConfigError(f"train.{key}={cfg.train[key]} must not be negative (0 = off)")
    if not 0.0 <= cfg.train.label_smoothing < 1.0:
        raise ConfigError(f"train.label_smoothing={cfg.train.label_smoothing} must be in [0, 1)")


def check_preset_sizes(choices: Any, config_dirs: Sequence[str | Path] = (CONFIG_DIR,)) -> None:
    """A preset (``experiment=X``) must give every variant its sizes in
    ``experiment/model/X/<variant>.yaml`` of one of the config folders (the shipped ones,
    ``--config-dir``, ``hydra.searchpath``): one missing fails here, naming the file,
    instead of training the variant at its default sizes unnoticed."""
    experiment, model = choices.get("experiment"), choices.get("model")
    if experiment in (None, "null", "None") or model is None:
        return
    relative = Path("experiment") / "model" / str(experiment) / f"{model}.yaml"
    dirs = [Path(d) for d in config_dirs]
    if any((d / relative).is_file() for d in dirs):
        return
    home = next((d for d in dirs if (d / "experiment" / f"{experiment}.yaml").is_file()), dirs[0])
    raise ConfigError(
        f"experiment={experiment} has no sizes for model={model}: {home / relative} is "
        "missing; add it (a file holding {} keeps the variant's default sizes)"
    )


def config_dirs(hydra_cfg: Any) -> list[Path]:
    """The config folders Hydra composed from (the shipped ones, --config-dir,
    hydra.searchpath)."""
    return [Path(s.path) for s in hydra_cfg.runtime.config_sources if s.schema == "file"]


def train(cfg: DictConfig) -> dict[str, Any] | None:
    """Train, validate and test one configuration; returns results.json's content on rank 0."""
    check_preset_sizes(HydraConfig.get().runtime.choices, config_dirs(HydraConfig.get()))
    init = adopt_checkpoint(cfg, list(HydraConfig.get().overrides.task))  # train.init_from
    check_config(cfg)
    resolve_defaults(cfg)  # config.yaml and the checkpoints say which lr and schedule ran
    device_type = resolve_device(cfg.train.device, "train.device")
    dist_info = init_distributed(device_type.split(":")[0])
    lock: RunLock | None = None
    log = None
    with ExitStack() as stack:
        try:
            run_dir = Path(broadcast_object(HydraConfig.get().runtime.output_dir, dist_info))
            lock = RunLock(run_dir) if dist_info.is_main else None  # rank 0 writes and locks
            refused = broadcast_object(lock.acquire() if lock else None, dist_info)
            if refused:
                lock = None
                raise ConfigError(refused)
            if cfg.train.resume == "auto" and RunDir(run_dir).finished:
                return finished_already(run_dir)
            resume = resolve_resume(cfg.train.resume, run_dir)  # before a run's log is touched
            log = stack.enter_context(tee_output(RunDir(run_dir).log_path)) if lock else None
            return _train(cfg, run_dir, dist_info, lock, resume, init)
        except NMTError as e:
            if lock and log:
                log.write(f"error: {e}\n")  # the terminal gets it from nmt-train's handler
            raise
        finally:
            if lock:
                lock.release()
            cleanup(dist_info)
            gc.collect()  # the run's model, optimiser and batches, in reference cycles or not
            release_free_memory()  # a multirun's next job starts without this one's pages


def _train(
    cfg: DictConfig,
    run_dir: Path,
    dist_info: Any,
    lock: RunLock | None,
    resume: Path | None,
    init: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The run itself, in a locked run directory (rank 0) with its output logged; ``init``:
    the checkpoint of ``train.init_from`` (its tokenizer and weights)."""
    if lock and lock.stale_holder:
        print(f"taking over the lock of {run_dir} left by {lock.stale_holder} (not running)")
    if cfg.train.threads > 0:
        torch.set_num_threads(cfg.train.threads)
    torch.manual_seed(cfg.train.seed)
    if dist_info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        if resume is None or not RunDir(run_dir).config_path.exists():
            RunDir(run_dir).write_config(cfg)
    tokenizer = Tokenizer.from_state_dict(init["tokenizer"]) if init else None
    if dist_info.is_main:
        data = prepare_data(cfg.data, tokenizer=tokenizer)
    barrier(dist_info)
    if not dist_info.is_main:
        data = prepare_data(cfg.data, log=lambda *a, **k: None, tokenizer=tokenizer)
    trainer = Trainer(cfg, data, run_dir, dist_info)
    if init is not None and resume is None:
        trainer.model.load_state_dict(init["model"])
        if dist_info.is_main:
            src, tgt = unknown_share(data)
            print(
                f"initialised from {cfg.train.init_from} (step {init.get('step', '?')} of its "
                f"run; its model and tokenizer); unknown pieces in the training data: "
                f"source {src:.2%}, target {tgt:.2%}"
            )
    if resume is not None:
        trainer.resume_from(resume)
        if dist_info.is_main:
            p = trainer.progress
            print(f"resumed from {resume} at step {p.step} (epoch {p.epoch})")
    if dist_info.is_main:
        print(
            f"{trainer.variant}: {trainer.model.num_parameters():,} parameters on "
            f"{trainer.device} ({trainer.precision}, world size {dist_info.world_size}, "
            f"{allocator_name()} malloc)"
        )
    results = trainer.fit()
    if dist_info.is_main and results is not None:
        print_summary(results, run_dir)
    return results


def finished_already(run_dir: Path) -> dict[str, Any]:
    """``train.resume=auto`` on a finished run: its results, untouched."""
    try:
        results = RunDir(run_dir).read_results()
    except ConfigError as e:
        raise ConfigError(f"{e}; move it aside to train the run again") from None
    print(f"{run_dir}: finished already ({results.get('stop_reason')}); left as it is")
    return results


def print_summary(results: dict[str, Any], run_dir: Path) -> None:
    print(
        f"\n{results['variant']}: stopped by {results['stop_reason']} "
        f"({results['stop_detail']}); budget: {Budget(**results['budget']).describe()}\n"
        f"used {results['steps']:,} updates, {results['epochs_trained']:g} epochs, "
        f"{results['train_tgt_tokens']:,} target tokens, {results['train_seconds']:.0f} s of "
        f"training ({results['wall_seconds']:.0f} s with validation"
        f"{', ' + str(results['processes']) + ' processes' if results['processes'] > 1 else ''}"
        f"), {results['train_tgt_tokens_per_s']:,.0f} target tok/s"
    )
    by_loss = results.get("early_stopping_metric") == "loss"
    print(
        f"best valid BLEU {results['best_valid_bleu']:.2f} (step {results['best_step']}"
        f"{', the checkpoint of the lowest validation loss' if by_loss else ''})"
    )
    for name, s in results["test"].items():
        print(
            f"{s.get('split', name)}: BLEU {format_ci(s, 'bleu')}  chrF {format_ci(s, 'chrf')}  "
            f"lowercased BLEU {s['bleu_lc']:.2f}  (beam {s['beam']}; ± = 95% bootstrap interval)"
        )
    if results["test"]:
        print(f"sacreBLEU: {next(iter(results['test'].values()))['bleu_signature']}")
    print(f"run directory: {run_dir}")
    print(f"best checkpoint: {RunDir(run_dir).best}")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def _hydra_main(cfg: DictConfig) -> None:
    try:
        train(cfg)
    except NMTError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except Interrupted as e:  # a signal during training; last.pt is saved
        sys.exit(128 + e.signum)
    except KeyboardInterrupt:
        print("interrupted; the checkpoints written so far are kept", file=sys.stderr)
        sys.exit(130)


def main() -> None:
    bound_onednn_cache()  # before the first matmul
    register_configs()
    rank = int(os.environ.get("RANK", "0"))
    if rank > 0:  # only rank 0 writes into the run directory
        scratch = tempfile.mkdtemp(prefix=f"nmt-rank{rank}-")
        atexit.register(shutil.rmtree, scratch, ignore_errors=True)  # Hydra's log only
        sys.argv += [f"hydra.run.dir={scratch}", "hydra.output_subdir=null"]
    _hydra_main()


if __name__ == "__main__":  # torchrun -m nmt.cli.train
    from nmt.system.allocator import preload_allocator

    preload_allocator()
    main()
