"""Attention heat maps (source pieces on x, target pieces on y) with matplotlib."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure


def attention_figure(
    weights: torch.Tensor,
    src_labels: Sequence[str],
    tgt_labels: Sequence[str],
    title: str = "",
) -> Figure:
    """Heat map of ``weights`` (T, S): row t is the attention when emitting target token t."""
    w = weights.detach().float().cpu().numpy()
    t, s = w.shape
    fig, ax = plt.subplots(figsize=(max(4.0, 0.35 * s + 2), max(3.0, 0.35 * t + 1.5)))
    im = ax.imshow(w, cmap="viridis", vmin=0.0, vmax=max(1e-6, float(w.max())), aspect="auto")
    ax.set_xticks(range(s))
    ax.set_xticklabels(list(src_labels)[:s], rotation=90, fontsize=8)
    ax.set_yticks(range(t))
    ax.set_yticklabels(list(tgt_labels)[:t], fontsize=8)
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
