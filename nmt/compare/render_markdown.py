"""Render: report.md -- the comparison in words, one function per section, with the
tables and the figures. Formats what the analysis (:class:`Comparison`) holds."""

from __future__ import annotations

import datetime as dt

from nmt.compare.analyse import Comparison
from nmt.compare.averaging import Averaging
from nmt.compare.collect import DECODE_NAMES
from nmt.compare.convergence import FALLING, RISING, RISING_LOSS, SLOPE_POINTS
from nmt.compare.render_lengths import (
    output_length_section,
    ratio_by_length_section,
    reach_section,
)
from nmt.compare.render_runs import corpus_line, recipes_section, runs_section
from nmt.compare.render_significance import bleu_by_length_section, significance_section
from nmt.compare.render_tables import (
    DETAIL_COLUMNS,
    bucket_table,
    columns,
    describe_decoding,
    group_columns,
    markdown_table,
)
from nmt.compare.render_trend import trend_section
from nmt.compare.stats import format_p
from nmt.evaluation.metrics import with_ci


def run_rows(c: Comparison) -> list[dict]:
    """The run table's rows with their Decoding cell (the settings, and ≠ with those in
    which the runs differ) and, for a run its budget stopped mid-climb, ``lower_bound``
    (its scores are marked ≥)."""
    mismatched = [DECODE_NAMES[k].split(" (")[0] for k in c.mismatches]
    mark = f" (≠ {', '.join(mismatched)})" if mismatched else ""
    rising = {label for label, _ in c.convergence.rising}
    return [
        {**row, "decoding": describe_decoding(r.decoding) + mark, "lower_bound": r.label in rising}
        for r, row in zip(c.runs, c.tables.runs, strict=True)
    ]


def markdown_tables(c: Comparison) -> dict[str, str]:
    """The run table, the run details and the variant table, as markdown."""
    exact = c.scores.exact is not None
    rows = run_rows(c)
    return {
        "runs": markdown_table(rows, columns(exact, c.test.extra, decoding=bool(c.mismatches))),
        "details": markdown_table(rows, DETAIL_COLUMNS),
        "variants": markdown_table(list(c.tables.groups), group_columns(exact, c.test.extra)),
    }


def header_section(c: Comparison) -> list[str]:
    return [
        f"# Comparison: {corpus_line(c.runs[0])}, test split `{c.test.name}` "
        f"({c.test.size} sentences)",
        "",
        f"{len(c.runs)} runs of {len(c.groups)} variants, compared by `nmt-compare` on "
        f"{dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}.",
        "",
    ]


def mismatch_section(c: Comparison) -> list[str]:
    """The decoding settings in which the runs differ, per run (``--allow-mismatch``)."""
    if not c.mismatches:
        return []
    lines = [
        "## ⚠ Decoded differently",
        "",
        "These runs were compared with `--allow-mismatch`: their test scores were not "
        "decoded alike, so part of each score difference below comes from decoding, not "
        "from the model. Every setting that differs:",
        "",
    ]
    for key, values in c.mismatches.items():
        cells = "; ".join(f"{label}: `{value}`" for label, value in values.items())
        lines.append(f"- {DECODE_NAMES[key]} — {cells}")
    return [*lines, ""]


def variants_section(c: Comparison, table: str) -> list[str]:
    """## Variants over seeds (when some variant has several)."""
    if not c.seeded:
        return []
    seeds = sorted({len(g.runs) for g in c.groups if len(g.runs) > 1})
    counts = " to ".join(map(str, (seeds[0], seeds[-1]) if len(seeds) > 1 else seeds))
    return [
        "## Variants over seeds",
        "",
        table,
        "",
        "Over the seeds of each variant (runs that differ only in `train.seed`): the mean, "
        "and for test BLEU its 95% interval from a hierarchical bootstrap that resamples "
        "the seeds and the test sentences (10,000 resamples unless `--trend-resamples` "
        "says otherwise), so it holds training noise as well as test-set sampling; "
        '"sd" is the sample standard deviation over the seeds, the spread that training '
        f"noise alone gives. With {counts} seeds the seed part of the interval is itself rough. "
        "Every run, with its own sentence-only 95% interval (±), is in the next table.",
        "",
    ]


