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
from nmt.compare import stats as S
from nmt.compare.attention import HeatMap, attention_maps, pick_sentences
from nmt.compare.averaging import Averaged, auto_last, average_run, write_averaging_csv
from nmt.compare.figures import by_length_figure, curves_figure
from nmt.compare.markdown import (
    corpus_line,
    report_markdown,
    run_markdown,
    runs_section,
    significance_matrix,
    write_significance_csv,
)
from nmt.compare.output_length import write_ratio_csv
from nmt.compare.runs import (
    DECODE_NAMES,
    Group,
    Run,
    check_same_decoding,
    check_same_test,
    decoding_mismatches,
    group_runs,
    load_run,
    name_runs,
)
from nmt.compare.stats import Paired
from nmt.compare.table import (
    DETAIL_COLUMNS,
    bucket_table,
    columns,
    csv_columns,
    group_columns,
    group_rows,
    markdown_table,
    run_row,
    write_csv,
    write_group_csv,
)
from nmt.data.config import as_data_config
from nmt.data.prepare import read_text
from nmt.errors import ConfigError
from nmt.evaluation.metrics import LENGTH_EDGES, N_BOOTSTRAP

#: what a previous comparison left in --out (removed first, so nothing stale mixes in)
OUTPUTS = (
    "report.md",
    "results.csv",
    "variants.csv",
    "significance.csv",
    "averaging.csv",
    "length_ratio_by_length.csv",
    "RUN.md",
    "bleu_by_length.png",
    "accuracy_by_length.png",
    "valid_bleu.png",
    "attention_*.png",
)


@dataclass
class Comparison:
    """Everything the report is written from (per-run dicts are keyed by run label)."""

    runs: list[Run]
    groups: list[Group]
    test_name: str
    n_test: int
    buckets: L.Buckets
    bleu: dict[str, list[float]]  # BLEU per length bucket
    bleu_ci: dict[str, list[float | None]]  # half-width of its 95% interval
    exact: dict[str, tuple[float, float, float]] | None  # (%, low, high), synthetic corpora
    exact_by_length: dict[str, list[float]] | None
    exact_by_length_ci: dict[str, list[tuple[float, float]]] | None
    extra_tests: list[str]
    sentences: list[int]
    #: (group a, group b) -> one paired test of b against a per seed pairing, test BLEU
    significance: dict[tuple[str, str], list[Paired]] = field(default_factory=dict)
    #: (group a, group b) -> per seed pairing, one paired test per length bucket
    bucket_significance: dict[tuple[str, str], list[list[Paired]]] = field(default_factory=dict)
    #: extra test split -> (group a, group b) -> one paired test per seed pairing
    extra_significance: dict[str, dict[tuple[str, str], list[Paired]]] = field(default_factory=dict)
    mismatches: dict[str, dict[str, object]] = field(default_factory=dict)
    figures: dict[str, str] = field(default_factory=dict)  # file name -> what it shows
    no_attention: list[str] = field(default_factory=list)
    no_checkpoint: list[str] = field(default_factory=list)
    #: best checkpoint against the average of the last ``average_last`` kept ones, per run
    averaging: list[Averaged] = field(default_factory=list)
    average_last: int = 0
    #: test split -> output length against the reference per source-length bucket
    length_ratios: dict[str, L.RatioTable] = field(default_factory=dict)

    @property
    def seeded(self) -> bool:
        """Some variant has more than one seed."""
        return any(len(g.runs) > 1 for g in self.groups)


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


def seed_pairs(a: Group, b: Group) -> list[tuple[Run, Run]]:
    """The runs of two groups paired by seed (their common seeds, repeats of a seed in
    order; in seed order when they have none in common)."""
    common = [s for s in dict.fromkeys(a.seeds) if s in b.seeds]
    if not common:
        return list(zip(a.runs, b.runs, strict=False))
    pairs = []
    for seed in common:  # repeats of one seed pair up in order
        ra = [r for r in a.runs if r.seed == seed]
        rb = [r for r in b.runs if r.seed == seed]
        pairs += list(zip(ra, rb, strict=False))
    return pairs


