"""``nmt-evaluate CHECKPOINT [--split test | --src FILE --ref FILE ...]``: score with sacreBLEU.

Translates a split of the checkpoint's data config (fetching the corpus if needed),
or any test set given as files (``--src`` and one ``--ref`` per reference, plain or
``.gz``), and prints BLEU, chrF, lowercased BLEU and BLEU by source length with 95%
intervals and sacreBLEU's signatures. Writes the hypotheses and a JSON report beside
the checkpoint's run (``<run>/eval/<name>.beam<k>.{txt,json}``) or to ``--out``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nmt.cli.common import (
    add_decoding_args,
    add_engine_args,
    add_precision_arg,
    decoding_from_args,
    engine_kwargs,
    precision_from_args,
    resolve_device,
)
from nmt.errors import ConfigError, NMTError
from nmt.evaluation.metrics import N_BOOTSTRAP, format_ci


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="nmt-evaluate", description=__doc__.split("\n")[0])
    p.add_argument("checkpoint", help="best.pt or last.pt of an nmt run, or an nmt-export folder")
    p.add_argument("--split", help="test (default), valid, or an extra test name")
    p.add_argument("--src", help="a test set's source file (plain or .gz) instead of a split")
    p.add_argument(
        "--ref",
        action="append",
        default=[],
        help="a reference file line-aligned with --src; repeat for several references",
    )
    p.add_argument("--out", help="JSON report path (default: <run>/eval/<split>.beam<k>.json)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--root", help="data folder (default: the checkpoint's data.root)")
    p.add_argument(
        "--bootstrap",
        type=int,
        default=N_BOOTSTRAP,
        help=f"bootstrap resamples for the 95%% intervals (default {N_BOOTSTRAP}; 0 = none)",
    )
    add_precision_arg(p)
    add_engine_args(p)
    add_decoding_args(p)
    args = p.parse_args(argv)
    if args.src and args.split:
        p.error("give either --split or --src/--ref, not both")
    if bool(args.src) != bool(args.ref):
        p.error("--src needs at least one --ref, and --ref needs --src")
    return args


def file_test_set(src: str, refs: list[str]):
    """A test set from files: the source and each reference, line-aligned (one-line
    DataError naming the file otherwise). Its name is the source file's, without .gz."""
    from nmt.data.corpora import ParallelText
    from nmt.data.validate import check_aligned, read_lines

    src_lines = read_lines(Path(src))
    streams = []
    for ref in refs:
        lines = read_lines(Path(ref))
        check_aligned(src_lines, lines, src, ref)
        streams.append(lines)
    name = Path(src).name.removesuffix(".gz")
    return ParallelText(name, src_lines, streams[0], streams)


def format_table(name: str, scores: dict, decode: dict | None = None) -> str:
    """The split's scores, each BLEU and chrF with its 95% bootstrap interval, and how it
    was decoded."""
    bleu, chrf = format_ci(scores, "bleu"), format_ci(scores, "chrf")
    lines = [
        f"{'split':<18} {'sentences':>9} {'BLEU':>15} {'chrF':>15} {'BLEU(lc)':>9}",
        f"{name:<18} {scores['sentences']:>9} {bleu:>15} {chrf:>15} {scores['bleu_lc']:>9.2f}",
        "",
        "BLEU by source length (words):",
    ]
    for b in scores.get("bleu_by_length", []):
        ci = "" if b.get("bleu_ci") is None else f" ± {b['bleu_ci']:5.2f}"
        lines.append(f"  {b['label']:>8}  n={b['n']:<5} BLEU {b['bleu']:6.2f}{ci}")
    if "bleu_ci" in scores:
        lines += [
            "",
            f"± is the half-width of the 95% confidence interval: sacreBLEU's bootstrap over "
            f"the test sentences ({scores['bootstrap']} resamples).",
        ]
    if decode:
        lines += ["", "decoded: " + ", ".join(f"{k} {v}" for k, v in decode.items())]
    lines += [
        "",
        f"BLEU      {scores['bleu_signature']}",
        f"chrF      {scores['chrf_signature']}",
        f"BLEU(lc)  {scores['bleu_lc_signature']}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.bootstrap < 0:
        print(
            f"error: --bootstrap {args.bootstrap} must not be negative (0 = none)", file=sys.stderr
        )
        sys.exit(2)
    try:
        from nmt.data.config import as_data_config, split_name
        from nmt.data.corpora import split_roles
        from nmt.data.prepare import read_text
        from nmt.evaluation.scoring import evaluate_split
        from nmt.export.load import load_translator
        from nmt.io import write_or_explain
        from nmt.runs.run_dir import RunDir, write_record

        if args.src:
            test = file_test_set(args.src, args.ref)  # read first: a bad file fails at once
        device = resolve_device(args.device)
        translator = load_translator(
            args.checkpoint,
            device=device,
            precision=precision_from_args(args, device),
            **engine_kwargs(args),
        )
        decoding = decoding_from_args(translator.decoding, args)
        if not args.src:
            args.split = args.split or "test"
            data_cfg = as_data_config(translator.checkpoint_info["data"])
            if args.root:
                data_cfg.root = args.root
            roles = [r for r in split_roles(data_cfg) if r != "train" or args.split == "train"]
            texts, _ = read_text(
                data_cfg, log=lambda msg: print(msg, file=sys.stderr), roles=roles
            )  # the (large) train split only when asked for
            if args.split not in texts:
                raise ConfigError(
                    f"--split {args.split!r} is not a split of this checkpoint's data; "
                    f"choose one of: {', '.join(texts)}"
                )
            test = texts[args.split]
        scores, hyps = evaluate_split(
            translator,
            test,
            decoding,
            progress=True,
            by_length=True,
            n_bootstrap=args.bootstrap,
            edges=(translator.checkpoint_info.get("data") or {}).get("length_edges"),
        )
        ckpt = Path(args.checkpoint).resolve()
        name = split_name(data_cfg, args.split) if args.split else test.name
        engine = getattr(translator, "engine", "torch")
        run = RunDir(ckpt) if ckpt.is_dir() else RunDir.of_checkpoint(ckpt)
        if engine == "ct2":  # float32 and int8 reports side by side, not over each other
            vmap = "-vmap" if translator.use_vmap else ""
            name = f"{name}.ct2-{translator.engine_model.compute_type}{vmap}"
        elif getattr(translator, "shortlist", None) is not None:  # beside the full search's
            name = f"{name}.vmap"
        out = Path(args.out) if args.out else run.evaluation_path(name, decoding.beam)
        hyp_path = out.with_suffix(".txt")
        write_or_explain(hyp_path, "".join(h + "\n" for h in hyps).encode("utf-8"))
        where = {"split": args.split} if args.split else {"src": args.src, "refs": args.ref}
        decode = {**decoding.as_dict(), "precision": translator.precision}
        shortlist = getattr(translator, "shortlist", None)
        if shortlist is not None or getattr(translator, "use_vmap", False):
            decode["vocab_map"] = str(shortlist.path) if shortlist else "the export's vmap.txt"
        record = {"checkpoint": str(ckpt), **where, **scores, "decode": decode}
        write_record(out, record | {"hypotheses": str(hyp_path)})
        print(format_table(name, scores, decode))
        print(f"\nhypotheses: {hyp_path}\nreport: {out}")
    except NMTError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
