"""Render: report.md's length sections -- each run's output length against the reference
on every test split, as a whole and per source-length bucket, and each variant's reach."""

from __future__ import annotations

from nmt.compare.analyse import Comparison
from nmt.compare.reach import HALF


def output_length_section(c: Comparison) -> list[str]:
    """## Output length: each run's length ratio (and brevity penalty) and n-gram
    precisions on every test split. On long inputs (the joined stress splits) a low ratio
    with precisions that hold means the model stopped before it had translated the whole
    source."""
    splits = c.lengths.splits
    head = "| Run | " + " | ".join(f"`{s}`" for s in splits) + " |"
    rule = "|---|" + "---:|" * len(splits)
    lengths, precisions = [head, rule], [head, rule]
    for label, cells in c.lengths.whole.items():
        ratios = [
            "—" if s.ratio is None or s.brevity_penalty is None
            else f"{s.ratio:.3f} ({s.brevity_penalty:.3f})"
            for s in cells
        ]  # fmt: skip
        grams = [
            "—" if s.precisions is None else "/".join(f"{x:.1f}" for x in s.precisions)
            for s in cells
        ]
        lengths.append(f"| {label} | " + " | ".join(ratios) + " |")
        precisions.append(f"| {label} | " + " | ".join(grams) + " |")
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


def ratio_by_length_section(c: Comparison) -> list[str]:
    """### Output length by source length: per test split, each run's length ratio in every
    source-length bucket and how many training pairs fall in it: a ratio that falls only
    where training pairs are few says the model stops early on lengths it rarely learned
    from, not that its architecture cannot carry a long sentence."""
    if not c.lengths.by_bucket:
        return []
    lines = ["### Output length by source length", ""]
    for name, t in c.lengths.by_bucket.items():
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


def reach_section(c: Comparison) -> list[str]:
    """## Reach: per configuration, the longest inputs each seed still gets right."""
    if not c.reach:
        return []
    metric = c.reach[0].metric
    lines = [
        "",
        "## Reach: the longest inputs each variant still gets right",
        "",
        f"A run's reach is the longest source (words) in the longest length bucket before "
        f"the first bucket whose {metric} falls below {HALF:.0%} of its {metric} on the "
        'shortest bucket; "≥" marks a run that never fell that far (its reach is the end '
        'of the test set, a lower bound); "none", one that scores 0 on the shortest bucket '
        "(half of nothing is no bar to fall below). Over a capacity sweep it reads as reach "
        "against the size of the model: if one fixed vector is the bottleneck, the fixed-vector "
        "variants' reach grows with the vector, the attentive ones' reaches the end at any "
        "size. Per seed, with the bucket where it fell.",
        "",
        f"| Variant | Params | {metric}, shortest bucket | reach per seed (words) | fell at |",
        "|---|---:|---|---|---|",
    ]
    for g in c.reach:
        short = ", ".join(f"{r.short:.1f}" for r in g.runs)
        reach = ", ".join(
            "none" if r.reach is None else f"{'≥' if r.censored else ''}{r.reach}" for r in g.runs
        )
        fell = ", ".join(r.fell_at or "–" for r in g.runs)
        params = f"{g.parameters:,}" if g.parameters else ""
        lines.append(f"| {g.label} | {params} | {short} | {reach} | {fell} |")
    return [*lines, ""]
