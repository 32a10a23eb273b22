"""Analyse: alignment heat-map data -- the same test sentences translated by every
attentive variant, with the attention of each output piece over the source pieces."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from nmt import BOS_ID, PAD_ID
from nmt.compare.grouping import Group
from nmt.compare.rundir import Run
from nmt.runs.checkpoint import load_translator
from nmt.translation.translator import Translation, Translator


@dataclass(frozen=True)
class HeatMap:
    """One heat map, to save as ``<name>.png`` and log under ``tag``."""

    name: str
    tag: str
    run: str  # the run's label
    sentence: int  # the test sentence, 1-based
    output: str  # the run's translation of it
    #: (T, S) attention of each output piece over the source pieces; (heads, T, S) for
    #: the per-head grid of the last cross-attention layer
    weights: torch.Tensor
    src_labels: tuple[str, ...]
    tgt_labels: tuple[str, ...]
    heads: bool = False  # a per-head grid


@dataclass(frozen=True)
class Attention:
    """The heat maps of the chosen test sentences, by variant (its first seed)."""

    sentences: tuple[int, ...]  # the test lines, 0-based
    maps: dict[str, tuple[HeatMap, ...]]  # run label -> its maps (runs that have some)
    no_attention: tuple[str, ...]  # runs whose model has no attention over the source
    no_checkpoint: tuple[str, ...]  # runs whose best checkpoint is gone


def pick_sentences(sources: Sequence[str], k: int = 3, lo: int = 10, hi: int = 25) -> list[int]:
    """``k`` test sentences of ``lo``-``hi`` words at evenly spaced length quantiles
    (deterministic; the closest lengths to the range when none is inside it)."""
    lengths = [len(s.split()) for s in sources]
    pool = [i for i, n in enumerate(lengths) if lo <= n <= hi]
    if not pool:
        mid = (lo + hi) / 2
        pool = sorted((i for i, n in enumerate(lengths) if n), key=lambda i: abs(lengths[i] - mid))
        pool = pool[: max(k, 1)]
    pool.sort(key=lambda i: (lengths[i], i))
    if len(pool) <= k:
        return sorted(pool)
    picks = [pool[round((j + 1) * (len(pool) - 1) / (k + 1))] for j in range(k)]
    return sorted(dict.fromkeys(picks))


def _translate(run: Run, translator: Translator, sentences: list[str]) -> list[Translation]:
    results = translator.translate(
        sentences, run.decoding.search, return_attention=True, warn=False
    )
    return [r[0] for r in results]


@torch.no_grad()
def _heads(translator: Translator, sentence: str, tokens: list[int]) -> torch.Tensor | None:
    """Teacher-forced per-head attention on the model's own output: (heads, T, S) or None."""
    ids = translator.encode([sentence])[0][0]
    src = torch.tensor([ids], device=translator.device)
    tgt_in = torch.tensor([[BOS_ID, *tokens]], device=translator.device)
    heads = translator.model.attention_heads(src, src != PAD_ID, tgt_in)
    return None if heads is None else heads[0]


def attention_maps(
    run: Run, sentences: list[str], indices: list[int], device: str = "cpu"
) -> list[HeatMap]:
    """Heat maps of ``sentences`` (test lines ``indices``) translated by the run's best
    checkpoint with its test beam; plus a per-head grid when the model has several heads.
    Empty for a model without attention (seq2seq)."""
    translator = load_translator(run.checkpoint, device=device)
    tok = translator.tokenizer
    maps: list[HeatMap] = []
    for k, (sentence, index, out) in enumerate(
        zip(sentences, indices, _translate(run, translator, sentences), strict=True), start=1
    ):
        if out.attention is None:
            return []
        src_labels = (*tok.src_pieces(sentence)[: translator.max_input_tokens], "</s>")
        tgt_labels = (*tok.tgt_pieces(out.tokens), "</s>")
        name = f"{run.name}_{k}"
        common = dict(run=run.label, sentence=index + 1, output=out.text)
        labels = dict(src_labels=src_labels, tgt_labels=tgt_labels)
        maps.append(HeatMap(f"attention_{name}", f"attention/{name}", **common,
                            weights=out.attention, **labels))  # fmt: skip
        heads = _heads(translator, sentence, out.tokens)
        if heads is not None and heads.shape[0] > 1:
            maps.append(HeatMap(f"attention_{name}_heads", f"attention/{name}_heads", **common,
                                weights=heads, **labels, heads=True))  # fmt: skip
    return maps


def heat_maps(
    groups: Sequence[Group],
    sources: Sequence[str],
    n_sentences: int,
    device: str,
    log: Callable[[str], None] = print,
) -> Attention:
    """Heat maps of ``n_sentences`` test sentences (:func:`pick_sentences`) for one run of
    every group: its first seed that still has its best checkpoint (a kept run has none);
    none when ``n_sentences`` is 0."""
    sentences = pick_sentences(sources, k=n_sentences) if n_sentences > 0 else []
    chosen = [sources[i] for i in sentences]
    maps: dict[str, tuple[HeatMap, ...]] = {}
    no_attention, no_checkpoint = [], []
    for group in groups:
        with_weights = [r for r in group.runs if r.checkpoint.is_file()]
        run = with_weights[0] if with_weights else group.runs[0]
        if chosen and not with_weights:
            log(f"{run.checkpoint}: missing; no heat maps for {run.label}")
            no_checkpoint.append(run.label)
            continue
        found = attention_maps(run, chosen, sentences, device) if chosen else []
        if chosen and not found:
            no_attention.append(run.label)
        if found:
            maps[run.label] = tuple(found)
    return Attention(tuple(sentences), maps, tuple(no_attention), tuple(no_checkpoint))
