"""Render: the comparison's figures -- scores by source length, validation curves, the
attention heat maps (each as a matplotlib figure, from the analysis' data)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from nmt.compare.analyse import Comparison
from nmt.compare.attention import HeatMap
from nmt.compare.lengths import Buckets
from nmt.compare.render_runs import corpus_line
from nmt.translation.plots import attention_figure

MARKERS = "osD^v<>pP*X"


def by_length_figure(
    buckets: Buckets,
    series: dict[str, list[float]],
    ylabel: str,
    title: str,
    subtitle: str,
    ymax: float | None = None,
    errors: dict[str, list[Any]] | None = None,
    groups: dict[str, str] | None = None,
) -> Figure:
    """One line per run over the shared length buckets (Bahdanau et al. 2015, Fig. 2),
    with 95% error bars: ``errors[run]`` holds per bucket the half-width of the interval
    or its (low, high) bounds. Runs of one ``groups[run]`` (seeds of one variant) share
    a colour and differ in line style, each drawn a little apart so no bar hides another.
    The y axis starts at 0 and ends at ``ymax`` (automatic when None)."""
    fig, ax = plt.subplots(figsize=(max(6.5, 0.9 * len(buckets.labels) + 2.5), 4.8))
    x = list(range(len(buckets.labels)))
    groups = groups or {label: label for label in series}
    colours = {g: f"C{i % 10}" for i, g in enumerate(dict.fromkeys(groups.values()))}
    styles = ("-", "--", ":", "-.")
    seen: dict[str, int] = {}
    n = len(series)
    for i, (label, values) in enumerate(series.items()):
        group = groups.get(label, label)
        k = seen[group] = seen.get(group, -1) + 1
        shift = (i - (n - 1) / 2) * min(0.06, 0.5 / max(1, n))
        xs = [v + shift for v in x]
        yerr = _yerr(values, (errors or {}).get(label))
        ax.errorbar(
            xs,
            values,
            yerr=yerr,
            color=colours[group],
            linestyle=styles[k % len(styles)],
            marker=MARKERS[list(colours).index(group) % len(MARKERS)],
            markersize=4,
            linewidth=1.5,
            capsize=2.5,
            elinewidth=0.9,
            label=label,
        )
    ax.set_xticks(x)
    ax.set_xticklabels(
        [f"{lab}\nn={n}" for lab, n in zip(buckets.labels, buckets.counts, strict=True)],
        fontsize=8,
    )
    ax.set_xlabel("source sentence length (words)")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, ymax)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7 if n > 6 else 8)
    fig.suptitle(title, fontsize=11)
    ax.set_title(subtitle, fontsize=8.5, color="0.3")
    fig.tight_layout()
    return fig


def _yerr(values: Sequence[float], errors: Sequence[Any] | None) -> list[list[float]] | None:
    """matplotlib's (2, N) asymmetric error bars from half-widths or (low, high) bounds."""
    if not errors or all(e is None for e in errors):
        return None
    below, above = [], []
    for v, e in zip(values, errors, strict=True):
        if e is None or (isinstance(v, float) and math.isnan(v)):
            below.append(0.0)
            above.append(0.0)
        elif isinstance(e, (tuple, list)):
            below.append(max(0.0, v - e[0]))
            above.append(max(0.0, e[1] - v))
        else:
            below.append(float(e))
            above.append(float(e))
    return [below, above]