def stopping_metric(c: Comparison) -> str:
    """What chose the runs' best checkpoints and ended their patience stops, in words."""
    names = {"bleu": "best validation BLEU", "loss": "lowest validation loss"}
    by_metric: dict[str, list[str]] = {}
    for r in c.runs:
        by_metric.setdefault(r.results.get("early_stopping_metric", "bleu"), []).append(r.label)
    if len(by_metric) == 1:
        return names.get(next(iter(by_metric)), "best validation BLEU")
    return "; ".join(f"{names.get(m, m)}: {', '.join(labels)}" for m, labels in by_metric.items())


def convergence_lines(c: Comparison) -> list[str]:
    """A warning naming the runs a budget stopped mid-curve, a note naming the runs
    patience stopped while their validation loss still fell, and a note naming the runs a
    budget stopped on a flat curve before patience decided (:func:`at_cap`'s readings)."""
    lines = []
    if c.convergence.rising:
        names = ", ".join(f"{label} ({gain})" for label, gain in c.convergence.rising)
        lines += [
            "",
            f"**Not converged.** Still improving when their budget ended (the last "
            f"scheduled validation BLEU at least {RISING} above every earlier one, or for "
            f"runs that stop on the loss, the last scheduled validation loss at least "
            f"{RISING_LOSS:.1%} below every earlier one; with its validation BLEU's slope "
            f"over the last {SLOPE_POINTS} validations): {names}. Their scores (marked ≥ in "
            "the table) are what "
            "the variant reached on this budget, a lower bound, not what it can do: a "
            "difference involving them is a finding about the budget until a longer run or "
            "early stopping (`train.patience`) says otherwise.",
        ]
    if c.convergence.falling:
        names = ", ".join(
            f"{label} ({at_best:.3f} → {last:.3f})"
            for label, at_best, last in c.convergence.falling
        )
        lines += [
            "",
            f"**Stopped by patience while the validation loss still fell** (its loss at the "
            f"best validation BLEU → at the last validation, the lowest of the run and at "
            f"least {FALLING:.0%} lower): {names}. "
            "Validation BLEU stopped rising, the likelihood did not: where BLEU is low, its "
            "epoch-to-epoch noise can end such a run early, and its score may be below what "
            "a longer run reaches.",
        ]
    if c.convergence.capped:
        names = ", ".join(f"{label} ({how})" for label, how in c.convergence.capped)
        lines += [
            "",
            f"**Stopped by a budget on a flat curve** (its validation BLEU no longer rising "
            f"by {RISING}, patience not yet exhausted): {names}. Near its plateau, but "
            "early stopping did not decide: its score is a lower bound, probably a close one.",
        ]
    return lines


def results_section(c: Comparison, table: str, details: str) -> list[str]:
    """## Results (## Every run): the run table, how to read it, the convergence notes and
    the run details."""
    lines = [
        "## Results" if not c.seeded else "## Every run",
        "",
        table,
        "",
        "BLEU is sacreBLEU on detokenized, cased output (signatures below); chrF is "
        "sacreBLEU's chrF; BLEU (lc) is lowercased BLEU, given for tables that quote it. "
        "± is the half-width of the 95% confidence interval from sacreBLEU's bootstrap "
        "resampling of the test sentences (1000 resamples): it says how much a score "
        "depends on which sentences are in the test set, not on the training run. Test "
        f"scores use the best checkpoint ({stopping_metric(c)}) and the decoding shown in "
        "the runs' settings below. Stopped by: `patience` = converged (that metric "
        "stopped improving); `max_target_tokens`, `max_steps`, `max_epochs`, "
        "`max_minutes` = that budget ran out; `signal` = interrupted. Updates, epochs, "
        "target tokens (all processes together) and train time (training only: "
        "validation and testing excluded) are what each run used, over every process of "
        "a resumed run.",
        *convergence_lines(c),
    ]
    if c.scores.exact is not None:
        lines += [
            "",
            "Exact match: the share of test sentences whose hypothesis equals the reference "
            "exactly (reported for synthetic corpora, where the answer is unambiguous), "
            "with its 95% Wilson interval.",
        ]
    return [*lines, "", details, ""]


def averaging_table(averaging: Averaging) -> str:
    """The markdown table of the report's averaging section."""
    lines = [
        "| Run | Best checkpoint (update) | Its test BLEU (95% CI) | Averaged updates "
        "| Averaged test BLEU (95% CI) | Δ BLEU | p |",
        "|---|---|---|---|---|---|---|",
    ]
    for a in averaging.results:
        mark = " ✓" if a.paired.significant else ""
        lines.append(
            f"| {a.label} | {a.best_step if a.best_step is not None else ''} "
            f"| {with_ci(*a.best)} | {', '.join(map(str, a.steps))} | {with_ci(*a.averaged)} "
            f"| {a.delta:+.2f}{mark} | {format_p(a.paired.p)} |"
        )
    return "\n".join(lines)