def significance(
    c: Comparison, hyps: dict[str, list[str]], refs: list[list[str]], lengths: list[int]
) -> None:
    """Paired bootstrap tests (sacreBLEU) between every two groups, on the whole test set
    and inside each length bucket, for each seed pairing."""
    for i, a in enumerate(c.groups):
        for b in c.groups[i + 1 :]:
            pairs = seed_pairs(a, b)
            c.significance[(a.label, b.label)] = [
                S.paired_bleu(hyps[ra.label], [hyps[rb.label]], refs)[0] for ra, rb in pairs
            ]
            c.bucket_significance[(a.label, b.label)] = [
                S.paired_by_bucket(lengths, c.buckets.ranges, hyps[ra.label], hyps[rb.label], refs)
                for ra, rb in pairs
            ]


def extra_hypotheses(
    c: Comparison, texts: dict[str, Any], log: Callable[[str], None]
) -> dict[str, dict[str, list[str]]]:
    """Every run's hypotheses of each extra test split, by split and run label; a split
    that the corpus no longer has, or whose hypotheses do not match its lines, is left
    out (and said so)."""
    out: dict[str, dict[str, list[str]]] = {}
    for name in c.extra_tests:
        split = texts.get(name)
        if split is None:
            log(f"{name}: not a split of the runs' corpus as read now; no paired tests on it")
            continue
        hyps = {r.label: r.hypotheses(name) for r in c.runs}
        if any(len(h) != len(split.src) for h in hyps.values()):
            log(
                f"{name}: the runs' hypotheses do not match the split's {len(split.src)} "
                "lines; no paired tests or length ratios on it"
            )
            continue
        out[name] = hyps
    return out


def extra_significance(
    c: Comparison, texts: dict[str, Any], extra: dict[str, dict[str, list[str]]]
) -> None:
    """The paired tests between every two groups on each extra test split (the whole
    split, one test per seed pairing), from the hypotheses the runs kept of it."""
    for name, hyps in extra.items():
        refs = texts[name].refs
        c.extra_significance[name] = {
            (a.label, b.label): [
                S.paired_bleu(hyps[ra.label], [hyps[rb.label]], refs)[0]
                for ra, rb in seed_pairs(a, b)
            ]
            for i, a in enumerate(c.groups)
            for b in c.groups[i + 1 :]
        }


def ratio_tables(
    c: Comparison,
    texts: dict[str, Any],
    hyps: dict[str, list[str]],
    lengths: list[int],
    extra: dict[str, dict[str, list[str]]],
    edges: Sequence[int],
) -> None:
    """Every run's length ratio per source-length bucket on the test split (its common
    buckets, its source ``lengths``) and on each extra split (cut at ``edges``, as the
    runs' results.json cut it), beside how many training pairs have a source of that
    length."""
    train = texts.get("train")
    train_lengths = L.source_lengths(train.src) if train is not None else None
    splits = [(c.test_name, texts["test"], lengths, c.buckets, hyps)]
    for name, h in extra.items():
        split = texts[name]
        split_lengths = L.source_lengths(split.src)
        buckets = L.common_buckets(split_lengths, None, edges)
        splits.append((name, split, split_lengths, buckets, h))
    for name, split, split_lengths, buckets, h in splits:
        c.length_ratios[name] = L.RatioTable(
            labels=buckets.labels,
            counts=buckets.counts,
            train=None if train_lengths is None else L.count_per_bucket(train_lengths, buckets),
            ratios={
                r.label: L.length_ratio_per_bucket(split_lengths, h[r.label], split.refs, buckets)
                for r in c.runs
            },
        )


