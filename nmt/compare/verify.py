"""Recompute a committed comparison's scores from the hypotheses it keeps.

    python scripts/verify_results.py docs/results/multi30k_cpu [more folders ...]
    python scripts/verify_results.py --all docs/results     (make verify; CI runs it)

Reads ``hyps/manifest.json`` of each folder (written by ``nmt-compare``), the references
of the test data it names (fetched, or from ``NMT_DATA_MIRROR``), scores every run's
hypotheses with sacreBLEU (BLEU and chrF, its defaults) and checks them against the
folder's ``results.csv``: the test split's BLEU and chrF, each extra split's BLEU. Then the
derived tables, variants.csv, trend.csv, reach.csv and significance.csv's scores, from the
same hypotheses (:mod:`nmt.compare.verify_derived`). Any difference over 0.01 (the CSVs
keep two decimals; 0.001 for the bootstrap's statistics) fails, naming the file, row, cell
and both numbers; exit status 1.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from sacrebleu.metrics import BLEU, CHRF

from nmt.compare.verify_derived import check_derived
from nmt.data.config import as_data_config
from nmt.data.prepare import read_text
from nmt.data.validate import read_lines
from nmt.errors import NMTError

TOLERANCE = 0.01


def verify(folder: str | Path, log=print) -> list[str]:
    """The mismatches of one comparison folder ([] when every score recomputes)."""
    folder = Path(folder)
    manifest_path = folder / "hyps" / "manifest.json"
    if not manifest_path.is_file():
        raise NMTError(f"{folder}: no hyps/manifest.json; compare the runs again with nmt-compare")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    rows = {r["run"]: r for r in csv.DictReader((folder / "results.csv").open(encoding="utf-8"))}
    texts, _ = read_text(as_data_config(manifest["data"]), log=lambda *a, **k: None)
    problems, checked = [], 0
    hyps: dict[str, dict[str, list[str]]] = {}
    for run in manifest["runs"]:
        row = rows.get(run["run"])
        if row is None:
            problems.append(f"{folder}: {run['run']} is in the manifest, not in results.csv")
            continue
        for split, name in run["files"].items():
            lines, refs = read_lines(folder / name), texts[split].refs
            if len(lines) != len(refs[0]):
                problems.append(f"{folder}/{name}: {len(lines)} lines, {len(refs[0])} references")
                continue
            hyps.setdefault(run["label"], {})[split] = lines
            scores = {"bleu": BLEU().corpus_score(lines, refs).score}
            keys = {"bleu": "test_bleu", "chrf": "test_chrf"} if split == "test" else {
                "bleu": f"{split}_bleu"}  # fmt: skip
            if "chrf" in keys:
                scores["chrf"] = CHRF().corpus_score(lines, refs).score
            for metric, key in keys.items():
                stated = float(row[key])
                checked += 1
                if abs(scores[metric] - stated) > TOLERANCE:
                    problems.append(
                        f"{folder}: {run['label']} on {split}: {metric} {scores[metric]:.2f} "
                        f"from its hypotheses, {stated:.2f} in results.csv"
                    )
    derived = check_derived(folder, manifest, hyps, texts) if not problems else None
    if derived is not None:
        problems += derived.problems
    log(f"{folder}: {checked} scores of {len(manifest['runs'])} runs recomputed, "
        f"{len(problems)} mismatch(es)")  # fmt: skip
    if derived is not None and derived.checked:
        log(f"{folder}: {derived.checked} cells of its derived tables recomputed "
            f"(variants, trend, reach, significance), "
            f"{len(derived.problems)} mismatch(es)")  # fmt: skip
    return problems


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("folders", nargs="*", help="comparison folders (nmt-compare --out)")
    p.add_argument("--all", metavar="ROOT",
                   help="also every folder under ROOT that keeps hyps/manifest.json")  # fmt: skip
    args = p.parse_args(argv)
    folders = list(args.folders)
    if args.all:
        found = sorted(m.parent.parent for m in Path(args.all).glob("*/hyps/manifest.json"))
        print(f"{args.all}: {len(found)} comparison(s) keep their hypotheses")
        without = sorted(
            r.parent.name for r in Path(args.all).glob("*/results.csv") if r.parent not in found
        )
        if without:  # named, so that no reader takes them for checked
            print(f"{args.all}: {len(without)} comparison(s) keep none and are not "
                  f"recomputed here: {', '.join(without)}")  # fmt: skip
        folders += [str(f) for f in found]
    if not folders and not args.all:
        p.error("give comparison folders or --all ROOT")
    problems = []
    try:
        for folder in folders:
            problems += verify(folder)
    except NMTError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    for line in problems:
        print(f"mismatch: {line}", file=sys.stderr)
    sys.exit(1 if problems else 0)