def averaging_section(c: Comparison) -> list[str]:
    """## Checkpoint averaging: each run's best checkpoint against the average of its last
    N, the table and how to read it (nothing when no run was averaged)."""
    avg, n = c.averaging, c.averaging.n
    if not avg.results:
        return []
    return [
        "## Checkpoint averaging",
        "",
        f"Each run's best checkpoint ({stopping_metric(c)}; its `{c.test.name}` scores above) "
        f"against the element-wise mean of the weights of its last {n} validated checkpoints "
        f"(`train.keep_last`, `nmt-average --last {n} RUN`), decoded alike. Δ = averaged − "
        "best; p from the paired bootstrap test (1000 resamples), ✓ at p < 0.05.",
        "",
        averaging_table(avg),
        "",
        f"Averaging is better in {avg.better}, worse in {avg.worse} and not distinguishable "
        f"in {len(avg.results) - avg.better - avg.worse} of {len(avg.results)} runs.",
        "",
    ]


def exact_by_length_section(c: Comparison) -> list[str]:
    """## Exact match by source length (synthetic corpora)."""
    s, b = c.scores, c.test.buckets
    if s.exact_by_length is None:
        return []
    return [
        "",
        "## Exact match by source length",
        "",
        "![Exact match by source length](accuracy_by_length.png)",
        "",
        "With 95% Wilson intervals (low–high).",
        "",
        bucket_table(b.labels, b.counts, s.exact_by_length, s.exact_by_length_ci),
    ]


def validation_section(c: Comparison) -> list[str]:
    """## Validation BLEU (when some run has a validation curve)."""
    if not c.curves.drawn:
        return []
    return ["", "## Validation BLEU", "", "![Validation BLEU](valid_bleu.png)"]


def attention_section(c: Comparison) -> list[str]:
    """## Attention: the heat maps of each variant, and why a variant has none."""
    att = c.attention
    lines = ["", "## Attention", ""]
    if att.sentences:
        nums = ", ".join(str(i + 1) for i in att.sentences)
        lines.append(
            f"Alignment heat maps of test sentences {nums} (picked at the quartiles of the "
            "10–25-word sentences), translated by each variant's best checkpoint (of its "
            "first seed) with its test beam: output pieces (rows) against source pieces "
            "(columns). For the Transformer "
            "the single map averages the heads of its last cross-attention layer; the "
            "`_heads` grid shows each head, teacher-forced on the model's own output."
        )
        lines.append("")
        for label, maps in att.maps.items():
            links = ", ".join(f"[{m.name}.png]({m.name}.png)" for m in maps)
            lines.append(f"- {label}: {links}")
    for label in att.no_attention:
        lines.append(
            f"- {label}: no heat map; its decoder sees the source only as one fixed-size vector "
            "(seq2seq: the encoder's final state; the pooled Transformer: a vector pooled from "
            "the encoder states), so it has no attention over source positions to show."
        )
    for label in att.no_checkpoint:
        lines.append(
            f"- {label}: no heat map; its best checkpoint (checkpoints/best.pt) is gone, "
            "and so is every other seed's of this variant"
        )
    return lines


def report_markdown(c: Comparison, tables: dict[str, str] | None = None) -> str:
    """report.md: the tables with 95% intervals, how each run stopped and what it used,
    the paired tests, the figures with error bars, and the runs' settings (``tables``:
    :func:`markdown_tables`, made when not given)."""
    tables = markdown_tables(c) if tables is None else tables
    lines = [
        *header_section(c),
        *mismatch_section(c),
        *variants_section(c, tables["variants"]),
        *results_section(c, tables["runs"], tables["details"]),
        *recipes_section(c.groups),
        *significance_section(c),
        *trend_section(c),
        *reach_section(c),
        *output_length_section(c),
        *ratio_by_length_section(c),
        *averaging_section(c),
        *bleu_by_length_section(c),
        *exact_by_length_section(c),
        *validation_section(c),
        *attention_section(c),
        "",
        "## Runs",
        "",
        *runs_section(c.runs),
    ]
    return "\n".join(lines) + "\n"