def curves_figure(
    curves: dict[str, tuple[list[float], list[float]]],
    xlabel: str = "training time (minutes, validation excluded)",
) -> Figure | None:
    """Validation BLEU against training (minutes, or what ``xlabel`` says), one line per
    run (None without data)."""
    if not any(xs for xs, _ in curves.values()):
        return None
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for i, (label, (xs, ys)) in enumerate(curves.items()):
        if xs:
            ax.plot(xs, ys, marker=MARKERS[i % len(MARKERS)], markersize=3, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("validation BLEU")
    ax.set_title("Validation BLEU during training", fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def heads_figure(
    weights: torch.Tensor,
    src_labels: Sequence[str],
    tgt_labels: Sequence[str],
    title: str,
) -> Figure:
    """A grid of heat maps, one per head: ``weights`` is (heads, T, S)."""
    w = weights.detach().float().cpu().numpy()
    heads, t, s = w.shape
    cols = math.ceil(math.sqrt(heads))
    rows = math.ceil(heads / cols)
    cell_w, cell_h = max(2.5, 0.22 * s + 1.0), max(2.2, 0.22 * t + 0.8)
    fig, axes = plt.subplots(
        rows, cols, figsize=(cols * cell_w, rows * cell_h + 0.6), squeeze=False
    )
    for h in range(rows * cols):
        ax = axes[h // cols][h % cols]
        if h >= heads:
            ax.axis("off")
            continue
        ax.imshow(w[h], cmap="viridis", vmin=0.0, vmax=max(1e-6, float(w[h].max())), aspect="auto")
        ax.set_title(f"head {h + 1}", fontsize=9)
        ax.set_xticks(range(s))
        ax.set_yticks(range(t))
        bottom, left = h // cols == rows - 1 or h + cols >= heads, h % cols == 0
        ax.set_xticklabels(list(src_labels)[:s] if bottom else [], rotation=90, fontsize=6)
        ax.set_yticklabels(list(tgt_labels)[:t] if left else [], fontsize=6)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def length_figures(c: Comparison) -> list[tuple[str, str, Figure]]:
    """(file stem, description, figure) of the by-length plots and the validation curves."""
    corpus = f"{corpus_line(c.runs[0])}, test split {c.test.name} ({c.test.size} sentences)"
    beams = sorted({str(r.decoding.setting("beam")) for r in c.runs})
    b = c.test.buckets
    cut = "source-length quantiles" if b.equal_count else "fixed source lengths"
    sub = (
        f"{corpus}\nbuckets of ≥ {b.min_count} sentences, cut at {cut}; "
        f"beam {'/'.join(beams)}; bars: 95% intervals"
    )
    groups = {r.label: g.label for g in c.groups for r in g.runs}
    s = c.scores
    out = [
        (
            "bleu_by_length",
            "BLEU per source-length bucket (Bahdanau et al. 2015, Fig. 2)",
            by_length_figure(
                b,
                s.bleu,
                "BLEU (sacreBLEU, cased, detokenized)",
                "BLEU by source sentence length",
                sub,
                errors=s.bleu_ci,
                groups=groups,
            ),
        )
    ]
    if s.exact_by_length is not None:
        out.append(
            (
                "accuracy_by_length",
                "exact-match accuracy per source-length bucket",
                by_length_figure(
                    b,
                    s.exact_by_length,
                    "exact match (% of sentences)",
                    "Exact-match accuracy by source sentence length",
                    sub,
                    ymax=100,
                    errors=s.exact_by_length_ci,
                    groups=groups,
                ),
            )
        )
    if c.curves.tokens:
        fig = curves_figure(c.curves.points, "target tokens trained (millions)")
    else:
        fig = curves_figure(c.curves.points)
    if fig is not None:
        what = "target tokens trained" if c.curves.tokens else "training time"
        out.append(("valid_bleu", f"validation BLEU against {what}", fig))
    return out


def heat_map_figure(m: HeatMap) -> Figure:
    """A heat map of the analysis: one map, or the grid of a layer's heads."""
    if m.heads:
        title = f"{m.run}: last cross-attention layer, test sentence {m.sentence}"
        return heads_figure(m.weights, m.src_labels, m.tgt_labels, _clip(title))
    title = f"{m.run}: test sentence {m.sentence}\n→ {m.output}"
    return attention_figure(m.weights, m.src_labels, m.tgt_labels, _clip(title))


def _clip(text: str, width: int = 110) -> str:
    return "\n".join(
        line if len(line) <= width else line[: width - 1] + "…" for line in text.split("\n")
    )
