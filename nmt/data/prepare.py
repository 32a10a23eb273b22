"""The one entry point of training: fetch, read, check, tokenize and encode every split."""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nmt.data.batch import Batch
from nmt.data.batching import (
    Example,
    TokenBatchSampler,
    batch_lengths,
    collate,
    encode_pairs,
)
from nmt.data.config import DataConfig, as_data_config, data_root
from nmt.data.corpora import ParallelText, split_roles
from nmt.data.store import TokenStore, build_store, store_key
from nmt.data.stream import train_source
from nmt.data.text import read_text
from nmt.data.tokenizer import Tokenizer, load_or_train, load_or_train_stream
from nmt.data.validate import FilterReport, filter_pairs, kept_pairs
from nmt.errors import ConfigError, DataError

Log = Callable[[str], None]
#: a split's encoded pairs: a list in memory, or the prepared train split on disk
Encoded = list[Example] | TokenStore


@dataclass
class PreparedData:
    """Every split as text and as token ids, with the tokenizer trained on train.

    ``encoded`` has "train", "valid", "test" and each extra test's name; the train split
    is the prepared store on disk (:class:`nmt.data.store.TokenStore`), or with
    ``data.prepared=false`` a list in memory. ``text`` has the same keys but "train" only
    with ``data.prepared=false`` (a large corpus is never held as text); where both have
    a split they are index-aligned: ``Batch.ids`` index both.
    """

    config: DataConfig
    tokenizer: Tokenizer
    text: dict[str, ParallelText]
    encoded: dict[str, Encoded]
    reports: dict[str, FilterReport]

    @property
    def eval_splits(self) -> list[str]:
        """Every split but train: "valid", "test", then the extra tests."""
        return [name for name in self.text if name != "train"]

    def make_batches(
        self,
        split: str,
        max_tokens: int | None = None,
        shuffle: bool = False,
        seed: int | None = None,
        num_shards: int = 1,
        shard_id: int = 0,
    ) -> tuple[TokenBatchSampler, Callable[[Sequence[Example]], Batch]]:
        """The split's batch sampler and collate function (defaults: ``data.max_tokens``,
        ``data.seed``). Use as ``collate([encoded[i] for i in indices])`` per sampled
        ``indices``, or ``DataLoader(encoded, batch_sampler=sampler, collate_fn=collate)``.
        """
        examples = self.encoded[split]
        sampler = TokenBatchSampler(
            examples.lengths() if isinstance(examples, TokenStore) else batch_lengths(examples),
            self.config.max_tokens if max_tokens is None else max_tokens,
            shuffle=shuffle,
            seed=self.config.seed if seed is None else seed,
            num_shards=num_shards,
            shard_id=shard_id,
        )
        return sampler, collate


def prepare_data(
    cfg: DataConfig | object, log: Log = print, tokenizer: Tokenizer | None = None
) -> PreparedData:
    """Fetch, read and check the splits, train or load the tokenizer (or use ``tokenizer``:
    a fine-tuned checkpoint's), encode everything.

    Train drops empty pairs, pairs over ``max_chars`` characters and over
    ``max_len`` tokens; valid and test keep every pair (BLEU on the full set),
    their ids cut to ``max_len`` where longer. Each split's report is logged.
    """
    cfg = as_data_config(cfg)
    if cfg.max_tokens < cfg.max_len + 1:
        raise ConfigError(
            f"data.max_tokens={cfg.max_tokens} is below data.max_len + 1 = {cfg.max_len + 1}; "
            "raise max_tokens or lower max_len"
        )
    encoded: dict[str, Encoded] = {}
    if cfg.prepared:
        encoded["train"], tokenizer, train_report = open_train_store(cfg, log, tokenizer)
        eval_roles = [role for role in split_roles(cfg) if role != "train"]
        text, removed = read_text(cfg, log, roles=eval_roles)
    else:
        text, removed = read_text(cfg, log)
        encoded["train"], tokenizer, train_report = encode_train(cfg, text, log, tokenizer)
    reports = {"train": train_report}
    for name, split in text.items():
        if name == "train":
            continue
        report = reports[name] = FilterReport(name)
        report.total, report.removed_overlap = len(split), removed.get(name, 0)
        encoded[name], _ = encode_pairs(
            tokenizer, split.src, split.tgt, cfg.max_len, report, truncate=True
        )
    for report in reports.values():
        log(f"data {report}")
    return PreparedData(cfg, tokenizer, text, encoded, reports)


