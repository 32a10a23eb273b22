"""report.md and RUN.md: the comparison in words, with the table and the figures."""

from __future__ import annotations

import csv
import datetime as dt
import os
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from nmt.compare.averaging import averaging_lines
from nmt.compare.output_length import output_length_lines, ratio_by_length_lines
from nmt.compare.runs import DECODE_NAMES, Run
from nmt.compare.stats import Paired, format_p, holds, mean_delta
from nmt.compare.table import bucket_table, describe_decoding, format_seconds
from nmt.evaluation.metrics import LENGTH_EDGES, MIN_BUCKET
from nmt.system.device import cpu_description
from nmt.training.budget import describe_stop

if TYPE_CHECKING:
    from nmt.compare.report import Comparison


def corpus_line(run: Run) -> str:
    d = run.data_config
    return f"{d['name']} {d['src']}→{d['tgt']}"


def machine() -> str:
    """CPU model, its bf16 matrix instructions and cores of this machine (and its GPU, when
    there is one): where the comparison ran; each run names its own (results.json)."""
    text = f"{cpu_description()}, {os.cpu_count()} cores"
    if torch.cuda.is_available():
        text += f"; GPU: {torch.cuda.get_device_name(0)}"
    return text


def where_trained(results: dict) -> str:
    """The device a run trained on, or each process's when a resumed run changed machine
    (``cpu: AMD EPYC (AVX512-BF16) (processes 1-2), cpu: Intel Xeon ... (process 3)``)."""
    machines = results.get("machines") or []
    if len(set(machines)) < 2:
        return str(results.get("device"))
    first = int(results.get("processes") or len(machines)) - len(machines) + 1
    parts: list[list] = []  # [machine, first process, last process]
    for i, m in enumerate(machines, first):
        if parts and parts[-1][0] == m:
            parts[-1][2] = i
        else:
            parts.append([m, i, i])
    return ", ".join(
        f"{m} (process {a})" if a == b else f"{m} (processes {a}-{b})" for m, a, b in parts
    )


def processes_line(results: dict) -> str:
    """How many processes trained a run and what ended each (a run interrupted and resumed:
    ``3 processes, ended by signal, signal, max_target_tokens``)."""
    n = int(results.get("processes") or 1)
    stops = results.get("stops") or []
    if n == 1:
        return "1 process"
    return f"{n} processes" + (f", ended by {', '.join(map(str, stops))}" if stops else "")


def _pair_cell(tests: list[Paired]) -> str:
    """``+3.46 (p<0.001) ✓``: the mean difference over seed pairings, each pairing's p-value,
    and ✓ when the difference holds at 0.05 in every pairing."""
    delta = mean_delta(tests)
    ps = ", ".join(format_p(t.p).removeprefix("p").removeprefix("=") for t in tests)
    held = sum(t.significant for t in tests)
    mark = " ✓" if holds(tests) else f" ({held}/{len(tests)})" if held else ""
    return f"{delta:+.2f} (p {ps}){mark}"


