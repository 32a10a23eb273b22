"""Render: the runs in words -- the report's *Runs* section (data, budget, decoding, how
each run stopped and where it trained) and RUN.md (how the results were made)."""

from __future__ import annotations

import datetime as dt
import os
import shlex
from collections.abc import Sequence
from pathlib import Path

import torch

from nmt.compare.grouping import Group
from nmt.compare.render_tables import describe_decoding, format_seconds
from nmt.compare.rundir import Run
from nmt.system.device import cpu_description
from nmt.training.budget import describe_stop


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


#: schedules with a linear warm-up (train.warmup_steps applies)
WARMUP_SCHEDULES = ("inverse_sqrt", "warmup_plateau")


def recipe_cells(run: Run) -> tuple[str, str, str, str]:
    """A run's learning rate, schedule, warm-up and how they were chosen."""
    t = run.train_config
    scheduler = str(t.get("scheduler"))
    warmup = str(t.get("warmup_steps")) if scheduler in WARMUP_SCHEDULES else "–"
    set_here = [o for o in run.overrides if o.split("=")[0] in ("train.lr", "train.warmup_steps")]
    if set_here:
        how = f"set on the command line (`{' '.join(set_here)}`)"
    elif str(t.get("recipe") or "").startswith("not tuned"):  # a preset's pinned rate
        how = f"**not tuned** on this preset: {str(t['recipe']).removeprefix('not tuned: ')}"
    elif t.get("recipe"):
        how = f"tuned: {t['recipe']}"
    else:
        how = "**not tuned** on this preset: the variant's default"
    return f"{float(t.get('lr') or 0):g}", scheduler, warmup, how


def recipes_section(groups: Sequence[Group]) -> list[str]:
    """## Recipes: each variant's learning rate and schedule and how they were chosen; a
    variant left at its defaults is named, as a gap involving it may be one of settings."""
    lines = [
        "## Recipes",
        "",
        "Each variant's peak learning rate, schedule and warm-up (updates), and how they "
        "were chosen. A recipe tuned on validation (`make tune`) names its grid and budget; "
        "a variant at its defaults was not tuned here, and a gap involving it may be one of "
        "settings rather than of architecture.",
        "",
        "| Variant | lr | schedule | warm-up | chosen |",
        "|---|---|---|---|---|",
    ]
    for g in groups:
        cells = sorted({recipe_cells(r) for r in g.runs})
        for lr, scheduler, warmup, how in cells:
            lines.append(f"| {g.label} | {lr} | {scheduler} | {warmup} | {how} |")
    return [*lines, ""]


def runs_section(runs: Sequence[Run]) -> list[str]:
    """The report's *Runs* section: the data, then per run its command, model, budget,
    test decoding and how it stopped."""
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
            "warmup_steps", "eval_every", "patience", "seed", "recipe")  # fmt: skip
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
    runs: Sequence[Run],
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
