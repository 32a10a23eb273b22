"""``nmt-translate CHECKPOINT [SENTENCE ... | -i FILE] [-o FILE]``: translate with a checkpoint.

Sentences come from the arguments, else one per line from ``-i FILE`` (plain or
``.gz``) or stdin (a pipe or a file), else from an interactive prompt when stdin is
a terminal. Files and pipes are streamed: ``--buffer`` lines at a time are read,
sorted by length into token-budget batches, translated and written in input order,
so memory does not grow with the input; with ``-i`` a progress bar (sentences/s,
ETA) goes to stderr. Every input line gives one output line: an empty line, or one
that is not valid UTF-8 (with a warning naming its number), gives an empty line; an
over-long line is truncated with a warning.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import sys
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO, TextIO

from nmt.cli.common import (
    add_decoding_args,
    add_engine_args,
    add_precision_arg,
    decoding_from_args,
    engine_kwargs,
    positive_int,
    precision_from_args,
    resolve_device,
)
from nmt.errors import NMTError

#: what each --nbest line holds, said in --help and on stderr when the columns are printed
NBEST_COLUMNS = (
    "input line (from 0), rank (0 = best), score (log-probability over the GNMT length "
    "penalty; CTranslate2's own under --engine ct2), translation"
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="nmt-translate", description=__doc__.split("\n")[0])
    p.add_argument("checkpoint", help="best.pt or last.pt of an nmt run, or an nmt-export folder")
    p.add_argument("sentences", nargs="*", help="sentences to translate (default: stdin)")
    p.add_argument("-i", "--input", help="translate this file (plain or .gz), one sentence a line")
    p.add_argument("-o", "--output", help="write the translations here (default: stdout)")
    p.add_argument(
        "--buffer",
        type=positive_int,
        default=2000,
        help="lines read, sorted into batches and written at a time (default 2000)",
    )
    p.add_argument(
        "--nbest",
        type=positive_int,
        default=1,
        help="print the N best translations, one a line, tab-separated: " + NBEST_COLUMNS,
    )
    p.add_argument("--attention-png", metavar="PATH", help="save an attention heat map per line")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (default auto)")
    p.add_argument(
        "--max-input-tokens", type=positive_int, default=250, help="truncate longer inputs"
    )
    add_precision_arg(p)
    add_engine_args(p)
    add_decoding_args(p)
    args = p.parse_intermixed_args(argv)
    if args.input and args.sentences:
        p.error("give sentences as arguments or -i FILE, not both")
    return args


def heatmap_path(base: str, index: int, count: int) -> Path:
    path = Path(base)
    return path if count == 1 else path.with_name(f"{path.stem}_{index + 1}{path.suffix}")


def read_lines(stream: Iterable[bytes]) -> Iterator[str]:
    """Lines of a byte stream as text, one per input line, lazily: a line that is not valid
    UTF-8 becomes an empty line (an empty translation) with a warning naming its number."""
    for n, raw in enumerate(stream, 1):
        raw = raw.rstrip(b"\r\n")
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as e:
            print(
                f"warning: input line {n} is not valid UTF-8 ({e.reason} at byte {e.start}); "
                "its translation is left empty",
                file=sys.stderr,
            )
            yield ""


def open_input(path: str) -> BinaryIO:
    """A file to read as bytes, decompressed when its name ends in .gz (NMTError if absent)."""
    from nmt.errors import DataError

    try:
        return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")
    except OSError as e:
        raise DataError(f"-i {path}: cannot read it ({e.strerror}); check the path") from None


def count_lines(path: str) -> int:
    """Lines of a file (a last line without a newline counts), read in 1 MiB blocks."""
    n, last = 0, b"\n"
    with open_input(path) as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            n, last = n + block.count(b"\n"), block[-1:]
    return n + (last != b"\n")


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


def emit(
    translator,
    lines: list[str],
    args: argparse.Namespace,
    offset: int = 0,
    out: TextIO | None = None,
) -> None:
    """Translate ``lines`` (numbered from ``offset``) and write them to ``out`` (stdout)."""
    out = out or sys.stdout
    decoding = decoding_from_args(translator.decoding, args)
    decoding = decoding.replace(beam=max(decoding.beam, args.nbest))
    results = translator.translate(
        lines, decoding, nbest=args.nbest, return_attention=bool(args.attention_png)
    )
    for i, (line, hyps) in enumerate(zip(lines, results, strict=True)):
        if args.nbest > 1:
            for rank, h in enumerate(hyps):
                out.write(f"{offset + i}\t{rank}\t{h.score:.4f}\t{h.text}\n")
        else:
            out.write(hyps[0].text + "\n")
        if args.attention_png and hyps[0].attention is not None and line.strip():
            from nmt.translation.plots import attention_figure, save_figure

            tok = translator.tokenizer
            fig = attention_figure(
                hyps[0].attention,
                [*tok.src_pieces(line)[: translator.max_input_tokens], "</s>"],
                [*tok.tgt_pieces(hyps[0].tokens), "</s>"],
                hyps[0].text,
            )
            path = heatmap_path(args.attention_png, offset + i, args._count)
            save_figure(fig, str(path))
            print(f"attention heat map: {path}", file=sys.stderr)
    out.flush()


def stream(
    translator, lines: Iterator[str], args: argparse.Namespace, out: TextIO, total: int | None
) -> int:
    """Translate ``lines`` ``args.buffer`` at a time, in input order; returns how many.
    With a known ``total`` a progress bar (sentences/s, ETA) goes to stderr."""
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc="translate", unit="sent", disable=total is None, file=sys.stderr)
    done = 0
    with bar:
        while chunk := list(itertools.islice(lines, args.buffer)):
            if args._count is None:  # heat maps: one base name when the input is one line
                args._count = len(chunk) if len(chunk) < args.buffer else 10**9
            emit(translator, chunk, args, offset=done, out=out)
            done += len(chunk)
            bar.update(len(chunk))
    return done


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        with ExitStack() as stack:
            # the input first: a wrong path fails before the model loads
            source = stack.enter_context(open_input(args.input)) if args.input else None
            from nmt.export.load import load_translator

            device = resolve_device(args.device)
            translator = load_translator(
                args.checkpoint,
                device=device,
                max_input_tokens=args.max_input_tokens,
                precision=precision_from_args(args, device),
                **engine_kwargs(args),
            )
            if args.nbest > 1:
                print(f"--nbest {args.nbest}: tab-separated {NBEST_COLUMNS}", file=sys.stderr)
            out = sys.stdout
            if args.output:
                out = stack.enter_context(open(args.output, "w", encoding="utf-8"))
            if args.sentences:
                args._count = len(args.sentences)
                lines = [usable(s, f"argument {i}") for i, s in enumerate(args.sentences, 1)]
                emit(translator, lines, args, out=out)
                n = len(lines)
            elif source is not None or not sys.stdin.isatty():
                args._count = count_lines(args.input) if args.input else None
                lines = read_lines(source if source is not None else sys.stdin.buffer)
                n = stream(translator, lines, args, out, args._count)
            else:
                n = prompt(translator, args, out)
        if args.output:
            print(f"{n} line(s) translated -> {args.output}", file=sys.stderr)
    except NMTError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


def prompt(translator, args: argparse.Namespace, out: TextIO) -> int:
    """Translate what is typed at the terminal, line by line, until Ctrl-D."""
    args._count = 10**9  # unknown: number every heat map
    info = translator.checkpoint_info.get("data", {})
    print(
        f"{info.get('src', '?')}→{info.get('tgt', '?')}; one sentence per line, Ctrl-D to quit",
        file=sys.stderr,
    )
    count = 0
    while True:
        try:
            line = input("> ")
        except EOFError:
            return count
        emit(translator, [usable(line, "that line")], args, offset=count, out=out)
        count += 1


if __name__ == "__main__":
    main()