def significance_matrix(
    c: Comparison, tests_by_pair: dict[tuple[str, str], list[Paired]] | None = None
) -> str:
    """The paired tests (default: on the test split) as a matrix: row variant A, column
    variant B, cell = B − A."""
    tests_by_pair = c.significance if tests_by_pair is None else tests_by_pair
    labels = [g.label for g in c.groups]
    if len(labels) < 2:
        return "One variant: no pair to test."
    lines = [
        "| A \\ B | " + " | ".join(labels[1:]) + " |",
        "|---|" + "|".join("---" for _ in labels[1:]) + "|",
    ]
    for i, a in enumerate(labels[:-1]):
        cells = []
        for j, b in enumerate(labels[1:], 1):
            tests = tests_by_pair.get((a, b))
            cells.append(_pair_cell(tests) if j > i and tests else "")
        lines.append(f"| {a} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def bucket_significance_table(c: Comparison) -> str:
    """Per length bucket (columns) and pair of variants (rows): the BLEU difference, with *
    where the paired test holds it at 0.05 in every seed pairing (with one sign)."""
    if not c.bucket_significance:
        return "One variant: no pair to test."
    lines = [
        "| B − A | " + " | ".join(c.buckets.labels) + " |",
        "|---|" + "|".join("---" for _ in c.buckets.labels) + "|",
    ]
    for (a, b), pairings in c.bucket_significance.items():
        cells = []
        for k in range(len(c.buckets.labels)):
            tests = [p[k] for p in pairings]
            delta = mean_delta(tests)
            cells.append(f"{delta:+.1f}{'*' if holds(tests) else ''}")
        lines.append(f"| {b} − {a} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def reading(c: Comparison) -> list[str]:
    """What the tests allow one to say: per pair, the overall verdict and the buckets where
    the difference is real (held by the test in every seed pairing)."""
    out = []
    labels = c.buckets.labels
    unconverged = {g.label for g in c.groups if any(still_improving(r) is not None for r in g.runs)}
    for (a, b), pairings in c.bucket_significance.items():
        overall = c.significance[(a, b)]
        delta = mean_delta(overall)
        held = holds(overall)
        verdict = (
            f"{'better' if delta > 0 else 'worse'} than {a} by {abs(delta):.2f} BLEU, a "
            "difference the paired test holds at p < 0.05"
            if held
            else f"not distinguishable from {a} on the whole test set ({delta:+.2f} BLEU, "
            "within what resampling the test sentences gives)"
        )
        per_bucket = [[p[k] for p in pairings] for k in range(len(labels))]
        deltas = [mean_delta(tests) for tests in per_bucket]
        held_k = [holds(tests) for tests in per_bucket]
        rows = list(zip(labels, deltas, held_k, strict=True))
        better = [f"{lab} ({d:+.1f})" for lab, d, h in rows if h and d > 0]
        worse = [f"{lab} ({d:+.1f})" for lab, d, h in rows if h and d < 0]
        neither = [lab for lab, _, h in rows if not h]
        parts = []
        if better:
            parts.append(f"better in {', '.join(better)}")
        if worse:
            parts.append(f"worse in {', '.join(worse)}")
        if neither:
            parts.append(f"no difference the test holds in {', '.join(neither)}")
        rising = [g for g in (a, b) if g in unconverged]
        caveat = (
            f" Not converged: {' and '.join(rising)} (see above) — a finding about the budget, "
            "not the architecture."
            if rising
            else ""
        )
        out.append(f"- **{b}** is {verdict}; by source length it is {'; '.join(parts)}.{caveat}")
    return out


def mismatch_lines(c: Comparison) -> list[str]:
    """The decoding settings in which the runs differ, per run (``--allow-mismatch``)."""
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


def stopping_metric(c: Comparison) -> str:
    """What chose the runs' best checkpoints and ended their patience stops, in words."""
    names = {"bleu": "best validation BLEU", "loss": "lowest validation loss"}
    by_metric: dict[str, list[str]] = {}
    for r in c.runs:
        by_metric.setdefault(r.results.get("early_stopping_metric", "bleu"), []).append(r.label)
    if len(by_metric) == 1:
        return names.get(next(iter(by_metric)), "best validation BLEU")
    return "; ".join(f"{names.get(m, m)}: {', '.join(labels)}" for m, labels in by_metric.items())


#: a run stopped by a budget is "still improving" when its last validation BLEU is this much
#: above every earlier one (runs that stop on BLEU) ...
RISING = 0.5
#: ... or its last validation loss this share below every earlier one (runs that stop on
#: the loss, whose validation loss is far less noisy than a low BLEU)
RISING_LOSS = 0.001


def still_improving(run: Run) -> str | None:
    """For a run that a budget stopped: how far its last scheduled validation lies beyond
    every earlier one on its ``train.early_stopping_metric``, e.g. "+0.62" (BLEU) or "loss
    -0.28%"; None when it converged, was stopped early, or did not improve by RISING
    (BLEU) or RISING_LOSS (the loss). The extra validation a budget adds between two
    scheduled ones is left out (:attr:`Run.scheduled_metrics`): a few updates into an
    interval, its score is noise around the last point of the curve, not the next one."""
    metrics = run.scheduled_metrics
    if run.results.get("stop_reason") == "patience" or len(metrics) < 2:
        return None
    if run.results.get("early_stopping_metric") == "loss":
        losses = [float(m["valid_loss"]) for m in metrics if "valid_loss" in m]
        if len(losses) < 2:
            return None
        drop = 1 - losses[-1] / min(losses[:-1])
        return f"loss -{drop:.2%}" if drop >= RISING_LOSS else None
    bleus = [float(m.get("valid_bleu", 0.0)) for m in metrics]
    gain = bleus[-1] - max(bleus[:-1])
    return f"+{gain:.2f}" if gain >= RISING else None


#: a run that patience stopped "still fell" when its last validation loss is the lowest of
#: the run and this share below its loss at the best validation BLEU
FALLING = 0.01


def loss_still_falling(run: Run) -> tuple[float, float] | None:
    """For a run that patience stopped: its validation loss at its best validation BLEU and
    at its last validation, when the last is the run's lowest and at least FALLING (1%)
    below the first (None otherwise).

    Such a run stopped because BLEU stopped rising while the model's likelihood still
    improved: on a hard task whose BLEU is close to its noise, patience on BLEU may stop a
    run that was not done."""
    losses = run.validation_losses()
    if run.results.get("stop_reason") != "patience" or losses is None:
        return None
    if run.results.get("early_stopping_metric") == "loss":  # patience already on the loss
        return None
    at_best, last, lowest = losses
    return (at_best, last) if last <= lowest and last <= at_best * (1 - FALLING) else None


def convergence_lines(c: Comparison) -> list[str]:
    """A warning naming the runs a budget stopped mid-curve, and a note naming the runs
    patience stopped while their validation loss still fell."""
    lines = []
    rising = [(r, g) for r in c.runs if (g := still_improving(r)) is not None]
    if rising:
        names = ", ".join(f"{r.label} ({g})" for r, g in rising)
        lines += [
            "",
            f"**Not converged.** Still improving when their budget ended (the last "
            f"scheduled validation BLEU at least {RISING} above every earlier one, or for "
            f"runs that stop on the loss, the last scheduled validation loss at least "
            f"{RISING_LOSS:.1%} below every earlier one): {names}. Their scores are what "
            "the variant reached on this budget, a lower bound, not what it can do: a "
            "difference involving them is a finding about the budget until a longer run or "
            "early stopping (`train.patience`) says otherwise.",
        ]
    falling = [(r, f) for r in c.runs if (f := loss_still_falling(r)) is not None]
    if falling:
        names = ", ".join(
            f"{r.label} ({at_best:.3f} → {last:.3f})" for r, (at_best, last) in falling
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
    return lines


def extra_length_lines(c: Comparison) -> list[str]:
    """BLEU by source length on each extra test split, as every run scored it at the end
    of its training (results.json), when the runs share the buckets."""
    lines: list[str] = []
    for name in c.extra_tests:
        per_run = [r.test_scores(name).get("bleu_by_length") for r in c.runs]
        if not all(per_run):
            continue
        labels = [b["label"] for b in per_run[0]]
        lines += ["", f"### BLEU by source length: `{name}`", ""]
        if any([b["label"] for b in buckets] != labels for buckets in per_run):
            lines.append("The runs cut this split into different buckets; see their results.json.")
            continue
        edges = c.runs[0].data_config.get("length_edges") or LENGTH_EDGES
        lines += [
            f"As each run scored it with its best checkpoint at the end of training "
            f"(`results.json`): buckets cut at {', '.join(map(str, edges))} source words, one "
            f"with fewer than {MIN_BUCKET} sentences joined to the next (the last, to the one "
            "before); ± is the 95% bootstrap "
            "interval.",
            "",
            bucket_table(
                [lab.replace("-", "–") for lab in labels],  # as the test set's table writes them
                [b["n"] for b in per_run[0]],
                {r.label: [b["bleu"] for b in p] for r, p in zip(c.runs, per_run, strict=True)},
                {
                    r.label: [b.get("bleu_ci") for b in p]
                    for r, p in zip(c.runs, per_run, strict=True)
                },
            ),
        ]
    return lines


def report_markdown(c: Comparison, tables: dict[str, str], attention: dict[str, list[str]]) -> str:
    """report.md: the tables with 95% intervals, how each run stopped and what it used,
    the paired tests, the figures with error bars, and the runs' settings."""
    first = c.runs[0]
    lines = [
        f"# Comparison: {corpus_line(first)}, test split `{c.test_name}` ({c.n_test} sentences)",
        "",
        f"{len(c.runs)} runs of {len(c.groups)} variants, compared by `nmt-compare` on "
        f"{dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}.",
        "",
    ]
    if c.mismatches:
        lines += mismatch_lines(c)
    if c.seeded:
        lines += [
            "## Variants over seeds",
            "",
            tables["variants"],
            "",
            "Mean ± sample standard deviation over the seeds of each variant (runs that "
            "differ only in `train.seed`): the spread that training noise alone gives. "
            "Every run, with its own 95% interval, is in the next table.",
            "",
        ]
    lines += [
        "## Results" if not c.seeded else "## Every run",
        "",
        tables["runs"],
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
    if c.exact is not None:
        lines += [
            "",
            "Exact match: the share of test sentences whose hypothesis equals the reference "
            "exactly (reported for synthetic corpora, where the answer is unambiguous), "
            "with its 95% Wilson interval.",
        ]
    lines += ["", tables["details"], ""]
    lines += [
        "## Significance",
        "",
        "Paired bootstrap test (sacreBLEU `--paired-bs`, 1000 resamples, seed 12345) of "
        "test BLEU for every two variants: cell = B − A in BLEU (averaged over seed "
        "pairings), its p-value (one per seed pairing: runs of equal seed), ✓ when the "
        "difference holds at p < 0.05 in every pairing with the same sign, (k/n) when k of "
        "n pairings hold it."
        + (
            f" The p-values are not corrected for the {len(c.significance)} comparisons; "
            f"with a Bonferroni correction a difference holds at p < "
            f"{0.05 / len(c.significance):.4f}."
            if len(c.significance) > 1
            else ""
        ),
        "",
        significance_matrix(c),
        "",
    ]
    for name, tests in c.extra_significance.items():
        lines += [
            f"### On `{name}`",
            "",
            "The same tests on this extra test split (whole split; each run's best "
            "checkpoint as it scored the split at the end of training).",
            "",
            significance_matrix(c, tests),
            "",
        ]
    lines += output_length_lines(c)
    lines += ratio_by_length_lines(c)
    if c.averaging:
        lines += averaging_lines(c.averaging, c.average_last, stopping_metric(c), c.test_name)
    b = c.buckets
    lines += [
        "## BLEU by source length",
        "",
        "![BLEU by source length](bleu_by_length.png)",
        "",
        (
            f"Source length in words; the buckets are cut at the test set's length quantiles "
            f"and each holds at least {b.min_count} sentences"
            if b.equal_count
            else f"Source length in words; the buckets are cut at "
            f"{', '.join(map(str, b.edges))} words ({b.origin}), one with fewer than "
            f"{b.min_count} sentences joined to the next (the last, to the one before)"
        )
        + ", the same buckets for every run. Error bars and ± are 95% bootstrap intervals of "
        "each bucket's BLEU.",
        "",
        bucket_table(b.labels, b.counts, c.bleu, c.bleu_ci),
        "",
        "Differences per bucket (B − A, BLEU); * marks those the paired bootstrap test, run "
        "inside the bucket, holds at p < 0.05 in every seed pairing, with the same sign in "
        "each. An unmarked difference "
        "is within what another sample of test sentences could give: do not read it as a "
        "difference between the variants.",
        "",
        bucket_significance_table(c),
        "",
        "### Reading",
        "",
        *reading(c),
        *extra_length_lines(c),
    ]
    if c.exact_by_length is not None:
        lines += [
            "",
            "## Exact match by source length",
            "",
            "![Exact match by source length](accuracy_by_length.png)",
            "",
            "With 95% Wilson intervals (low–high).",
            "",
            bucket_table(b.labels, b.counts, c.exact_by_length, c.exact_by_length_ci),
        ]
    if "valid_bleu.png" in c.figures:
        lines += ["", "## Validation BLEU", "", "![Validation BLEU](valid_bleu.png)"]
    lines += ["", "## Attention", ""]
    if c.sentences:
        nums = ", ".join(str(i + 1) for i in c.sentences)
        lines.append(
            f"Alignment heat maps of test sentences {nums} (picked at the quartiles of the "
            "10–25-word sentences), translated by each variant's best checkpoint (of its "
            "first seed) with its test beam: output pieces (rows) against source pieces "
            "(columns). For the Transformer "
            "the single map averages the heads of its last cross-attention layer; the "
            "`_heads` grid shows each head, teacher-forced on the model's own output."
        )
        lines.append("")
        for label, names in attention.items():
            links = ", ".join(f"[{n}]({n})" for n in names)
            lines.append(f"- {label}: {links}")
    for label in c.no_attention:
        lines.append(
            f"- {label}: no heat map; its decoder sees the source only as one fixed-size vector "
            "(seq2seq: the encoder's final state; the pooled Transformer: a vector pooled from "
            "the encoder states), so it has no attention over source positions to show."
        )
    for label in c.no_checkpoint:
        lines.append(f"- {label}: no heat map; its best checkpoint (checkpoints/best.pt) is gone")
    lines += ["", "## Runs", ""]
    lines += runs_section(c.runs)
    return "\n".join(lines) + "\n"


def write_significance_csv(c: Comparison, path: Path) -> None:
    """significance.csv: one line per pair of variants, seed pairing, split (the test split
    by bucket, the extra test splits as a whole) and bucket ("all" = the whole split):
    both scores, the difference, the p-value and the verdict."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "pairing", "split", "bucket", "bleu_a", "bleu_b", "delta", "p",
                    "p_lt_0.05"])  # fmt: skip
        for (a, b), overall in c.significance.items():
            for k, t in enumerate(overall, 1):
                buckets = zip(c.buckets.labels, c.bucket_significance[(a, b)][k - 1], strict=True)
                for bucket, p in [("all", t), *buckets]:
                    w.writerow(_significance_row(a, b, k, c.test_name, bucket, p))
        for name, tests in c.extra_significance.items():
            for (a, b), pairings in tests.items():
                for k, p in enumerate(pairings, 1):
                    w.writerow(_significance_row(a, b, k, name, "all", p))


def _significance_row(a: str, b: str, pairing: int, split: str, bucket: str, p: Paired) -> list:
    """One line of significance.csv."""
    return [a, b, pairing, split, bucket, round(p.a, 2), round(p.b, 2), round(p.delta, 2),
            round(p.p, 4), p.significant]  # fmt: skip


def runs_section(runs: list[Run]) -> list[str]:
    d = runs[0].data_config
    tok = d.get("tokenizer", {})
    lines = [
        f"Data: `{d['name']}` {d['src']}→{d['tgt']}, train `{d['train']}`, valid "
        f"`{d['valid']}`, test `{d['test']}`; SentencePiece {tok.get('type')} "
        f"{tok.get('vocab_size')} ({'joint' if tok.get('joint') else 'separate'}); batches of "
        f"{d.get('max_tokens')} tokens.",
    ]
    if d["name"] == "synthetic":
        syn = d.get("synthetic", {})
        lines.append(
            f"Synthetic task: {syn.get('task')}, {syn.get('min_len')}–{syn.get('max_len')} "
            f"symbols from {syn.get('vocab')}, {syn.get('n_train')} training pairs, seed "
            f"{syn.get('seed')}."
        )
    lines.append("")
    keys = ("max_epochs", "max_steps", "max_minutes", "max_target_tokens", "lr", "scheduler",
            "warmup_steps", "eval_every", "patience", "seed")  # fmt: skip
    for run in runs:
        t = run.train_config
        r = run.results
        budget = ", ".join(f"{k}={t[k]}" for k in keys if k in t)
        tokens = r.get("train_tgt_tokens")
        lines += [
            f"- **{run.label}** — `{run.path}`",
            f"  - command: `{run.command}`" if run.overrides else "  - command: (not recorded)",
            f"  - model: `{run.model_config}`",
            f"  - train: {budget}",
            f"  - test decoding: {describe_decoding(run.decoding)}",
            f"  - stopped by {r.get('stop_reason')} ({describe_stop(str(r.get('stop_reason')))}) "
            f"after {r.get('steps')} updates, {r.get('epochs_trained', r.get('epochs'))} epochs"
            + (f", {tokens:,} target tokens" if tokens is not None else "")
            + f", {format_seconds(r.get('train_seconds'))} of training "
            f"({processes_line(r)}); best step {r.get('best_step')}; "
            f"{where_trained(r)}, {r.get('precision')}, torch {r.get('torch')}, "
            f"{r.get('threads')} threads, world size {r.get('world_size')}",
        ]
    return lines


def run_markdown(
    runs: list[Run],
    command: str | None,
    wall_seconds: float | None,
    notes: Sequence[str],
    out: Path,
) -> str:
    """RUN.md: how the results were made (command, machine, date, wall time)."""
    total = sum(float(r.results.get("wall_seconds") or 0) for r in runs)
    compare = ["nmt-compare", *(str(r.path) for r in runs), "--out", str(out)]
    lines = [
        "# How these results were made",
        "",
        f"- command: `{command}`" if command else "- command: (not given; see the runs below)",
        f"- comparison: `{shlex.join(compare)}`",
        f"- machine (this comparison): {machine()}",
        f"- date: {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
    ]
    if wall_seconds is not None:
        lines.append(f"- wall time: {format_seconds(wall_seconds)} (the training sweep)")
    lines.append(
        f"- the runs' training loops (validations included) took {format_seconds(total)} together"
    )
    lines += [f"- note: {n}" for n in notes]
    lines += ["", "Runs:", ""]
    for run in runs:
        lines.append(
            f"- `{run.path}`: `{run.command}` on {where_trained(run.results)} "
            f"({format_seconds(run.results.get('wall_seconds'))})"
        )
    return "\n".join(lines) + "\n"