def gather(
    groups: list[Group],
    root: str | None,
    min_count: int | None,
    n_sentences: int,
    log: Callable[[str], None],
    edges: Sequence[int] | None = None,
) -> tuple[Comparison, Any]:
    """Read the shared test set and score every run (the groups' runs, in group order) on
    the common length buckets, with 95% intervals, and test every two variants against
    each other."""
    runs = [r for g in groups for r in g.runs]
    data_cfg = as_data_config(runs[0].data_config)
    if root:
        data_cfg.root = root
    texts, _ = read_text(data_cfg, log=log)
    test = texts["test"]
    lengths = L.source_lengths(test.src)
    buckets = L.common_buckets(lengths, min_count, edges or data_cfg.length_edges)
    if edges:
        buckets.origin = "`--edges`"
    synthetic = data_cfg.name == "synthetic"
    bleu, bleu_ci, exact, exact_len, exact_len_ci, hyps = {}, {}, {}, {}, {}, {}
    for run in runs:
        h = hyps[run.label] = run.hypotheses()
        if len(h) != len(test.src):
            raise ConfigError(
                f"{run.path}: {len(h)} test hypotheses but the test set has {len(test.src)} "
                "sentences; the run was tested on different data"
            )
        scored = L.bleu_per_bucket(test.src, h, test.refs, buckets, n_bootstrap=N_BOOTSTRAP)
        bleu[run.label] = [b for b, _ in scored]
        bleu_ci[run.label] = [ci for _, ci in scored]
        if synthetic:
            ref = test.refs[0]
            exact[run.label] = (L.exact_match(h, ref), *S.wilson(L.exact_hits(h, ref), len(h)))
            exact_len[run.label] = L.exact_match_per_bucket(lengths, h, ref, buckets)
            exact_len_ci[run.label] = [
                S.wilson(L.exact_hits([h[i] for i in g], [ref[i] for i in g]), len(g))
                for g in buckets.groups(lengths)
            ]
    extra = [n for n in runs[0].results["test"] if n != "test"]
    extra = [n for n in extra if all(n in r.results["test"] for r in runs)]
    comparison = Comparison(
        runs=runs,
        groups=groups,
        test_name=data_cfg.test,
        n_test=len(test.src),
        buckets=buckets,
        bleu=bleu,
        bleu_ci=bleu_ci,
        exact=exact if synthetic else None,
        exact_by_length=exact_len if synthetic else None,
        exact_by_length_ci=exact_len_ci if synthetic else None,
        extra_tests=extra,
        sentences=pick_sentences(test.src, k=n_sentences) if n_sentences > 0 else [],
    )
    log(f"paired significance tests between {len(comparison.groups)} variants ...")
    significance(comparison, hyps, test.refs, lengths)
    extra = extra_hypotheses(comparison, texts, log)
    extra_significance(comparison, texts, extra)
    ratio_tables(comparison, texts, hyps, lengths, extra, data_cfg.length_edges or LENGTH_EDGES)
    return comparison, test


