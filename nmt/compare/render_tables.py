"""Render: the comparison's tables as markdown -- which columns, how each cell is written
(the rows are :mod:`nmt.compare.rows`'); the CSV writers take the same columns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nmt.compare.rows import LOSS_KEYS
from nmt.compare.rundir import RunDecoding
from nmt.compare.stats import format_mean_and_sd
from nmt.evaluation.metrics import with_ci


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


def describe_decoding(d: RunDecoding) -> str:
    """``beam 5, α 0.6, ≤ 1.5·src+10, bf16``."""
    s = d.setting
    return (
        f"beam {s('beam')}, α {s('length_penalty')}, ≤ {s('max_len_a')}·src+"
        f"{s('max_len_b')}, {s('precision')}"
    )


def group_columns(exact: bool, extra_tests: Sequence[str]) -> list[Column]:
    cols = [
        Column("variant", "Variant"),
        Column("seeds", "Seeds"),
        Column("test_bleu", "Test BLEU (95% CI over seeds and sentences)", "meansd_ci"),
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
        text = f"≥ {text}" if row.get("lower_bound") else text  # a budget cut it mid-climb
    elif col.fmt == "range":
        lo, hi = row.get(f"{col.key}_low"), row.get(f"{col.key}_high")
        text = f"{value:.1f}" if lo is None else f"{value:.1f} ({lo:.1f}–{hi:.1f})"
    elif col.fmt == "meansd_ci":
        lo, hi = row.get(f"{col.key}_low"), row.get(f"{col.key}_high")
        text = format_mean_and_sd(value.mean, value.sd)
        if lo is not None:
            text = f"{value.mean:.2f} ({lo:.2f}–{hi:.2f}); sd {value.sd:.2f}"
    elif col.fmt == "meansd":
        text = format_mean_and_sd(value.mean, value.sd)
    elif col.fmt == "meansd0":
        text = format_mean_and_sd(value.mean, value.sd, digits=0, thousands=True)
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