def encode_train(
    cfg: DataConfig, text: dict[str, ParallelText], log: Log, tokenizer: Tokenizer | None
) -> tuple[list[Example], Tokenizer, FilterReport]:
    """``data.prepared=false``: the train split filtered and encoded in memory (its kept
    text replaces ``text["train"]``)."""
    report = FilterReport("train")
    train = text["train"]
    src, tgt = filter_pairs(train.src, train.tgt, cfg.max_chars, report)
    if not src:
        raise DataError(
            f"the train split of {cfg.name} (data.train={cfg.train}) has no usable pairs "
            f"({report}); check that its files hold parallel text"
        )
    if tokenizer is None:
        tokenizer = load_or_train(
            cfg.tokenizer, data_root(cfg.root), cfg.name, cfg.src, cfg.tgt, src, tgt,
            seed=cfg.seed, log=log,
        )  # fmt: skip
    examples, kept = encode_pairs(tokenizer, src, tgt, cfg.max_len, report, truncate=False)
    text["train"] = ParallelText(train.name, [src[i] for i in kept], [tgt[i] for i in kept])
    return examples, tokenizer, report


def open_train_store(
    cfg: DataConfig, log: Log, tokenizer: Tokenizer | None = None
) -> tuple[TokenStore, Tokenizer, FilterReport]:
    """The train split's prepared store (:mod:`nmt.data.store`), made on first use (with
    the tokenizer, trained on its kept pairs unless ``tokenizer`` is given), its
    tokenizer and its filter report."""
    source = train_source(cfg, log)
    settings = {"corpus": cfg.name, "src": cfg.src, "tgt": cfg.tgt, "train": cfg.train,
                "max_len": cfg.max_len, "max_chars": cfg.max_chars}  # fmt: skip
    spec = (
        {"given": tokenizer.fingerprint}
        if tokenizer is not None
        else {"trained": dataclasses.asdict(cfg.tokenizer), "seed": cfg.seed}
    )
    key = store_key(source, settings, json.dumps(spec, sort_keys=True))
    root = data_root(cfg.root)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(cfg.train).name)
    folder = root / "prepared" / f"{cfg.name}.{cfg.src}-{cfg.tgt}.{name}.{key}"
    if (folder / "meta.json").is_file():
        log(f"data: reusing the prepared train split {folder}")
    else:
        report = FilterReport("train")
        total = sum(1 for _ in kept_pairs(source.open(), cfg.max_chars, report))  # for an ETA
        if total == 0:
            raise DataError(
                f"the train split of {cfg.name} (data.train={cfg.train}) has no usable pairs "
                f"({report}); check that its files hold parallel text"
            )
        if tokenizer is None:
            kept = lambda: kept_pairs(source.open(), cfg.max_chars)  # noqa: E731
            tokenizer = load_or_train_stream(
                cfg.tokenizer,
                root,
                cfg.name,
                cfg.src,
                cfg.tgt,
                kept,
                seed=cfg.seed,
                log=log,
                n_pairs=total,
            )
        meta = {"key": key, "settings": settings, "tokenizer": spec}
        build_store(folder, source, tokenizer, max_len=cfg.max_len, max_chars=cfg.max_chars,
                    meta=meta, log=log, total=total)  # fmt: skip
    store = TokenStore(folder)
    report = FilterReport("train", **store.meta["report"])
    return store, tokenizer or store.tokenizer(), report


def train_source_words(cfg: DataConfig | object, log: Log = print) -> dict[int, int]:
    """Training pairs per source length in words: from the prepared split's record (made
    if missing), or with ``data.prepared=false`` counted on the train text."""
    cfg = as_data_config(cfg)
    if cfg.prepared:
        return open_train_store(cfg, log)[0].source_words()
    text = read_text(cfg, log, roles=("train",))[0]["train"]
    return dict(Counter(len(s.split()) for s in text.src))
