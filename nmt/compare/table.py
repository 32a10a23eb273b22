"""The comparison table: one row per run, written as CSV and as a markdown table."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nmt.compare.runs import Run, describe_sizes


@dataclass(frozen=True)
class Column:
    key: str  # CSV header
    header: str  # markdown header
    fmt: str = "{}"  # markdown cell format


BASE_COLUMNS = [
    Column("variant", "Variant"),
    Column("settings", "Settings"),
    Column("parameters", "Params", "{:,}"),
    Column("steps", "Steps", "{:,}"),
    Column("wall_seconds", "Wall time"),
    Column("device", "Device"),
    Column("train_tgt_tokens_per_s", "Train tok/s", "{:,.0f}"),
    Column("best_valid_bleu", "Best valid BLEU", "{:.2f}"),
    Column("test_bleu", "Test BLEU", "{:.2f}"),
    Column("test_chrf", "Test chrF", "{:.2f}"),
    Column("test_bleu_lc", "BLEU (lc)", "{:.2f}"),
]
EXACT = Column("exact_match", "Exact match %", "{:.2f}")
TAIL_COLUMNS = [
    Column("test_beam", "Beam"),
    Column("run", "Run", "`{}`"),
    Column("bleu_signature", "sacreBLEU signature", "`{}`"),
]


def columns(exact: bool, extra_tests: Sequence[str]) -> list[Column]:
    """The table's columns: exact match for synthetic corpora, BLEU of each extra test."""
    cols = list(BASE_COLUMNS)
    if exact:
        cols.append(EXACT)
    cols += [Column(f"{name}_bleu", f"{name} BLEU", "{:.2f}") for name in extra_tests]
    return cols + TAIL_COLUMNS


def _device(results: dict[str, Any]) -> str | None:
    """The device, with the process count of a torchrun run (``2 x NVIDIA H100``)."""
    world = int(results.get("world_size") or 1)
    device = results.get("device")
    return f"{world} x {device}" if world > 1 and device else device


def run_row(run: Run, extra_tests: Sequence[str], exact: float | None) -> dict[str, Any]:
    """A run's cells, keyed by column key (numbers stay numbers for the CSV)."""
    r, test = run.results, run.test_scores()
    row: dict[str, Any] = {
        "variant": run.label,
        "settings": describe_sizes(run.model_config),
        "parameters": r.get("parameters"),
        "steps": r.get("steps"),
        "wall_seconds": r.get("wall_seconds"),
        "device": _device(r),
        "train_tgt_tokens_per_s": r.get("train_tgt_tokens_per_s"),
        "best_valid_bleu": r.get("best_valid_bleu"),
        "test_bleu": test.get("bleu"),
        "test_chrf": test.get("chrf"),
        "test_bleu_lc": test.get("bleu_lc"),
        "test_beam": r.get("test_beam", test.get("beam")),
        "run": str(run.path),
        "bleu_signature": test.get("bleu_signature"),
    }
    if exact is not None:
        row["exact_match"] = exact
    for name in extra_tests:
        row[f"{name}_bleu"] = r["test"][name].get("bleu")
    return row


def write_csv(rows: list[dict[str, Any]], cols: list[Column], path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[c.key for c in cols], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


def _cell(col: Column, value: Any) -> str:
    if value is None or value == "":
        return ""
    text = format_seconds(value) if col.key == "wall_seconds" else col.fmt.format(value)
    return text.replace("|", "\\|")


def markdown_table(rows: list[dict[str, Any]], cols: list[Column]) -> str:
    """A GitHub-flavoured markdown table (pipes in cells escaped)."""
    lines = [
        "| " + " | ".join(c.header for c in cols) + " |",
        "|" + "|".join("---" for _ in cols) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(_cell(c, row.get(c.key)) for c in cols) + " |")
    return "\n".join(lines)


def bucket_table(
    labels: Sequence[str], counts: Sequence[int], series: dict[str, list[float]]
) -> str:
    """Scores per length bucket (rows) and run (columns) as markdown."""
    lines = [
        "| source words | sentences | " + " | ".join(series) + " |",
        "|---|---|" + "|".join("---" for _ in series) + "|",
    ]
    for i, (label, n) in enumerate(zip(labels, counts, strict=True)):
        cells = [f"{values[i]:.2f}" for values in series.values()]
        lines.append(f"| {label} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
