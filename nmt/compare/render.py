"""Render: a :class:`Comparison` -> files in one folder: report.md, results.csv,
variants.csv, significance.csv, averaging.csv, length_ratio_by_length.csv, RUN.md, the
PNG figures and TensorBoard logs (``tb/``). Writes what the analysis holds; computes
nothing new."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from torch.utils.tensorboard import SummaryWriter

from nmt.compare.analyse import Comparison
from nmt.compare.figures import heat_map_figure, length_figures
from nmt.compare.render_csv import (
    write_averaging_csv,
    write_csv,
    write_group_csv,
    write_ratio_csv,
    write_reach_csv,
    write_significance_csv,
)
from nmt.compare.render_hyps import write_hypotheses
from nmt.compare.render_markdown import markdown_tables, report_markdown
from nmt.compare.render_runs import run_markdown, runs_section
from nmt.compare.render_significance import significance_matrix
from nmt.compare.render_tables import bucket_table, columns, csv_columns, group_columns
from nmt.compare.render_trend import write_trend_csv
from nmt.errors import ConfigError
from nmt.runs.run_dir import RunDir

#: what a previous comparison left in --out (removed first, so nothing stale mixes in)
OUTPUTS = (
    "report.md",
    "results.csv",
    "variants.csv",
    "significance.csv",
    "averaging.csv",
    "length_ratio_by_length.csv",
    "trend.csv",
    "hyps",
    "RUN.md",
    "bleu_by_length.png",
    "accuracy_by_length.png",
    "valid_bleu.png",
    "attention_*.png",
)


def check_out(out: Path) -> None:
    """Refuse to write the comparison into a run directory."""
    if RunDir(out).results_path.exists() or RunDir(out).checkpoints.is_dir():
        raise ConfigError(f"--out {out} is a run directory; write the comparison elsewhere")


def clean_outputs(out: Path) -> None:
    """Remove what an earlier comparison wrote into ``out`` (its files, hyps/ and tb/ events
    only)."""
    for pattern in OUTPUTS:
        for path in out.glob(pattern):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    for path in out.glob("tb/events.out.tfevents.*"):
        path.unlink()


def save(fig: Figure, out: Path, stem: str, writer: SummaryWriter, tag: str) -> str:
    """Write ``fig`` to ``<out>/<stem>.png`` and to TensorBoard, then close it."""
    name = f"{stem}.png"
    fig.savefig(out / name, dpi=120)
    writer.add_figure(tag, fig, close=True)
    plt.close(fig)
    return name


def write_figures(c: Comparison, out: Path, writer: SummaryWriter) -> list[str]:
    """The by-length plots, the validation curves and the heat maps; their file names."""
    names = [
        save(fig, out, stem, writer, f"comparison/{stem}") for stem, _, fig in length_figures(c)
    ]
    for maps in c.attention.maps.values():
        names += [save(heat_map_figure(m), out, m.name, writer, m.tag) for m in maps]
    return names


def write_tables(c: Comparison, out: Path) -> None:
    """results.csv, variants.csv, significance.csv, averaging.csv (when averaged) and
    length_ratio_by_length.csv."""
    exact = c.scores.exact is not None
    cols = columns(exact, c.test.extra, decoding=bool(c.mismatches))
    write_csv(c.tables.runs, csv_columns(cols, c.test.extra), out / "results.csv")
    write_group_csv(c.tables.groups, group_columns(exact, c.test.extra), out / "variants.csv")
    write_significance_csv(c, out / "significance.csv")
    if c.averaging.results:
        write_averaging_csv(c.averaging.results, out / "averaging.csv")
    write_ratio_csv(c, out / "length_ratio_by_length.csv")
    if c.trends:
        write_trend_csv(c, out / "trend.csv")
    if c.reach:
        write_reach_csv(c, out / "reach.csv")


def render(
    c: Comparison,
    out: Path,
    *,
    command: str | None = None,
    wall_seconds: float | None = None,
    notes: Sequence[str] = (),
) -> tuple[str, ...]:
    """Write the comparison into ``out`` (what an earlier one left there removed first);
    returns the names of the main files and the figures, in the order to list them."""
    check_out(out)
    out.mkdir(parents=True, exist_ok=True)
    clean_outputs(out)
    writer = SummaryWriter(log_dir=str(out / "tb"))
    try:
        figures = write_figures(c, out, writer)
        write_tables(c, out)
        hyps = write_hypotheses(c, out)
        tables = markdown_tables(c)
        (out / "report.md").write_text(report_markdown(c, tables), encoding="utf-8")
        (out / "RUN.md").write_text(
            run_markdown(c.runs, command, wall_seconds, notes, out), encoding="utf-8"
        )
        b, s = c.test.buckets, c.scores
        writer.add_text("comparison/results", tables["runs"])
        writer.add_text(
            "comparison/bleu_by_length", bucket_table(b.labels, b.counts, s.bleu, s.bleu_ci)
        )
        writer.add_text("comparison/variants", tables["variants"])
        writer.add_text("comparison/significance", significance_matrix(c))
        writer.add_text("comparison/runs", "\n".join(runs_section(c.runs)))
    finally:
        writer.close()
    listed = ("report.md", "results.csv", "variants.csv", "significance.csv", "RUN.md")
    listed += ("averaging.csv",) if c.averaging.results else ()
    listed += ("trend.csv",) if c.trends else ()
    listed += ("reach.csv",) if c.reach else ()
    listed += (hyps,)
    return (*listed, *figures)
