"""The README's result tables, rendered from the CSVs of committed comparisons.

README.md marks every generated block with the comparison it shows::

    <!-- headline docs/results/multi30k_joined -->
    ...the tables...
    <!-- /headline -->

``python scripts/headline.py`` rewrites the blocks from each folder's variants.csv,
results.csv, trend.csv and reach.csv; ``--check`` (``make verify``, which CI runs) fails
when a block differs from what the CSVs give. With :mod:`nmt.compare.verify`, which
recomputes those CSVs from the kept hypotheses, every number in a block traces back to the
outputs behind it: hypotheses → CSVs → README.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

from nmt.compare.verify_derived import read_rows
from nmt.errors import NMTError

BLOCK = re.compile(r"(<!-- headline (\S+)((?: \w+)*) -->\n)(.*?)(<!-- /headline -->)", re.S)
#: the parts a block may name after its folder (all of them when it names none)
PARTS = ("variants", "trend")


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise NMTError(f"{path}: not found; render the comparison with nmt-compare --out")
    return read_rows(path)


def _num(text: str | None) -> float | None:
    return float(text) if text not in (None, "") else None


def _interval(value: float, low: float | None, high: float | None, sign: str = "") -> str:
    text = f"{value:{sign}.2f}"
    return text if low is None or high is None else f"{text} [{low:{sign}.2f}, {high:{sign}.2f}]"


def _q(q: float) -> str:
    return "<0.001" if q < 0.001 else f"{q:.3f}"


def reach_cells(rows: Sequence[dict[str, str]]) -> dict[str, str]:
    """Each group's reach per seed from reach.csv: "≥64" (never fell), "38, 45", "none"."""
    cells: dict[str, list[str]] = {}
    for r in rows:
        words = r["reach_words"]
        cell = "none" if words == "" else ("≥" if r["censored"] == "1" else "") + words
        cells.setdefault(r["variant"], []).append(cell)
    return {group: ", ".join(c) for group, c in cells.items()}


