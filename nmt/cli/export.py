"""``nmt-export ct2 CHECKPOINT OUT``: a Transformer checkpoint as a CTranslate2 model;
``nmt-export vmap CHECKPOINT FILE``: a vocabulary map of its training corpus.

The folder then translates wherever a checkpoint does (``nmt-translate OUT ...``,
``nmt-evaluate OUT``, ``nmt-serve OUT``), with CTranslate2's search; ``--compute-type``
there picks its precision (float32, int8, int8_float32, ...). ``--quantization`` here
stores the weights quantized (smaller files; the compute type still decides). What is
mapped, and how: :mod:`nmt.export.ct2`. A vocabulary map (``--vocab-map`` here, inside
the export; or a file for the PyTorch search's ``--vocab-map FILE``) makes the search
score only the pieces a batch's sources can translate into: :mod:`nmt.export.vocab_map`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from nmt.errors import NMTError


def add_map_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--vocab-map-candidates", type=int, default=None, metavar="K",
                   help="target pieces per source piece (default 20)")  # fmt: skip
    p.add_argument("--vocab-map-frequent", type=int, default=None, metavar="N",
                   help="most frequent target pieces always scored (default 100)")  # fmt: skip


def map_settings(args: argparse.Namespace) -> dict[str, Any]:
    given = (("per_source", args.vocab_map_candidates), ("frequent", args.vocab_map_frequent))
    settings = {k: v for k, v in given if v is not None}
    if settings.get("per_source", 1) < 1 or settings.get("frequent", 0) < 0:
        raise SystemExit("error: --vocab-map-candidates must be positive, "
                         "--vocab-map-frequent not negative")  # fmt: skip
    return settings


def describe(vm: dict[str, Any]) -> str:
    return (f"vocabulary map: {vm['sources']} source pieces, {vm['mean_candidates']} "
            f"candidates each on average, {vm['always']} always ({vm['pairs']:,} training "
            "pairs)")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="nmt-export", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="format", required=True)
    ct2 = sub.add_parser("ct2", help="a CTranslate2 model folder (the Transformer)")
    ct2.add_argument("checkpoint", help="best.pt or last.pt of a Transformer run")
    ct2.add_argument("out", help="the folder to write (refused when not empty, unless --force)")
    ct2.add_argument("--quantization", default="float32",
                     help="weights stored as float32 (default), int8, int8_float32, int16, "
                     "float16 or bfloat16")  # fmt: skip
    ct2.add_argument("--force", action="store_true", help="replace a non-empty OUT")
    ct2.add_argument(
        "--vocab-map",
        action="store_true",
        help="also write a vocabulary map of the run's training corpus (IBM Model 1): the "
        "search then scores only the pieces a batch's sources can translate into (faster; "
        "translate with --vocab-map off for the whole vocabulary)",
    )
    add_map_args(ct2)
    vmap = sub.add_parser("vmap", help="a vocabulary map of a run's training corpus (a file)")
    vmap.add_argument("checkpoint", help="best.pt or last.pt of any run")
    vmap.add_argument("out", help="the file to write, e.g. RUN/vmap.txt")
    add_map_args(vmap)
    args = p.parse_args(argv)
    settings = map_settings(args)
    try:
        if args.format == "vmap":
            from nmt.export.vocab_map import write_vocab_map

            summary = write_vocab_map(args.checkpoint, args.out, settings, progress=True)
            print(f"{describe(summary)} -> {args.out}")
            print(f"translate: nmt-translate {args.checkpoint} 'Ein Satz.' --vocab-map {args.out}")
            return
        from nmt.export.ct2 import export_ct2

        use_map = getattr(args, "vocab_map", False) or bool(settings)
        manifest = export_ct2(args.checkpoint, args.out, args.quantization, args.force,
                              vocab_map=settings if use_map else None, progress=True)  # fmt: skip
    except NMTError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    test = manifest.get("test") or {}
    bleu = f", the run's test BLEU {test['bleu']:.2f}" if "bleu" in test else ""
    print(f"exported {args.checkpoint} -> {args.out} (CTranslate2 {manifest['ctranslate2']}, "
          f"{manifest['quantization']} weights{bleu})")  # fmt: skip
    if "vocab_map" in manifest:
        print(describe(manifest["vocab_map"]) + "; --vocab-map off translates without it")
    print(f"translate: nmt-translate {args.out} 'Ein Satz.' [--compute-type int8]")


if __name__ == "__main__":
    main()
