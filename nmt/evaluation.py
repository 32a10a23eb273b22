"""Score a split: translate, detokenize, sacreBLEU (BLEU, chrF, lowercased BLEU), by length."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from nmt.metrics import bleu_by_length, corpus_scores
from nmt.translator import Translator


def evaluate_split(
    translator: Translator,
    text: Any,
    beam: int = 5,
    alpha: float = 0.6,
    max_len_a: float = 1.5,
    max_len_b: int = 10,
    limit: int | None = None,
    progress: bool = False,
    by_length: bool = False,
) -> tuple[dict[str, Any], list[str]]:
    """Translate ``text.src`` (the first ``limit`` lines) and score against ``text.refs``.

    Returns the scores (with sacreBLEU signatures) and the hypotheses.
    """
    n = len(text.src) if not limit else min(limit, len(text.src))
    src = list(text.src[:n])
    refs = [list(r[:n]) for r in text.refs]
    hyps = translator.translate_text(
        src,
        beam=beam,
        alpha=alpha,
        max_len_a=max_len_a,
        max_len_b=max_len_b,
        progress=progress,
    )
    scores = corpus_scores(hyps, refs)
    scores["beam"] = beam
    if by_length:
        scores["bleu_by_length"] = [
            asdict(b) | {"label": b.label} for b in bleu_by_length(src, hyps, refs)
        ]
    return scores, hyps


def write_results(results: dict[str, Any], path: str | Path) -> None:
    """Write JSON atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path)
