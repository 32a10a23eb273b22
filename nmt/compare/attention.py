"""Alignment heat maps of the same test sentences for every attentive run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from nmt import BOS_ID, PAD_ID
from nmt.compare.figures import heads_figure
from nmt.compare.runs import Run
from nmt.runs.checkpoint import load_translator
from nmt.translation.decoding import Decoding
from nmt.translation.plots import attention_figure
from nmt.translation.translator import Translation, Translator


@dataclass
class HeatMap:
    """A figure to save as ``<name>.png`` and log under ``tag``."""

    name: str
    tag: str
    figure: Figure


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
    settings = {k: v for k, v in run.decoding.items() if v is not None}
    results = translator.translate(
        sentences, Decoding.from_dict(settings), return_attention=True, warn=False
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
        src_labels = [*tok.src_pieces(sentence)[: translator.max_input_tokens], "</s>"]
        tgt_labels = [*tok.tgt_pieces(out.tokens), "</s>"]
        title = f"{run.label}: test sentence {index + 1}\n→ {out.text}"
        fig = attention_figure(out.attention, src_labels, tgt_labels, _clip(title))
        maps.append(HeatMap(f"attention_{run.name}_{k}", f"attention/{run.name}_{k}", fig))
        heads = _heads(translator, sentence, out.tokens)
        if heads is not None and heads.shape[0] > 1:
            grid = heads_figure(
                heads,
                src_labels,
                tgt_labels,
                _clip(f"{run.label}: last cross-attention layer, test sentence {index + 1}"),
            )
            maps.append(
                HeatMap(f"attention_{run.name}_{k}_heads", f"attention/{run.name}_{k}_heads", grid)
            )
    return maps


def _clip(text: str, width: int = 110) -> str:
    return "\n".join(
        line if len(line) <= width else line[: width - 1] + "…" for line in text.split("\n")
    )
