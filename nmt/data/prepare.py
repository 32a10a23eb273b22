"""The one entry point of training: fetch, read, check, tokenize and encode every split."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from nmt.data.batch import Batch
from nmt.data.batching import (
    Example,
    TokenBatchSampler,
    batch_lengths,
    collate,
    encode_pairs,
)
from nmt.data.config import DataConfig, as_data_config, data_root
from nmt.data.corpora import ParallelText, join_splits, load_corpus_text, split_roles
from nmt.data.synthetic import generate
from nmt.data.tokenizer import Tokenizer, load_or_train
from nmt.data.validate import FilterReport, filter_pairs
from nmt.errors import ConfigError, DataError

Log = Callable[[str], None]


@dataclass
class PreparedData:
    """Every split as text and as token ids, with the tokenizer trained on train.

    ``text`` and ``encoded`` share keys ("train", "valid", "test" and each extra
    test's name) and are index-aligned: ``Batch.ids`` index both.
    """

    config: DataConfig
    tokenizer: Tokenizer
    text: dict[str, ParallelText]
    encoded: dict[str, list[Example]]
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
        sampler = TokenBatchSampler(
            batch_lengths(self.encoded[split]),
            self.config.max_tokens if max_tokens is None else max_tokens,
            shuffle=shuffle,
            seed=self.config.seed if seed is None else seed,
            num_shards=num_shards,
            shard_id=shard_id,
        )
        return sampler, collate


def read_text(
    cfg: DataConfig | object, log: Log = print
) -> tuple[dict[str, ParallelText], dict[str, int]]:
    """Every split as text, unfiltered (fetching the corpus if needed), and per split the
    test pairs removed for overlap with training."""
    cfg = as_data_config(cfg)
    if cfg.name != "synthetic":
        texts, removed = load_corpus_text(cfg, log)
    else:
        roles = split_roles(cfg)
        texts, removed = {role: generate(cfg.synthetic, split) for role, split in roles.items()}, {}
    return join_splits(cfg, texts), removed


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
    text, removed = read_text(cfg, log)
    reports = {name: FilterReport(name) for name in text}
    train = text["train"]
    src, tgt = filter_pairs(train.src, train.tgt, cfg.max_chars, reports["train"])
    if not src:
        raise DataError(
            f"the train split of {cfg.name} (data.train={cfg.train}) has no usable pairs "
            f"({reports['train']}); check that its files hold parallel text"
        )
    root = data_root(cfg.root)
    if tokenizer is None:
        tokenizer = load_or_train(
            cfg.tokenizer, root, cfg.name, cfg.src, cfg.tgt, src, tgt, seed=cfg.seed, log=log
        )
    encoded: dict[str, list[Example]] = {}
    encoded["train"], kept = encode_pairs(
        tokenizer, src, tgt, cfg.max_len, reports["train"], truncate=False
    )
    text["train"] = ParallelText(train.name, [src[i] for i in kept], [tgt[i] for i in kept])
    for name, split in text.items():
        if name == "train":
            continue
        report = reports[name]
        report.total, report.removed_overlap = len(split), removed.get(name, 0)
        encoded[name], _ = encode_pairs(
            tokenizer, split.src, split.tgt, cfg.max_len, report, truncate=True
        )
    for report in reports.values():
        log(f"data {report}")
    return PreparedData(cfg, tokenizer, text, encoded, reports)
