"""``nmt-translate CHECKPOINT [SENTENCE ...]``: translate with a self-describing checkpoint.

Sentences come from the arguments, else one per line from stdin (a pipe or a
file), else from an interactive prompt when stdin is a terminal. An empty line
gives an empty line; an over-long line is truncated with a warning on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import BinaryIO

from nmt.cli.common import add_decoding_args, decoding_from_args, positive_int, resolve_device
from nmt.errors import NMTError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="nmt-translate", description=__doc__.split("\n")[0])
    p.add_argument("checkpoint", help="best.pt or last.pt of an nmt run")
    p.add_argument("sentences", nargs="*", help="sentences to translate (default: stdin)")
    p.add_argument("--nbest", type=positive_int, default=1, help="print the N best translations")
    p.add_argument("--attention-png", metavar="PATH", help="save an attention heat map per line")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (default auto)")
    p.add_argument(
        "--max-input-tokens", type=positive_int, default=250, help="truncate longer inputs"
    )
    add_decoding_args(p)
    return p.parse_intermixed_args(argv)


def heatmap_path(base: str, index: int, count: int) -> Path:
    path = Path(base)
    return path if count == 1 else path.with_name(f"{path.stem}_{index + 1}{path.suffix}")


def read_lines(stream: BinaryIO) -> list[str]:
    """Lines of a byte stream as text, one per input line: a line that is not valid UTF-8
    becomes an empty line (an empty translation) with a warning naming its number."""
    lines = []
    for n, raw in enumerate(stream, 1):
        raw = raw.rstrip(b"\r\n")
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError as e:
            print(
                f"warning: input line {n} is not valid UTF-8 ({e.reason} at byte {e.start}); "
                "its translation is left empty",
                file=sys.stderr,
            )
            lines.append("")
    return lines


def usable(text: str, where: str) -> str:
    """``text``, or "" with a warning when it holds undecodable bytes (from argv/input)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        print(
            f"warning: {where} is not valid UTF-8; its translation is left empty", file=sys.stderr
        )
        return ""
    return text


def emit(translator, lines: list[str], args: argparse.Namespace, offset: int = 0) -> None:
    decoding = decoding_from_args(translator.decoding, args)
    decoding = decoding.replace(beam=max(decoding.beam, args.nbest))
    results = translator.translate(
        lines, decoding, nbest=args.nbest, return_attention=bool(args.attention_png)
    )
    for i, (line, hyps) in enumerate(zip(lines, results, strict=True)):
        if args.nbest > 1:
            for rank, h in enumerate(hyps):
                print(f"{offset + i}\t{rank}\t{h.score:.4f}\t{h.text}")
        else:
            print(hyps[0].text)
        if args.attention_png and hyps[0].attention is not None and line.strip():
            from nmt.plots import attention_figure, save_figure

            tok = translator.tokenizer
            fig = attention_figure(
                hyps[0].attention,
                [*tok.src_pieces(line)[: translator.max_input_tokens], "</s>"],
                [*tok.tgt_pieces(hyps[0].tokens), "</s>"],
                hyps[0].text,
            )
            out = heatmap_path(args.attention_png, offset + i, args._count)
            save_figure(fig, str(out))
            print(f"attention heat map: {out}", file=sys.stderr)
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        from nmt.translator import Translator

        translator = Translator.from_checkpoint(
            args.checkpoint,
            device=resolve_device(args.device),
            max_input_tokens=args.max_input_tokens,
        )
        if args.sentences:
            args._count = len(args.sentences)
            emit(
                translator,
                [usable(s, f"argument {i}") for i, s in enumerate(args.sentences, 1)],
                args,
            )
        elif not sys.stdin.isatty():
            lines = read_lines(sys.stdin.buffer)
            args._count = len(lines)
            emit(translator, lines, args)
        else:
            args._count = 10**9  # unknown: number every heat map
            info = translator.checkpoint_info.get("data", {})
            print(
                f"{info.get('src', '?')}→{info.get('tgt', '?')}; one sentence per line, "
                "Ctrl-D to quit",
                file=sys.stderr,
            )
            count = 0
            while True:
                try:
                    line = input("> ")
                except EOFError:
                    break
                emit(translator, [usable(line, "that line")], args, offset=count)
                count += 1
    except NMTError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
