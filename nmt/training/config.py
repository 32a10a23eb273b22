"""Structured configs: every key the trainer reads, with its type and default.

The dataclasses are registered in Hydra's ConfigStore, so a typo such as
``train.max_step=10`` fails at start-up naming the key, and a wrong type
(``train.lr=fast``) names the key and the value. The YAML files in
``nmt/configs/`` only set values; they document each key in a comment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from nmt.data.config import DataConfig
from nmt.errors import ConfigError
from nmt.translation.decoding import Decoding


@dataclass
class TrainConfig:
    """Optimiser, schedule, budget, evaluation and checkpointing."""

    # budget
    max_epochs: int = 30
    max_steps: int = 0  # 0 = no limit; one step = one optimiser update
    max_minutes: float = 0.0  # 0 = no limit; minutes of training (validation excluded)
    max_target_tokens: int = 0  # 0 = no limit; target tokens trained on, all ranks together
    # optimiser (AdamW)
    lr: float = 0.0  # 0 = the variant's default (Transformer 2e-3, pooled 7e-4, RNNs 1e-3)
    betas: list[float] = field(default_factory=lambda: [0.9, 0.98])
    weight_decay: float = 0.0
    # schedule: auto = inverse_sqrt for the Transformer, plateau for RNNs
    scheduler: str = "auto"  # auto | inverse_sqrt | plateau | warmup_plateau | constant
    warmup_steps: int = 200  # inverse_sqrt, warmup_plateau: linear warm-up steps
    plateau_factor: float = 0.5  # (warmup_)plateau: multiply lr by this when valid BLEU stalls
    plateau_patience: int = 1  # (warmup_)plateau: evaluations without improvement before decaying
    min_lr: float = 1e-5
    # loss and update
    label_smoothing: float = 0.1
    clip_grad_norm: float = 1.0  # 0 = no clipping
    accum_steps: int = 1  # batches per optimiser step
    # evaluation and stopping
    eval_every: int = 0  # steps between validations; 0 = once per epoch
    eval_beam: int = 1  # beam size for validation BLEU (1 = greedy; the rest: decode.*)
    eval_max_sentences: int = 0  # 0 = the whole validation set
    patience: int = 10  # early stopping: evaluations without a better early_stopping_metric
    # what decides early stopping, best.pt and the plateau schedules: validation BLEU (higher
    # is better) or validation loss (lower is better; steadier where BLEU is near its noise)
    early_stopping_metric: str = "bleu"  # bleu | loss
    keep_last: int = 0  # keep the weights of the last N validations (step_<N>.pt), for nmt-average
    # logging
    log_every: int = 50  # steps between TensorBoard / progress-bar updates
    num_samples: int = 3  # validation translations logged as text
    # hardware
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: str = "auto"  # auto: bf16 on CUDA and CPUs with native bf16 | fp32 | bf16
    compile: bool = False  # torch.compile the model
    threads: int = 0  # torch CPU threads; 0 = torch's default
    num_workers: int = 0  # batch-building worker processes (0 = in the training process)
    # resume: false, true (the run directory's checkpoints/last.pt), auto (resume if there is a
    # last.pt, leave a finished run alone, else start) or a checkpoint path
    resume: Any = False
    init_from: str = ""  # fine-tune from this checkpoint (its weights, model and tokenizer)
    seed: int = 1
    # how lr (and warm-up) were chosen: set by a preset's recipe file
    # (configs/experiment/recipe/<preset>/<variant>.yaml); "" = the variant's defaults, not tuned
    recipe: str = ""


@dataclass
class NMTConfig:
    """The whole run: ``model`` (a variant's schema), ``data``, ``train`` and ``decode`` (how
    the test sets are translated)."""

    model: Any = MISSING
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    decode: Decoding = field(default_factory=Decoding)
    name: str = ""  # run name used in run-directory names; defaults to the variant


CHOICES = {
    "train.scheduler": ("auto", "inverse_sqrt", "plateau", "warmup_plateau", "constant"),
    "train.precision": ("auto", "fp32", "bf16"),
    "train.early_stopping_metric": ("bleu", "loss"),
}


def check_choice(key: str, value: str) -> None:
    """Raise a one-line ConfigError when ``value`` is not one of ``key``'s choices."""
    choices = CHOICES[key]
    if value not in choices:
        raise ConfigError(f"{key}={value!r} is not valid; choose one of: {', '.join(choices)}")


def register_configs() -> None:
    """Register the schemas with Hydra's ConfigStore (idempotent)."""
    from nmt.models.registry import register_model_configs

    cs = ConfigStore.instance()
    cs.store(name="nmt_schema", node=NMTConfig)
    cs.store(group="data", name="data_schema", node=DataConfig)
    cs.store(group="train", name="train_schema", node=TrainConfig)
    register_model_configs(cs)
