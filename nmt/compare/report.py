"""Compare finished runs: gather scores on common buckets, draw the figures, and write
report.md, results.csv, RUN.md and TensorBoard logs into one folder."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from torch.utils.tensorboard import SummaryWriter

from nmt.compare import lengths as L
from nmt.compare.attention import HeatMap, attention_maps, pick_sentences
from nmt.compare.figures import by_length_figure, curves_figure
from nmt.compare.markdown import corpus_line, report_markdown, run_markdown, runs_section
from nmt.compare.runs import Run, check_same_test, load_run, name_runs
from nmt.compare.table import bucket_table, columns, markdown_table, run_row, write_csv
from nmt.data.config import as_data_config
from nmt.data.prepare import read_text
from nmt.errors import ConfigError

#: what a previous comparison left in --out (removed first, so nothing stale mixes in)
OUTPUTS = (
    "report.md",
    "results.csv",
    "RUN.md",
    "bleu_by_length.png",
    "accuracy_by_length.png",
    "valid_bleu.png",
    "attention_*.png",
)


@dataclass
class Comparison:
    """Everything the report is written from."""

    runs: list[Run]
    test_name: str
    n_test: int
    buckets: L.Buckets
    bleu: dict[str, list[float]]
    exact: dict[str, float] | None
    exact_by_length: dict[str, list[float]] | None
    extra_tests: list[str]
    sentences: list[int]
    figures: dict[str, str] = field(default_factory=dict)  # file name -> what it shows
    no_attention: list[str] = field(default_factory=list)
    no_checkpoint: list[str] = field(default_factory=list)


def check_out(out: Path) -> None:
    """Refuse to write the comparison into a run directory."""
    if (out / "results.json").exists() or (out / "checkpoints").is_dir():
        raise ConfigError(f"--out {out} is a run directory; write the comparison elsewhere")


def clean_outputs(out: Path) -> None:
    """Remove what an earlier comparison wrote into ``out`` (its files and tb/ events only)."""
    for pattern in OUTPUTS:
        for path in out.glob(pattern):
            path.unlink()
    for path in out.glob("tb/events.out.tfevents.*"):
        path.unlink()


def gather(
    runs: list[Run],
    root: str | None,
    min_count: int | None,
    n_sentences: int,
    log: Callable[[str], None],
) -> tuple[Comparison, Any]:
    """Read the shared test set and score every run on the common length buckets."""
    data_cfg = as_data_config(runs[0].data_config)
    if root:
        data_cfg.root = root
    texts, _ = read_text(data_cfg, log=log)
    test = texts["test"]
    lengths = L.source_lengths(test.src)
    buckets = L.common_buckets(lengths, min_count)
    synthetic = data_cfg.name == "synthetic"
    bleu, exact, exact_len = {}, {}, {}
    for run in runs:
        hyps = run.hypotheses()
        if len(hyps) != len(test.src):
            raise ConfigError(
                f"{run.path}: {len(hyps)} test hypotheses but the test set has {len(test.src)} "
                "sentences; the run was tested on different data"
            )
        bleu[run.label] = L.bleu_per_bucket(test.src, hyps, test.refs, buckets)
        if synthetic:
            exact[run.label] = L.exact_match(hyps, test.refs[0])
            exact_len[run.label] = L.exact_match_per_bucket(lengths, hyps, test.refs[0], buckets)
    extra = [n for n in runs[0].results["test"] if n != "test"]
    extra = [n for n in extra if all(n in r.results["test"] for r in runs)]
    comparison = Comparison(
        runs=runs,
        test_name=data_cfg.test,
        n_test=len(test.src),
        buckets=buckets,
        bleu=bleu,
        exact=exact if synthetic else None,
        exact_by_length=exact_len if synthetic else None,
        extra_tests=extra,
        sentences=pick_sentences(test.src, k=n_sentences) if n_sentences > 0 else [],
    )
    return comparison, test


def length_figures(c: Comparison) -> list[tuple[str, str, Figure]]:
    """(file stem, description, figure) of the by-length plots and the validation curves."""
    corpus = f"{corpus_line(c.runs[0])}, test split {c.test_name} ({c.n_test} sentences)"
    beams = sorted({str(r.results.get("test_beam", "?")) for r in c.runs})
    sub = (
        f"{corpus}\nbuckets of ≥ {c.buckets.min_count} sentences, cut at source-length "
        f"quantiles; beam {'/'.join(beams)}"
    )
    out = [
        (
            "bleu_by_length",
            "BLEU per source-length bucket (Bahdanau et al. 2015, Fig. 2)",
            by_length_figure(
                c.buckets,
                c.bleu,
                "BLEU (sacreBLEU, cased, detokenized)",
                "BLEU by source sentence length",
                sub,
            ),
        )
    ]
    if c.exact_by_length is not None:
        out.append(
            (
                "accuracy_by_length",
                "exact-match accuracy per source-length bucket",
                by_length_figure(
                    c.buckets,
                    c.exact_by_length,
                    "exact match (% of sentences)",
                    "Exact-match accuracy by source sentence length",
                    sub,
                    ymax=100,
                ),
            )
        )
    curves = {
        r.label: (
            [m.get("train_seconds", 0) / 60 for m in r.metrics],
            [m.get("valid_bleu", 0) for m in r.metrics],
        )
        for r in c.runs
    }
    fig = curves_figure(curves)
    if fig is not None:
        out.append(("valid_bleu", "validation BLEU against training time", fig))
    return out


def save(fig: Figure, out: Path, stem: str, writer: SummaryWriter, tag: str) -> str:
    """Write ``fig`` to ``<out>/<stem>.png`` and to TensorBoard, then close it."""
    name = f"{stem}.png"
    fig.savefig(out / name, dpi=120)
    writer.add_figure(tag, fig, close=True)
    plt.close(fig)
    return name


def compare_runs(
    run_dirs: Sequence[str | Path],
    out: str | Path,
    *,
    device: str = "cpu",
    root: str | None = None,
    min_count: int | None = None,
    n_sentences: int = 3,
    command: str | None = None,
    wall_seconds: float | None = None,
    notes: Sequence[str] = (),
    log: Callable[[str], None] = print,
) -> Comparison:
    """Compare finished runs into ``out``; returns what was compared.

    Raises:
        ConfigError: a run is unfinished or incomplete, or the runs differ in test data.
    """
    out = Path(out)
    check_out(out)
    runs = [load_run(d) for d in run_dirs]
    check_same_test(runs)
    name_runs(runs)
    c, test = gather(runs, root, min_count, n_sentences, log)
    out.mkdir(parents=True, exist_ok=True)
    clean_outputs(out)
    writer = SummaryWriter(log_dir=str(out / "tb"))
    try:
        for stem, what, fig in length_figures(c):
            c.figures[save(fig, out, stem, writer, f"comparison/{stem}")] = what
        attention: dict[str, list[str]] = {}
        chosen = [test.src[i] for i in c.sentences]
        for run in runs:
            if chosen and not run.checkpoint.is_file():
                log(f"{run.checkpoint}: missing; no heat maps for {run.label}")
                c.no_checkpoint.append(run.label)
                continue
            maps: list[HeatMap] = attention_maps(run, chosen, c.sentences, device) if chosen else []
            if chosen and not maps:
                c.no_attention.append(run.label)
            for m in maps:
                name = save(m.figure, out, m.name, writer, m.tag)
                attention.setdefault(run.label, []).append(name)
                c.figures[name] = f"attention of {run.label}"
        cols = columns(c.exact is not None, c.extra_tests)
        rows = [
            run_row(r, c.extra_tests, None if c.exact is None else c.exact[r.label]) for r in runs
        ]
        write_csv(rows, cols, out / "results.csv")
        table = markdown_table(rows, cols)
        report = report_markdown(c, table, attention)
        (out / "report.md").write_text(report, encoding="utf-8")
        (out / "RUN.md").write_text(
            run_markdown(runs, command, wall_seconds, notes, out), encoding="utf-8"
        )
        writer.add_text("comparison/results", table)
        writer.add_text(
            "comparison/bleu_by_length", bucket_table(c.buckets.labels, c.buckets.counts, c.bleu)
        )
        writer.add_text("comparison/runs", "\n".join(runs_section(runs)))
    finally:
        writer.close()
    return c
