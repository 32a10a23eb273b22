"""Every split as text: read (fetching the corpus when needed), made, or joined."""

from __future__ import annotations

from collections.abc import Callable, Collection

from nmt.data.config import DataConfig, as_data_config
from nmt.data.corpora import ParallelText, join_splits, load_corpus_text, split_roles
from nmt.data.synthetic import generate


def read_text(
    cfg: DataConfig | object,
    log: Callable[[str], None] = print,
    roles: Collection[str] | None = None,
) -> tuple[dict[str, ParallelText], dict[str, int]]:
    """Every split as text (or those of ``roles``: "train", "valid", "test", an extra
    test's name), unfiltered (fetching the corpus if needed), and per split the test pairs
    removed for overlap with training."""
    cfg = as_data_config(cfg)
    if cfg.name != "synthetic":
        texts, removed = load_corpus_text(cfg, log, only=roles)
    else:
        texts = {
            role: generate(cfg.synthetic, split)
            for role, split in split_roles(cfg).items()
            if roles is None or role in roles
        }
        removed = {}
    return join_splits(cfg, texts), removed
