"""Output length in the report: each run's hypothesis length against the reference on
every test split, as a whole and per source-length bucket, beside how many training pairs
have a source of that length."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

from nmt.evaluation.metrics import brevity_penalty, length_ratio, ngram_precisions

if TYPE_CHECKING:
    from nmt.compare.report import Comparison


def output_length_lines(c: Comparison) -> list[str]:
    """Each run's output length against the reference on every test split: BLEU's length
    ratio and the brevity penalty it costs, then its n-gram precisions. On long inputs (the
    joined stress splits) a low ratio with precisions that hold means the model stopped
    before it had translated the whole source."""
    splits = [c.test_name, *c.extra_tests]
    head = "| Run | " + " | ".join(f"`{s}`" for s in splits) + " |"
    rule = "|---|" + "---:|" * len(splits)
    lengths, precisions = [head, rule], [head, rule]
    for r in c.runs:
        ratio_cells, precision_cells = [], []
        for split in splits:
            scores = r.test_scores("test" if split == c.test_name else split)
            ratio, bp = length_ratio(scores), brevity_penalty(scores)
            ratio_cells.append("—" if ratio is None or bp is None else f"{ratio:.3f} ({bp:.3f})")
            p = ngram_precisions(scores)
            precision_cells.append("—" if p is None else "/".join(f"{x:.1f}" for x in p))
        lengths.append(f"| {r.label} | " + " | ".join(ratio_cells) + " |")
        precisions.append(f"| {r.label} | " + " | ".join(precision_cells) + " |")
    return [
        "## Output length",
        "",
        *lengths,
        "",
        "Hypothesis length / reference length over the whole split, from sacreBLEU, and "
        "in brackets the brevity penalty BLEU multiplies by, exp(1 − 1/ratio) below 1 "
        "(Papineni et al. 2002).",
        "",
        *precisions,
        "",
        "BLEU's modified 1-/2-/3-/4-gram precisions (%) on each split. A split whose BLEU "
        "falls with a ratio far below 1 while these hold was cut short: the model ended "
        "its output before the end of the source, which is a finding about where it "
        "stops, not about how well it translates what it outputs.",
        "",
    ]


def ratio_by_length_lines(c: Comparison) -> list[str]:
    """Per test split, each run's length ratio in every source-length bucket and how many
    training pairs fall in it: a ratio that falls only where training pairs are few says
    the model stops early on lengths it rarely learned from, not that its architecture
    cannot carry a long sentence."""
    if not c.length_ratios:
        return []
    lines = ["### Output length by source length", ""]
    for name, t in c.length_ratios.items():
        runs = list(t.ratios)
        has_train = t.train is not None
        lines += [
            f"`{name}`:",
            "",
            "| source words | sentences |"
            + (" training pairs |" if has_train else "")
            + " "
            + " | ".join(runs)
            + " |",
            "|---|---:|" + ("---:|" if has_train else "") + "---:|" * len(runs),
        ]
        for i, (label, n) in enumerate(zip(t.labels, t.counts, strict=True)):
            cells = ["—" if t.ratios[r][i] is None else f"{t.ratios[r][i]:.2f}" for r in runs]
            train = f" {t.train[i]} |" if t.train is not None else ""
            lines.append(f"| {label} | {n} |{train} " + " | ".join(cells) + " |")
        lines.append("")
    lines += [
        "Hypothesis length / reference length (BLEU's ratio, sacreBLEU's tokens, the closest "
        "reference per sentence) inside each source-length bucket: the test split's buckets "
        "as in *BLEU by source length*, each extra split's as its runs cut it. *training "
        "pairs*: how many pairs of the training split, as read before the length filters, "
        "have a source of that length (the first and last buckets take every shorter and "
        "longer one). A ratio that falls only where the training pairs are few is a model "
        "stopping early on lengths it rarely learned from, not evidence about how much of "
        "a long sentence its architecture can carry.",
        "",
    ]
    return lines


def write_ratio_csv(c: Comparison, path: Path) -> None:
    """length_ratio_by_length.csv: one line per split, bucket and run."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["split", "bucket", "sentences", "training_pairs", "run", "length_ratio"])
        for name, t in c.length_ratios.items():
            for i, (label, n) in enumerate(zip(t.labels, t.counts, strict=True)):
                train = "" if t.train is None else t.train[i]
                for run, ratios in t.ratios.items():
                    w.writerow([name, label, n, train, run, "" if ratios[i] is None else ratios[i]])
