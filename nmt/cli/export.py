"""``nmt-export ct2 CHECKPOINT OUT``: a Transformer checkpoint as a CTranslate2 model.

The folder then translates wherever a checkpoint does (``nmt-translate OUT ...``,
``nmt-evaluate OUT``, ``nmt-serve OUT``), with CTranslate2's search; ``--compute-type``
there picks its precision (float32, int8, int8_float32, ...). ``--quantization`` here
stores the weights quantized (smaller files; the compute type still decides). What is
mapped, and how: :mod:`nmt.export.ct2`.
"""

from __future__ import annotations

import argparse
import sys

from nmt.errors import NMTError


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
    args = p.parse_args(argv)
    try:
        from nmt.export.ct2 import export_ct2

        manifest = export_ct2(args.checkpoint, args.out, args.quantization, args.force)
    except NMTError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    test = manifest.get("test") or {}
    bleu = f", the run's test BLEU {test['bleu']:.2f}" if "bleu" in test else ""
    print(f"exported {args.checkpoint} -> {args.out} (CTranslate2 {manifest['ctranslate2']}, "
          f"{manifest['quantization']} weights{bleu})")  # fmt: skip
    print(f"translate: nmt-translate {args.out} 'Ein Satz.' [--compute-type int8]")


if __name__ == "__main__":
    main()
