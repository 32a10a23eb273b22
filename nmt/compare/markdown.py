"""report.md and RUN.md: the comparison in words, with the table and the figures."""

from __future__ import annotations

import datetime as dt
import os
import platform
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from nmt.compare.runs import Run
from nmt.compare.table import bucket_table, format_seconds

if TYPE_CHECKING:
    from nmt.compare.report import Comparison


def corpus_line(run: Run) -> str:
    d = run.data_config
    return f"{d['name']} {d['src']}→{d['tgt']}"


def machine() -> str:
    """CPU model and cores of this machine (and its GPU, when there is one)."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{model}, {os.cpu_count()} cores"
    if torch.cuda.is_available():
        text += f"; GPU: {torch.cuda.get_device_name(0)}"
    return text


def report_markdown(c: Comparison, table: str, attention: dict[str, list[str]]) -> str:
    """report.md: the table, what the numbers are, the figures and the runs' settings."""
    first = c.runs[0]
    lines = [
        f"# Comparison: {corpus_line(first)}, test split `{c.test_name}` ({c.n_test} sentences)",
        "",
        f"{len(c.runs)} runs, compared by `nmt-compare` on "
        f"{dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}.",
        "",
        "## Results",
        "",
        table,
        "",
        "BLEU is sacreBLEU on detokenized, cased output (its signature is in the table); "
        "chrF is sacreBLEU's chrF; BLEU (lc) is lowercased BLEU, given beside it for tables "
        "that quote it. Test scores use the best checkpoint (best validation BLEU) and beam "
        "search with the beam shown. Train tok/s counts target tokens per second of training. "
        "Wall time is the training loop's, validations included (testing and data "
        "preparation excluded).",
    ]
    if c.exact is not None:
        lines += [
            "",
            "Exact match: the share of test sentences whose hypothesis equals the reference "
            "exactly (reported for synthetic corpora, where the answer is unambiguous).",
        ]
    b = c.buckets
    lines += [
        "",
        "## BLEU by source length",
        "",
        "![BLEU by source length](bleu_by_length.png)",
        "",
        f"Source length in words; the buckets are cut at the test set's length quantiles and "
        f"each holds at least {b.min_count} sentences, the same buckets for every run.",
        "",
        bucket_table(b.labels, b.counts, c.bleu),
    ]
    if c.exact_by_length is not None:
        lines += [
            "",
            "## Exact match by source length",
            "",
            "![Exact match by source length](accuracy_by_length.png)",
            "",
            bucket_table(b.labels, b.counts, c.exact_by_length),
        ]
    if "valid_bleu.png" in c.figures:
        lines += ["", "## Validation BLEU", "", "![Validation BLEU](valid_bleu.png)"]
    lines += ["", "## Attention", ""]
    if c.sentences:
        nums = ", ".join(str(i + 1) for i in c.sentences)
        lines.append(
            f"Alignment heat maps of test sentences {nums} (picked at the quartiles of the "
            "10–25-word sentences), translated by each run's best checkpoint with its test "
            "beam: output pieces (rows) against source pieces (columns). For the Transformer "
            "the single map averages the heads of its last cross-attention layer; the "
            "`_heads` grid shows each head, teacher-forced on the model's own output."
        )
        lines.append("")
        for label, names in attention.items():
            links = ", ".join(f"[{n}]({n})" for n in names)
            lines.append(f"- {label}: {links}")
    for label in c.no_attention:
        lines.append(
            f"- {label}: no heat map; its decoder sees the source only through the encoder's "
            "final state (the fixed context vector), so it has no attention to show."
        )
    for label in c.no_checkpoint:
        lines.append(f"- {label}: no heat map; its best checkpoint (checkpoints/best.pt) is gone")
    lines += ["", "## Runs", ""]
    lines += runs_section(c.runs)
    return "\n".join(lines) + "\n"


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
    keys = ("max_epochs", "max_steps", "max_minutes", "lr", "scheduler", "warmup_steps",
            "eval_every", "patience", "test_beam", "seed")  # fmt: skip
    for run in runs:
        t = run.train_config
        r = run.results
        budget = ", ".join(f"{k}={t[k]}" for k in keys if k in t)
        lines += [
            f"- **{run.label}** — `{run.path}`",
            f"  - command: `{run.command}`" if run.overrides else "  - command: (not recorded)",
            f"  - model: `{run.model_config}`",
            f"  - train: {budget}",
            f"  - stopped by {r.get('stop_reason')} after {r.get('steps')} steps "
            f"({r.get('epochs')} epochs), best step {r.get('best_step')}; "
            f"{r.get('device')}, {r.get('precision')}, torch {r.get('torch')}, "
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
        f"- machine: {machine()}",
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
            f"- `{run.path}`: `{run.command}` on {run.results.get('device')} "
            f"({format_seconds(run.results.get('wall_seconds'))})"
        )
    return "\n".join(lines) + "\n"
