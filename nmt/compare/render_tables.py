"""The comparison's tables: one row per run (with 95% intervals, how it stopped and what it
used), one row per variant over seeds (mean ± sd), as CSV and as markdown."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nmt.compare.runs import Group, Run
from nmt.compare.stats import format_mean_sd, mean_sd
from nmt.evaluation.metrics import length_ratio, with_ci
from nmt.models import describe_sizes


@dataclass(frozen=True)
class Column:
    key: str  # CSV header
    header: str  # markdown header
    fmt: str = "{}"  # markdown cell format (a callable's name in FORMATS, or a format string)


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


def _tokens(n: Any) -> str:
    """``1.23M`` / ``456k`` target tokens."""
    if n is None:
        return ""
    n = float(n)
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.0f}k" if n >= 1e3 else f"{n:.0f}"


#: the run table in report.md (the CSV has every key of run_row)
RESULT_COLUMNS = [
    Column("variant", "Variant"),
    Column("parameters", "Params", "{:,}"),
    Column("stop_reason", "Stopped by"),
    Column("steps", "Updates", "{:,}"),
    Column("epochs_trained", "Epochs", "{:.1f}"),
    Column("train_tgt_tokens", "Target tokens", "tokens"),
    Column("train_seconds", "Train time", "seconds"),
    Column("best_valid_bleu", "Valid BLEU (best.pt)", "{:.2f}"),
    Column("test_bleu", "Test BLEU (95% CI)", "ci"),
    Column("test_chrf", "Test chrF (95% CI)", "ci"),
    Column("test_bleu_lc", "BLEU (lc)", "{:.2f}"),
]
EXACT = Column("exact_match", "Exact match % (95% CI)", "range")
DECODE_COLUMN = Column("decoding", "Decoding")
#: the second run table: where and how each run ran
DETAIL_COLUMNS = [
    Column("variant", "Variant"),
    Column("settings", "Settings"),
    Column("device", "Device"),
    Column("precision", "Precision"),
    Column("train_tgt_tokens_per_s", "Train tok/s", "{:,.0f}"),
    Column("wall_seconds", "Wall time", "seconds"),
    Column("processes", "Processes"),
    Column("run", "Run", "`{}`"),
    Column("bleu_signature", "sacreBLEU signature", "`{}`"),
]
#: validation loss at the best validation BLEU, at the last validation, lowest of the run
LOSS_KEYS = ("valid_loss_at_best_bleu", "valid_loss_last", "valid_loss_lowest")
#: every CSV column after the result and extra-test columns
CSV_TAIL = [
    *LOSS_KEYS, "group", "seed", "settings", "device", "precision", "train_tgt_tokens_per_s",
    "wall_seconds", "processes", "test_bleu_ci", "test_bleu_low", "test_bleu_high",
    "test_chrf_ci", "exact_match_low", "exact_match_high", "beam", "length_penalty",
    "max_len_a", "max_len_b", "decode_precision", "run", "bleu_signature",
]  # fmt: skip


def columns(exact: bool, extra_tests: Sequence[str], decoding: bool = False) -> list[Column]:
    """The run table's columns: exact match for synthetic corpora, BLEU of each extra test,
    and the decoding settings when the runs differ in them."""
    cols = list(RESULT_COLUMNS)
    if exact:
        cols.append(EXACT)
    cols += [Column(f"{name}_bleu", f"{name} BLEU", "ci") for name in extra_tests]
    return cols + ([DECODE_COLUMN] if decoding else [])


def csv_columns(cols: list[Column], extra_tests: Sequence[str]) -> list[str]:
    keys = [c.key for c in cols if c.key != "decoding"]
    keys += [f"{name}_bleu_ci" for name in extra_tests]
    keys += ["test_length_ratio", *(f"{name}_length_ratio" for name in extra_tests)]
    return keys + [k for k in CSV_TAIL if k not in keys]


def _device(results: dict[str, Any]) -> str | None:
    """The device, with the process count of a torchrun run (``2 x NVIDIA H100``)."""
    world = int(results.get("world_size") or 1)
    device = results.get("device")
    return f"{world} x {device}" if world > 1 and device else device


def describe_decoding(d: dict[str, Any]) -> str:
    """``beam 5, α 0.6, ≤ 1.5·src+10, bf16``."""
    return (
        f"beam {d.get('beam')}, α {d.get('length_penalty')}, ≤ {d.get('max_len_a')}·src+"
        f"{d.get('max_len_b')}, {d.get('precision')}"
    )


def _bound(scores: dict[str, Any], sign: int) -> float | None:
    """BLEU ± the half-width of its 95% interval (None without one)."""
    if scores.get("bleu_ci") is None:
        return None
    return round(scores["bleu"] + sign * scores["bleu_ci"], 2)


def run_row(
    run: Run,
    extra_tests: Sequence[str],
    exact: tuple[float, float, float] | None = None,
    mismatched: Sequence[str] = (),
) -> dict[str, Any]:
    """A run's cells, keyed by column key (numbers stay numbers for the CSV). ``exact`` is
    (accuracy, low, high) in percent; ``mismatched`` names the decoding settings in which
    the compared runs differ (marked with ≠ in the Decoding cell)."""
    r, test = run.results, run.test_scores()
    d = run.decoding
    steps = r.get("steps")
    row: dict[str, Any] = {
        "variant": run.label,
        "seed": run.seed,
        "settings": describe_sizes(run.model_config),
        "parameters": r.get("parameters"),
        "stop_reason": r.get("stop_reason"),
        "steps": steps,
        "epochs_trained": r.get("epochs_trained", r.get("epochs")),
        "train_tgt_tokens": r.get("train_tgt_tokens"),
        "train_seconds": r.get("train_seconds"),
        "wall_seconds": r.get("wall_seconds"),
        "processes": r.get("processes", 1),
        "device": _device(r),
        "precision": r.get("precision"),
        "train_tgt_tokens_per_s": r.get("train_tgt_tokens_per_s"),
        "best_valid_bleu": r.get("best_valid_bleu"),
        **dict(zip(LOSS_KEYS, run.validation_losses() or (None,) * 3, strict=True)),
        "test_bleu": test.get("bleu"),
        "test_bleu_ci": test.get("bleu_ci"),
        "test_bleu_low": _bound(test, -1),
        "test_bleu_high": _bound(test, +1),
        "test_chrf": test.get("chrf"),
        "test_chrf_ci": test.get("chrf_ci"),
        "test_bleu_lc": test.get("bleu_lc"),
        "test_length_ratio": length_ratio(test),
        "beam": d.get("beam"),
        "length_penalty": d.get("length_penalty"),
        "max_len_a": d.get("max_len_a"),
        "max_len_b": d.get("max_len_b"),
        "decode_precision": d.get("precision"),
        "decoding": describe_decoding(d) + (f" (≠ {', '.join(mismatched)})" if mismatched else ""),
        "run": str(run.path),
        "bleu_signature": test.get("bleu_signature"),
    }
    if exact is not None:
        row["exact_match"], row["exact_match_low"], row["exact_match_high"] = exact
    for name in extra_tests:
        scores = r["test"][name]
        row[f"{name}_bleu"], row[f"{name}_bleu_ci"] = scores.get("bleu"), scores.get("bleu_ci")
        row[f"{name}_length_ratio"] = length_ratio(scores)
    return row


def group_rows(groups: list[Group], rows: dict[str, dict[str, Any]], extra: Sequence[str]):
    """One row per group: mean ± sample sd over its seeds of each score and budget."""
    out = []
    for g in groups:
        members = [rows[r.label] for r in g.runs]

        def col(key: str, members=members) -> list[Any]:
            return [m.get(key) for m in members if m.get(key) is not None]

        row = {
            "variant": g.label,
            "seeds": ", ".join(str(s) for s in g.seeds),
            "n": len(g.runs),
            "stop_reason": ", ".join(sorted({str(m.get("stop_reason")) for m in members})),
        }
        for key in ("test_bleu", "test_chrf", "test_bleu_lc", "exact_match", "steps",
                    "train_tgt_tokens", "train_seconds", "best_valid_bleu",
                    *(f"{name}_bleu" for name in extra)):  # fmt: skip
            values = col(key)
            if values:
                row[key] = values
        out.append(row)
    return out


def group_columns(exact: bool, extra_tests: Sequence[str]) -> list[Column]:
    cols = [
        Column("variant", "Variant"),
        Column("seeds", "Seeds"),
        Column("test_bleu", "Test BLEU", "meansd"),
        Column("test_chrf", "Test chrF", "meansd"),
    ]
    if exact:
        cols.append(Column("exact_match", "Exact match %", "meansd"))
    cols += [Column(f"{name}_bleu", f"{name} BLEU", "meansd") for name in extra_tests]
    return [
        *cols,
        Column("best_valid_bleu", "Valid BLEU (best.pt)", "meansd"),
        Column("steps", "Updates", "meansd0"),
        Column("train_tgt_tokens", "Target tokens", "meansd0"),
        Column("train_seconds", "Train s", "meansd0"),
        Column("stop_reason", "Stopped by"),
    ]


def write_group_csv(rows: list[dict[str, Any]], cols: list[Column], path: Path) -> None:
    """variants.csv: mean and sd of every list-valued cell, the rest as they are."""
    header, out = [], []
    for c in cols:
        header += [f"{c.key}_mean", f"{c.key}_sd"] if c.fmt.startswith("meansd") else [c.key]
    for row in rows:
        line: dict[str, Any] = {}
        for c in cols:
            value = row.get(c.key)
            if c.fmt.startswith("meansd"):
                mean, sd = mean_sd(value or [])
                line[f"{c.key}_mean"] = None if value is None else round(mean, 3)
                line[f"{c.key}_sd"] = None if sd is None else round(sd, 3)
            else:
                line[c.key] = value
        out.append(line)
    write_csv(out, header, path)


def write_csv(rows: list[dict[str, Any]], keys: list[str], path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def _cell(col: Column, row: dict[str, Any]) -> str:
    value = row.get(col.key)
    if value is None or value == "" or value == []:
        return ""
    if col.fmt == "seconds":
        text = format_seconds(value)
    elif col.fmt == "tokens":
        text = _tokens(value)
    elif col.fmt == "ci":
        text = with_ci(value, row.get(f"{col.key}_ci"))
    elif col.fmt == "range":
        lo, hi = row.get(f"{col.key}_low"), row.get(f"{col.key}_high")
        text = f"{value:.1f}" if lo is None else f"{value:.1f} ({lo:.1f}–{hi:.1f})"
    elif col.fmt == "meansd":
        text = format_mean_sd(value)
    elif col.fmt == "meansd0":
        text = format_mean_sd(value, digits=0, thousands=True)
    else:
        text = col.fmt.format(value)
    return text.replace("|", "\\|")


def markdown_table(rows: list[dict[str, Any]], cols: list[Column]) -> str:
    """A GitHub-flavoured markdown table (pipes in cells escaped)."""
    lines = [
        "| " + " | ".join(c.header for c in cols) + " |",
        "|" + "|".join("---" for _ in cols) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(_cell(c, row) for c in cols) + " |")
    return "\n".join(lines)


def bucket_table(
    labels: Sequence[str],
    counts: Sequence[int],
    series: dict[str, list[float]],
    errors: dict[str, list[Any]] | None = None,
) -> str:
    """Scores per length bucket (rows) and run (columns) as markdown; with ``errors``
    (the half-width of each 95% interval, or a (low, high) pair) beside each score."""
    lines = [
        "| source words | sentences | " + " | ".join(series) + " |",
        "|---|---|" + "|".join("---" for _ in series) + "|",
    ]
    for i, (label, n) in enumerate(zip(labels, counts, strict=True)):
        cells = []
        for name, values in series.items():
            err = (errors or {}).get(name, [None] * len(values))[i]
            if isinstance(err, tuple):
                cells.append(f"{values[i]:.1f} ({err[0]:.1f}–{err[1]:.1f})")
            else:
                cells.append(with_ci(values[i], err))
        lines.append(f"| {label} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
