"""Both translation engines side by side on one checkpoint: the PyTorch search (fp32, bf16)
and CTranslate2 (float32, int8_float32, int8) over an ``nmt-export ct2`` of it.

    python scripts/bench_engines.py CKPT --src test.de --ref test.en --out engines.json

Every configuration runs in a fresh process (its peak resident memory is its own: model,
engine and search), warms up on 16 sentences, then translates the test sentences greedily
and with beam 5, timed; the outputs are scored with sacreBLEU and the greedy ones compared
line by line with the PyTorch fp32 search's. One command, one machine, one JSON and one
Markdown table (the CPU named beside it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: (engine, precision or compute type) in the order of the table, plus options: "+vmap"
#: (a vocabulary map of the training corpus: the export's, or the same map as a file for
#: the PyTorch search) and, for CTranslate2, "+workers=N" (N batches at once, each on
#: threads / N threads)
CONFIGS = (
    ("torch", "fp32"),
    ("torch", "bf16"),
    ("torch", "bf16+vmap"),
    ("ct2", "float32"),
    ("ct2", "int8_float32"),
    ("ct2", "int8"),
    ("ct2", "int8+workers=2"),
    ("ct2", "float32+vmap"),
    ("ct2", "int8+vmap"),
    ("ct2", "int8+vmap+workers=2"),
)


def options(engine: str, precision: str, map_file: str | None = None) -> dict[str, Any]:
    """``ct2:int8+vmap+workers=2`` -> the keyword arguments of :func:`load_translator`
    (``map_file``: the PyTorch search's vocabulary map)."""
    base, *extra = precision.split("+")
    out: dict[str, Any] = {"engine": engine, "vocab_map": "off"}
    out |= {"compute_type": base} if engine == "ct2" else {"precision": base}
    for option in extra:
        if option == "vmap":
            out["vocab_map"] = "auto" if engine == "ct2" else (map_file or "off")
        elif option.startswith("workers=") and engine == "ct2":
            workers = option.removeprefix("workers=")
            if not workers.isdigit() or int(workers) < 1:
                raise SystemExit(f"error: --configs: {option!r}: workers is a positive number")
            out["workers"] = int(workers)
        else:
            raise SystemExit(f"error: --configs: unknown {engine} option {option!r} in "
                             f"{precision!r} (vmap; workers=N for ct2)")  # fmt: skip
    return out


SEARCHES = (("greedy", 1), ("beam5", 5))


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """One configuration, in this process: speed, BLEU, outputs and peak memory."""
    from nmt.bench.memory import peak_rss_mb
    from nmt.data.validate import read_lines
    from nmt.evaluation.metrics import corpus_scores
    from nmt.export.load import load_translator
    from nmt.system.device import set_threads

    set_threads(args.threads)
    src = read_lines(Path(args.src))[: args.sentences]
    refs = [read_lines(Path(args.ref))[: len(src)]]
    kwargs = {"threads": args.threads} | options(args.engine, args.precision, args.map_file)
    path = args.export if args.engine == "ct2" else args.checkpoint
    translator = load_translator(path, device="cpu", **kwargs)
    out: dict[str, Any] = {"engine": args.engine, "precision": args.precision,
                           "sentences": len(src), "threads": args.threads,
                           "workers": kwargs.get("workers", 1)}  # fmt: skip
    for name, beam in SEARCHES:
        decoding = translator.decoding.replace(beam=beam)
        translator.translate(src[:16], decoding, warn=False)  # warm-up
        timings = []
        for _ in range(args.repeats):  # the median of several: one pass is noisy (±20%)
            t0 = time.perf_counter()
            hyps = translator.translate_text(src, decoding=decoding, warn=False)
            timings.append(time.perf_counter() - t0)
        seconds = statistics.median(timings)
        scores = corpus_scores(hyps, refs)
        out[name] = {"seconds": seconds, "sent_per_s": len(src) / seconds,
                     "seconds_each": [round(t, 3) for t in timings],
                     "bleu": scores["bleu"], "signature": scores["bleu_signature"],
                     "hypotheses": hyps}  # fmt: skip
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def compare(rows: list[dict[str, Any]]) -> None:
    """Each row's greedy and beam-5 outputs against the PyTorch fp32 search's: the share of
    identical lines and the BLEU difference."""
    base = next(r for r in rows if (r["engine"], r["precision"]) == ("torch", "fp32"))
    for r in rows:
        for name, _ in SEARCHES:
            a, b = base[name]["hypotheses"], r[name]["hypotheses"]
            r[name]["identical_to_torch_fp32"] = sum(
                x == y for x, y in zip(a, b, strict=True)
            ) / len(a)
            r[name]["bleu_minus_torch_fp32"] = r[name]["bleu"] - base[name]["bleu"]


def markdown(result: dict[str, Any]) -> str:
    env = result["environment"]
    lines = [
        "## Translation engines side by side",
        "",
        f"Written by `{result['command']}`; the raw numbers are in `{result['json']}`, "
        f"every output in `{result['hypotheses']}`.",
        "",
        f"CPU: {env['cpu']}, {env['threads']} threads; torch {env['torch']}, CTranslate2 "
        f"{env['ctranslate2']}; {env['date']}. Checkpoint: `{result['checkpoint']}`; "
        f"{result['sentences']} sentences of `{result['src']}`. Each configuration in its own "
        f"process, its speed the median of {result.get('repeats', 1)} timed passes; "
        '"= fp32": greedy outputs identical to the PyTorch fp32 search\'s.',
        "",
        "| engine | precision | greedy sent/s | beam-5 sent/s | greedy BLEU | beam-5 BLEU | "
        "greedy = fp32 | beam-5 = fp32 | peak RSS (MB) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in result["rows"]:
        g, b = r["greedy"], r["beam5"]
        lines.append(
            f"| {r['engine']} | {r['precision']} | {g['sent_per_s']:,.0f} | "
            f"{b['sent_per_s']:,.0f} | {g['bleu']:.2f} ({g['bleu_minus_torch_fp32']:+.2f}) | "
            f"{b['bleu']:.2f} ({b['bleu_minus_torch_fp32']:+.2f}) | "
            f"{g['identical_to_torch_fp32']:.1%} | {b['identical_to_torch_fp32']:.1%} | "
            f"{r['peak_rss_mb']:,.0f} |"
        )
    notes = [
        *speedups(result["rows"]),
        "BLEU in brackets: the difference from the PyTorch fp32 search's. Both engines rank "
        "beam hypotheses by GNMT's length penalty (CTranslate2's k finished hypotheses, "
        "scored raw, ranked by the engine), so what differs is arithmetic: precision, the "
        "order of float operations, and the closing of a beam at the output limit.",
    ]
    vm = result.get("vocab_map")
    if vm:
        notes.append(
            f"+vmap: a vocabulary map (`nmt-export ct2 --vocab-map`, or as a file for PyTorch "
            f"`nmt-export vmap`: {vm['method']} over {vm['pairs']:,} training pairs, "
            f"{vm['per_source']} candidates a source piece, {vm['mean_candidates']} on "
            f"average, {vm['always']} pieces always); +workers=N: N batches at once, each on "
            "threads / N threads."
        )
    for note in notes:
        lines += ["", note]
    lines.append("")
    return "\n".join(lines)


def speedups(rows: list[dict[str, Any]]) -> list[str]:
    """Beam 5: the fastest CTranslate2 row over the fastest PyTorch row, each side with the
    whole vocabulary, then each with a vocabulary map (like against like)."""
    out = []
    for mapped, label in ((False, "whole vocabulary"), (True, "both with the vocabulary map")):
        side = [r for r in rows if ("+vmap" in r["precision"]) == mapped]
        torch_rows = [r for r in side if r["engine"] == "torch"]
        ct2_rows = [r for r in side if r["engine"] == "ct2"]
        if not torch_rows or not ct2_rows:
            continue
        ref = max(torch_rows, key=lambda r: r["beam5"]["sent_per_s"])
        best = max(ct2_rows, key=lambda r: r["beam5"]["sent_per_s"])
        ratio = best["beam5"]["sent_per_s"] / ref["beam5"]["sent_per_s"]
        out.append(f"Beam 5, {label}: CTranslate2 {best['precision']} at {ratio:.2f}× the "
                   f"PyTorch {ref['precision']} search (the faster PyTorch one).")  # fmt: skip
    return out


def write_section(path: Path, section: str) -> None:
    """Put ``section`` (a "## " heading and its text) into the Markdown file ``path``: in
    place of the section of the same heading, else at the end."""
    heading = section.splitlines()[0]
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if heading in text:
        before, _, rest = text.partition(heading)
        after = rest.split("\n## ", 1)
        text = before + section + ("\n## " + after[1] if len(after) > 1 else "")
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def publish(result: dict[str, Any], table: str, out: str, section_of: str | None) -> None:
    """Write a benchmark's JSON to ``out``, its table as a section of the Markdown file
    ``section_of`` (when given), and print the table."""
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    if section_of:
        write_section(Path(section_of), table)
    print(table)


def run_one(args: argparse.Namespace, engine: str, precision: str, export: str) -> dict:
    cmd = [sys.executable, "-m", "nmt.bench.engines", "--one", engine, precision,
           "--export", export, args.checkpoint, "--src", args.src, "--ref", args.ref,
           "--threads", str(args.threads), "--sentences", str(args.sentences),
           "--repeats", str(args.repeats)]  # fmt: skip
    if args.map_file:
        cmd += ["--map-file", args.map_file]
    print(f"bench-engines: {engine} {precision} ...", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"error: {engine} {precision} failed: {proc.stderr.strip()[-1500:]}")
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    g, b = row["greedy"], row["beam5"]
    print(f"bench-engines: {engine} {precision}: greedy {g['sent_per_s']:,.0f} sent/s "
          f"(BLEU {g['bleu']:.2f}), beam 5 {b['sent_per_s']:,.0f} sent/s (BLEU {b['bleu']:.2f})",
          file=sys.stderr, flush=True)  # fmt: skip
    return row


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoint", help="a Transformer's best.pt")
    p.add_argument("--src", required=True, help="test sources, one a line")
    p.add_argument("--ref", required=True, help="their references")
    p.add_argument("--sentences", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=3, help="timed passes; the median is reported")
    p.add_argument("--threads", type=int, default=0, help="0: the physical cores")
    p.add_argument(
        "--configs",
        default=",".join(f"{e}:{q}" for e, q in CONFIGS),
        help="engine:precision pairs (torch:fp32 is always run: the reference)",
    )
    p.add_argument("--out", default="docs/results/bench/engines.json")
    p.add_argument("--markdown", help="also put the table into this Markdown file, as a section")
    p.add_argument("--one", nargs=2, metavar=("ENGINE", "PRECISION"), help=argparse.SUPPRESS)
    p.add_argument("--export", help=argparse.SUPPRESS)
    p.add_argument("--map-file", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        args.engine, args.precision = args.one
        print(json.dumps(measure(args)))
        return None
    from nmt.bench.report import environment
    from nmt.export.ct2 import VMAP, ctranslate2_module, export_ct2
    from nmt.io import gzip_bytes
    from nmt.system.device import physical_cores

    args.threads = args.threads or physical_cores()
    configs = [tuple(c.split(":", 1)) for c in args.configs.split(",")]
    if ("torch", "fp32") not in configs:
        configs.insert(0, ("torch", "fp32"))
    for engine, precision in configs:
        options(engine, precision)  # an unknown option fails here, before any decoding
    with tempfile.TemporaryDirectory(prefix="nmt-bench-ct2-") as tmp:
        export = str(Path(tmp) / "model")
        vmap = {} if any("+vmap" in q for _, q in configs) else None
        manifest = export_ct2(args.checkpoint, export, vocab_map=vmap)
        args.map_file = str(Path(export) / VMAP) if vmap is not None else None
        rows = [run_one(args, e, q, export) for e, q in configs]
    compare(rows)
    import torch

    torch.set_num_threads(args.threads)
    env = environment(torch.device("cpu")) | {"ctranslate2": ctranslate2_module().__version__}
    command = " ".join(
        ["python scripts/bench_engines.py", *(sys.argv[1:] if argv is None else argv)]
    )
    from nmt.data.fetch import sha256_file

    digest = sha256_file(Path(args.checkpoint))
    result = {"environment": env, "command": command, "json": args.out,
              "checkpoint": args.checkpoint, "checkpoint_sha256": digest,
              "src": args.src, "ref": args.ref,
              "sentences": rows[0]["sentences"], "repeats": args.repeats, "rows": rows,
              "vocab_map": manifest.get("vocab_map")}  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    hyps = {f"{r['engine']}:{r['precision']}:{name}": r[name].pop("hypotheses")
            for r in rows for name, _ in SEARCHES}  # fmt: skip
    packed = Path(args.out).with_suffix(".hyps.json.gz")
    result["hypotheses"] = packed.name
    packed.write_bytes(gzip_bytes(json.dumps(hyps).encode("utf-8")))
    publish(result, markdown(result), args.out, args.markdown)
    return result


if __name__ == "__main__":
    main()
