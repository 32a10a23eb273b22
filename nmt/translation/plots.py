"""Attention heat maps (source pieces on x, target pieces on y) with matplotlib."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

#: SentencePiece's word-start marker
WORD_START = "\u2581"


def piece_labels(pieces: Sequence[str]) -> list[str]:
    """Pieces as a reader sees them: a word-start piece as its word (``▁Haus`` -> ``Haus``),
    a piece inside a word marked by a leading ``·`` (``▁Stra`` ``ße`` -> ``Stra`` ``·ße``);
    special tokens (``</s>``) as they are."""
    out = []
    for p in pieces:
        if p.startswith("<") and p.endswith(">"):
            out.append(p)
        elif p.startswith(WORD_START):
            out.append(p[1:] or "␣")
        else:
            out.append("·" + p)
    return out


def attention_figure(
    weights: torch.Tensor,
    src_labels: Sequence[str],
    tgt_labels: Sequence[str],
    title: str = "",
) -> Figure:
    """Heat map of ``weights`` (T, S): row t is the attention when emitting target token t.
    The labels are pieces, shown as words with piece boundaries marked (:func:`piece_labels`)."""
    w = weights.detach().float().cpu().numpy()
    t, s = w.shape
    fig, ax = plt.subplots(figsize=(max(4.0, 0.35 * s + 2), max(3.0, 0.35 * t + 1.5)))
    im = ax.imshow(w, cmap="viridis", vmin=0.0, vmax=max(1e-6, float(w.max())), aspect="auto")
    ax.set_xticks(range(s))
    ax.set_xticklabels(piece_labels(list(src_labels)[:s]), rotation=90, fontsize=8)
    ax.set_yticks(range(t))
    ax.set_yticklabels(piece_labels(list(tgt_labels)[:t]), fontsize=8)
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    if title:
        ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, path: str) -> None:
    fig.savefig(path, dpi=120)
    plt.close(fig)