def variants_table(folder: Path) -> list[str]:
    """Per variant (group of seeds): its seeds, mean test BLEU with its 95% interval, exact
    match where the corpus has one answer, and its reach per seed."""
    groups = _rows(folder / "variants.csv")
    runs = _rows(folder / "results.csv")
    reach = reach_cells(_rows(folder / "reach.csv")) if (folder / "reach.csv").is_file() else {}
    exact = any(g.get("exact_match_mean") for g in groups)
    head = ["variant", "seeds", "test BLEU [95%]"] + (["exact match %"] if exact else [])
    head += ["reach (words, per seed)"] if reach else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" + "---:|" * (len(head) - 1)]
    for g in groups:
        n = len(g["seeds"].split(","))
        low, high = _num(g.get("test_bleu_low")), _num(g.get("test_bleu_high"))
        if n == 1:  # one run: its own sentence-only interval
            run = next((r for r in runs if r.get("group") == g["variant"]), {})
            low, high = _num(run.get("test_bleu_low")), _num(run.get("test_bleu_high"))
        scores = [float(r["test_bleu"]) for r in runs if r.get("group") == g["variant"]]
        # the mean of the runs' scores as the report takes it (variants.csv keeps it rounded)
        mean = statistics.fmean(scores) if scores else float(g["test_bleu_mean"])
        cells = [g["variant"], g["seeds"], _interval(mean, low, high)]
        if exact:
            cells.append(f"{float(g['exact_match_mean']):.1f}")
        if reach:
            cells.append(reach.get(g["variant"], ""))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def trend_table(folder: Path) -> list[str]:
    """Per attentive - fixed-vector pair (trend.csv): the gap on the shortest and on the
    longest bucket, the difference-in-differences with its 95% interval and its q-value,
    and the slope of the gap per 10 source words with its q-value."""
    rows = _rows(folder / "trend.csv") if (folder / "trend.csv").is_file() else []
    if not rows:
        return []
    lengths = rows[0]["bucket_lengths"].split()
    lines = [
        f"| attentive − fixed vector | gap, {float(lengths[0]):.0f} → {float(lengths[-1]):.0f} "
        "words | difference in differences [95%] | q | slope per 10 words [95%] | q |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        did = _interval(float(r["did"]), float(r["did_low"]), float(r["did_high"]), "+")
        slope = _interval(
            *(10 * float(r[k]) for k in ("slope_per_word", "slope_low", "slope_high")), "+"
        )
        gap = f"{float(r['gap_short']):+.1f} → {float(r['gap_long']):+.1f}"
        lines.append(
            f"| {r['attentive']} − {r['fixed']} | {gap} | {did} | {_q(float(r['did_q_bh']))} "
            f"| {slope} | {_q(float(r['slope_q_bh']))} |"
        )
    return lines


def caption(folder: Path, name: str) -> str:
    """What the intervals and tests are, from the folder's trend.csv and variants.csv
    (``name``: the folder as the README links it)."""
    groups = _rows(folder / "variants.csv")
    seeded = any(len(g["seeds"].split(",")) > 1 for g in groups)
    trend = _rows(folder / "trend.csv") if (folder / "trend.csv").is_file() else []
    resamples = f"{int(trend[0]['resamples']):,} resamples; " if trend else ""
    held = "seeds and test sentences" if seeded else "test sentences only (one seed)"
    return (
        f"From [{name}]({name}/report.md) ({resamples}"
        f"intervals: 95% bootstrap over {held}; q: Benjamini–Hochberg over the pairs; gap: "
        "attentive minus fixed-vector BLEU on the shortest and on the longest length bucket, "
        "named by their mean source length)."
    )


def render(folder: Path, parts: Sequence[str] = PARTS, name: str | None = None) -> str:
    """One comparison's block: its caption, then the ``parts`` (:data:`PARTS`) in order;
    ``name``: the folder as the README links it (the folder itself by default). Only a
    comparison that keeps its hypotheses (``make verify`` recomputes its CSVs)."""
    if not (folder / "hyps" / "manifest.json").is_file():
        raise NMTError(
            f"{folder}: keeps no hyps/manifest.json, so make verify cannot recompute it; "
            "the README shows only comparisons rendered by nmt-compare with their hypotheses"
        )
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise NMTError(f"headline {folder}: unknown part(s) {', '.join(unknown)}; use {PARTS}")
    tables = {"variants": variants_table, "trend": trend_table}
    lines = [caption(folder, folder.as_posix() if name is None else name)]
    for part in parts:
        table = tables[part](folder)
        lines += ["", *table] if table else []
    return "\n".join(lines) + "\n"


def sync(readme: Path, root: Path, write: bool) -> list[str]:
    """The generated blocks of ``readme`` that differ from their comparisons' CSVs (paths in
    the markers are relative to ``root``); with ``write``, rewrites them."""
    text = readme.read_text(encoding="utf-8")
    stale: list[str] = []

    def fill(m: re.Match) -> str:
        fresh = render(root / m.group(2), m.group(3).split() or PARTS, m.group(2))
        if fresh != m.group(4):
            stale.append(m.group(2))
        return m.group(1) + fresh + m.group(5)

    new = BLOCK.sub(fill, text)
    if write and new != text:
        readme.write_text(new, encoding="utf-8")
    return stale


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--readme", default="README.md", type=Path)
    p.add_argument("--check", action="store_true", help="fail when a block is stale")
    args = p.parse_args(argv)
    try:
        stale = sync(args.readme, args.readme.parent, write=not args.check)
    except NMTError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    blocks = len(BLOCK.findall(args.readme.read_text(encoding="utf-8")))
    if args.check and stale:
        for folder in stale:
            print(f"mismatch: {args.readme}: the block of {folder} differs from its CSVs; "
                  "run python scripts/headline.py", file=sys.stderr)  # fmt: skip
        sys.exit(1)
    verb = "checked" if args.check else "rewrote" if stale else "checked, all current"
    print(f"{args.readme}: {blocks} generated block(s) {verb}")
