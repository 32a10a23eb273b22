"""A generated copy/reverse task: a sanity check that a model can learn anything."""

from __future__ import annotations

import random
import string

from nmt.data.config import SyntheticConfig
from nmt.data.corpora import ParallelText
from nmt.errors import ConfigError

SPLIT_SIZES = {"train": "n_train", "valid": "n_valid", "test": "n_test"}


def symbols(vocab: int) -> list[str]:
    """The task's words: "a".."z" for up to 26 symbols, else "w0".."w<vocab-1>"."""
    if vocab <= len(string.ascii_lowercase):
        return list(string.ascii_lowercase[:vocab])
    return [f"w{i}" for i in range(vocab)]


def generate(cfg: SyntheticConfig, split: str) -> ParallelText:
    """The ``split`` ("train", "valid" or "test") of the task; deterministic for ``cfg.seed``,
    with a distinct random stream per split."""
    if cfg.task not in ("copy", "reverse"):
        raise ConfigError(f"data.synthetic.task={cfg.task!r}: use copy or reverse")
    if not 1 <= cfg.min_len <= cfg.max_len or cfg.vocab < 2:
        raise ConfigError(
            "data.synthetic needs 1 <= min_len <= max_len and vocab >= 2, got "
            f"min_len={cfg.min_len} max_len={cfg.max_len} vocab={cfg.vocab}"
        )
    if split not in SPLIT_SIZES:
        raise ConfigError(f"synthetic split {split!r}: use train, valid or test")
    words = symbols(cfg.vocab)
    rng = random.Random(f"synthetic:{cfg.seed}:{split}")
    src, tgt = [], []
    for _ in range(getattr(cfg, SPLIT_SIZES[split])):
        seq = [rng.choice(words) for _ in range(rng.randint(cfg.min_len, cfg.max_len))]
        out = seq if cfg.task == "copy" else seq[::-1]
        src.append(" ".join(seq))
        tgt.append(" ".join(out))
    return ParallelText(split, src, tgt)
