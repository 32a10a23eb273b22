"""Score a split: translate, detokenize, sacreBLEU (BLEU, chrF, lowercased BLEU), by length."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from nmt.evaluation.metrics import LENGTH_EDGES, N_BOOTSTRAP, bleu_by_length, corpus_scores
from nmt.translation.decoding import Decoding
from nmt.translation.translator import Translator


def evaluate_split(
    translator: Translator,
    text: Any,
    decoding: Decoding,
    limit: int | None = None,
    progress: bool = False,
    by_length: bool = False,
    n_bootstrap: int = 0,
    edges: Sequence[int] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Translate ``text.src`` (the first ``limit`` lines) with ``decoding`` and score
    against ``text.refs``.

    Returns the scores (with sacreBLEU signatures, and 95% bootstrap intervals of BLEU and
    chrF, overall and per length bucket, when ``n_bootstrap`` > 1) and the hypotheses.
    ``edges``: the length buckets' upper bounds in source words (default LENGTH_EDGES).
    """
    n = len(text.src) if not limit else min(limit, len(text.src))
    src = list(text.src[:n])
    refs = [list(r[:n]) for r in text.refs]
    hyps = translator.translate_text(src, decoding=decoding, progress=progress)
    scores = corpus_scores(hyps, refs, n_bootstrap=n_bootstrap)
    scores["beam"] = decoding.beam
    if by_length:
        scores["bleu_by_length"] = [
            asdict(b) | {"label": b.label}
            for b in bleu_by_length(src, hyps, refs, edges or LENGTH_EDGES, n_bootstrap=n_bootstrap)
        ]
    return scores, hyps


def score_tests(
    translator: Translator,
    texts: dict[str, Any],
    decoding: Decoding,
    edges: Sequence[int] | None = None,
    n_bootstrap: int = N_BOOTSTRAP,
) -> dict[str, tuple[dict[str, Any], list[str]]]:
    """Every split but train/valid: its scores (95% intervals, BLEU by length in buckets cut
    at ``edges``) and its hypotheses."""
    return {
        name: evaluate_split(
            translator,
            text,
            decoding,
            progress=True,
            by_length=True,
            n_bootstrap=n_bootstrap,
            edges=edges,
        )
        for name, text in texts.items()
        if name not in ("train", "valid")
    }
