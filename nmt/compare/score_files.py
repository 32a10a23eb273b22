"""Score hypothesis files against a reference with 95% intervals and paired tests.

For translations that exist only as files (say, the greedy outputs kept beside an older
comparison): each system's BLEU and chrF with sacreBLEU's bootstrap interval, and the
paired bootstrap test between every two systems, as markdown and JSON. The statistics
are the ones ``nmt-compare`` reports (:mod:`nmt.compare.stats`).

    python scripts/score_files.py --ref data/multi30k/test_2016_flickr.en.gz \\
        seq2seq=greedy/seq2seq.txt bahdanau=greedy/bahdanau.txt --out greedy/significance
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nmt.compare.lengths import bleu_per_bucket, common_buckets, source_lengths
from nmt.compare.stats import format_p, paired_bleu, paired_by_bucket
from nmt.data.validate import read_lines
from nmt.errors import NMTError
from nmt.evaluation.metrics import N_BOOTSTRAP, corpus_scores, format_ci


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("systems", nargs="+", metavar="NAME=HYPS", help="a system's hypotheses")
    p.add_argument("--ref", required=True, help="reference file (plain or .gz)")
    p.add_argument(
        "--src",
        help="source file: adds BLEU by source length (nmt-compare's buckets) with intervals "
        "and the paired test inside each bucket",
    )
    p.add_argument("--out", help="write OUT.md and OUT.json (default: print the markdown)")
    return p.parse_args(argv)


def score(named: dict[str, list[str]], ref: list[str]) -> tuple[dict, list[dict]]:
    """Per system: scores with intervals; per pair (a before b): the paired test of b vs a."""
    scores = {n: corpus_scores(h, [ref], n_bootstrap=N_BOOTSTRAP) for n, h in named.items()}
    names = list(named)
    tests = []
    for i, a in enumerate(names):
        others = names[i + 1 :]
        if not others:
            continue
        for b, t in zip(
            others, paired_bleu(named[a], [named[b] for b in others], [ref]), strict=True
        ):
            tests.append({"a": a, "b": b, "bleu_a": round(t.a, 2), "bleu_b": round(t.b, 2),
                          "delta": round(t.delta, 2), "p": t.p,
                          "significant": t.significant})  # fmt: skip
    return scores, tests


def by_length(named: dict[str, list[str]], ref: list[str], src: list[str]) -> dict:
    """BLEU per source-length bucket with intervals, and per pair the paired test inside
    each bucket."""
    lengths = source_lengths(src)
    b = common_buckets(lengths)
    names = list(named)
    out: dict = {"buckets": b.labels, "counts": b.counts, "min_count": b.min_count,
                 "bleu": {}, "tests": []}  # fmt: skip
    for name, hyps in named.items():
        out["bleu"][name] = [
            [round(x, 2), ci] for x, ci in bleu_per_bucket(src, hyps, [ref], b, N_BOOTSTRAP)
        ]
    for i, a in enumerate(names):
        for c in names[i + 1 :]:
            tests = paired_by_bucket(lengths, b.ranges, named[a], named[c], [ref])
            out["tests"].append({"a": a, "b": c, "delta": [round(t.delta, 2) for t in tests],
                                 "p": [t.p for t in tests],
                                 "significant": [t.significant for t in tests]})  # fmt: skip
    return out


def length_markdown(lengths: dict) -> list[str]:
    names = list(lengths["bleu"])
    lines = [
        "",
        f"BLEU by source length (words; buckets of at least {lengths['min_count']} "
        "sentences), ± = 95% interval:",
        "",
        "| source words | sentences | " + " | ".join(names) + " |",
        "| --- | ---: | " + " | ".join("---:" for _ in names) + " |",
    ]
    for k, (label, n) in enumerate(zip(lengths["buckets"], lengths["counts"], strict=True)):
        cells = [f"{lengths['bleu'][m][k][0]:.2f} ± {lengths['bleu'][m][k][1]:.2f}" for m in names]
        lines.append(f"| {label} | {n} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "B − A per bucket; * = the paired test inside the bucket holds it at p < 0.05:",
        "",
        "| B − A | " + " | ".join(lengths["buckets"]) + " |",
        "| --- | " + " | ".join("---:" for _ in lengths["buckets"]) + " |",
    ]
    for t in lengths["tests"]:
        cells = [
            f"{d:+.1f}{'*' if s else ''}" for d, s in zip(t["delta"], t["significant"], strict=True)
        ]
        lines.append(f"| {t['b']} − {t['a']} | " + " | ".join(cells) + " |")
    return lines


def markdown(scores: dict, tests: list[dict], ref: str, lengths: dict | None = None) -> str:
    lines = [
        f"Reference: `{ref}`; {next(iter(scores.values()))['sentences']} sentences.",
        "",
        "| system | BLEU (95% CI) | chrF (95% CI) | BLEU (lc) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, s in scores.items():
        lines.append(
            f"| {name} | {format_ci(s, 'bleu')} | {format_ci(s, 'chrf')} | {s['bleu_lc']:.2f} |"
        )
    lines += [
        "",
        "Paired bootstrap tests (sacreBLEU `--paired-bs`, 1000 resamples), B − A in BLEU:",
        "",
        "| A | B | B − A | p | holds at 0.05 |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    for t in tests:
        lines.append(
            f"| {t['a']} | {t['b']} | {t['delta']:+.2f} | {format_p(t['p'])} | "
            f"{'yes' if t['significant'] else 'no'} |"
        )
    if lengths:
        lines += length_markdown(lengths)
    sig = next(iter(scores.values()))["bleu_signature"]
    lines += ["", f"BLEU signature: `{sig}`", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        ref = read_lines(Path(args.ref))
        named = {}
        for spec in args.systems:
            name, sep, path = spec.partition("=")
            if not sep or not name or not path:
                raise NMTError(f"{spec!r}: give each system as NAME=HYPOTHESES_FILE")
            hyps = read_lines(Path(path))
            if len(hyps) != len(ref):
                raise NMTError(f"{path}: {len(hyps)} lines, the reference has {len(ref)}")
            named[name] = hyps
        scores, tests = score(named, ref)
        lengths = None
        if args.src:
            src = read_lines(Path(args.src))
            if len(src) != len(ref):
                raise NMTError(f"{args.src}: {len(src)} lines, the reference has {len(ref)}")
            lengths = by_length(named, ref, src)
    except NMTError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    text = markdown(scores, tests, args.ref, lengths)
    if not args.out:
        print(text)
        return
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(text, encoding="utf-8")
    keep = ("bleu", "bleu_ci", "bleu_ci95", "chrf", "chrf_ci", "chrf_ci95", "bleu_lc",
            "bleu_signature", "sentences")  # fmt: skip
    data = {"scores": {n: {k: s[k] for k in keep} for n, s in scores.items()}, "tests": tests}
    if lengths:
        data["by_length"] = lengths
    out.with_suffix(".json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(text)