def length_figures(c: Comparison) -> list[tuple[str, str, Figure]]:
    """(file stem, description, figure) of the by-length plots and the validation curves."""
    corpus = f"{corpus_line(c.runs[0])}, test split {c.test_name} ({c.n_test} sentences)"
    beams = sorted({str(r.decoding.get("beam", "?")) for r in c.runs})
    cut = "source-length quantiles" if c.buckets.equal_count else "fixed source lengths"
    sub = (
        f"{corpus}\nbuckets of ≥ {c.buckets.min_count} sentences, cut at {cut}; "
        f"beam {'/'.join(beams)}; bars: 95% intervals"
    )
    groups = {r.label: g.label for g in c.groups for r in g.runs}
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
                errors=c.bleu_ci,
                groups=groups,
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
                    errors=c.exact_by_length_ci,
                    groups=groups,
                ),
            )
        )
    # against target tokens trained when every run recorded them (the budget that is equal
    # by construction); else against training minutes
    tokens = all("train_tgt_tokens" in m for r in c.runs for m in r.metrics)
    curves = {
        r.label: (
            [
                m["train_tgt_tokens"] / 1e6 if tokens else m.get("train_seconds", 0) / 60
                for m in r.metrics
            ],
            [m.get("valid_bleu", 0) for m in r.metrics],
        )
        for r in c.runs
    }
    xlabel = "target tokens trained (millions)" if tokens else None
    fig = curves_figure(curves, xlabel) if xlabel else curves_figure(curves)
    if fig is not None:
        what = "target tokens trained" if tokens else "training time"
        out.append(("valid_bleu", f"validation BLEU against {what}", fig))
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
    allow_mismatch: bool = False,
    average_last: int | None = None,
    edges: Sequence[int] | None = None,
    log: Callable[[str], None] = print,
) -> Comparison:
    """Compare finished runs into ``out``; returns what was compared.

    ``edges``: length buckets cut at these source lengths (default: the runs'
    ``data.length_edges``, else equal-count buckets).

    ``average_last``: also score the mean of each run's last N kept checkpoints against
    its best one (None: the fewest that every run kept with ``train.keep_last``; 0: no).

    Raises:
        ConfigError: a run is unfinished or incomplete, the runs differ in test data, or
            (unless ``allow_mismatch``) in how their test scores were decoded.
    """
    out = Path(out)
    check_out(out)
    runs = [load_run(d) for d in run_dirs]
    check_same_test(runs)
    if not allow_mismatch:
        check_same_decoding(runs)
    name_runs(runs)
    c, test = gather(group_runs(runs), root, min_count, n_sentences, log, edges)
    runs = c.runs  # the seeds of a variant together
    c.mismatches = decoding_mismatches(runs)
    n_avg = auto_last(runs) if average_last is None else average_last
    if n_avg >= 2:
        c.average_last = n_avg
        for run in runs:
            if (a := average_run(run, n_avg, test, c.test_name, device, log)) is not None:
                c.averaging.append(a)
    out.mkdir(parents=True, exist_ok=True)
    clean_outputs(out)
    writer = SummaryWriter(log_dir=str(out / "tb"))
    try:
        for stem, what, fig in length_figures(c):
            c.figures[save(fig, out, stem, writer, f"comparison/{stem}")] = what
        attention: dict[str, list[str]] = {}
        chosen = [test.src[i] for i in c.sentences]
        for run in (g.runs[0] for g in c.groups):  # one seed per variant: its first
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
        cols = columns(c.exact is not None, c.extra_tests, decoding=bool(c.mismatches))
        mismatched = [DECODE_NAMES[k].split(" (")[0] for k in c.mismatches]
        rows = [
            run_row(r, c.extra_tests, None if c.exact is None else c.exact[r.label], mismatched)
            for r in runs
        ]
        by_label = {r.label: row for r, row in zip(runs, rows, strict=True)}
        for g in c.groups:
            for r in g.runs:
                by_label[r.label]["group"] = g.label
        write_csv(rows, csv_columns(cols, c.extra_tests), out / "results.csv")
        table = markdown_table(rows, cols)
        gcols = group_columns(c.exact is not None, c.extra_tests)
        grows = group_rows(c.groups, by_label, c.extra_tests)
        write_group_csv(grows, gcols, out / "variants.csv")
        write_significance_csv(c, out / "significance.csv")
        if c.averaging:
            write_averaging_csv(c.averaging, out / "averaging.csv")
        write_ratio_csv(c, out / "length_ratio_by_length.csv")
        tables = {
            "runs": table,
            "details": markdown_table(rows, DETAIL_COLUMNS),
            "variants": markdown_table(grows, gcols),
        }
        report = report_markdown(c, tables, attention)
        (out / "report.md").write_text(report, encoding="utf-8")
        (out / "RUN.md").write_text(
            run_markdown(runs, command, wall_seconds, notes, out), encoding="utf-8"
        )
        writer.add_text("comparison/results", table)
        writer.add_text(
            "comparison/bleu_by_length",
            bucket_table(c.buckets.labels, c.buckets.counts, c.bleu, c.bleu_ci),
        )
        writer.add_text("comparison/variants", tables["variants"])
        writer.add_text("comparison/significance", significance_matrix(c))
        writer.add_text("comparison/runs", "\n".join(runs_section(runs)))
    finally:
        writer.close()
    return c
