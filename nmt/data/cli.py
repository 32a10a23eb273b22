"""``nmt-data``: list the corpora, fetch one, show its split statistics, export a split as
plain text files, or prepare a run's training split once, as nmt-train reads it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from nmt.data.catalogue import CATALOGUE, LOCAL_CORPORA, get_corpus
from nmt.data.config import DataConfig, SyntheticConfig, TokenizerConfig, split_name
from nmt.data.fetch import fetch_corpus
from nmt.errors import DataError, NMTError
from nmt.io import atomic_write


def _log(msg: str) -> None:
    print(msg, file=sys.stderr)


def cmd_list(_: argparse.Namespace) -> int:
    rows = [("corpus", "languages", "splits", "description")]
    for c in CATALOGUE.values():
        rows.append((c.name, ",".join(c.languages), " ".join(c.splits), c.description))
    for name, desc in LOCAL_CORPORA.items():
        rows.append((name, "any" if name == "files" else "-", "train valid test", desc))
    print(table(rows))
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    folder = fetch_corpus(args.corpus, args.root, args.mirror, log=_log)
    print(f"{args.corpus}: all files present and verified in {folder}")
    return 0


def stats_config(args: argparse.Namespace) -> DataConfig:
    """The data config ``stats`` uses: the corpus's defaults with the command's options."""
    tok = TokenizerConfig(vocab_size=args.vocab_size, type=args.tokenizer)
    cfg = DataConfig(name=args.corpus, root=args.root or "data", mirror=args.mirror, tokenizer=tok)
    if args.corpus == "synthetic":
        cfg.src, cfg.tgt, cfg.valid = "src", "tgt", "valid"
        cfg.test, cfg.synthetic = "test", SyntheticConfig()
    elif args.corpus == "files":
        cfg.train, cfg.valid, cfg.test = args.train, args.valid, args.test
    else:
        corpus = get_corpus(args.corpus)
        cfg.src, cfg.tgt = corpus.default_pair
        cfg.train, cfg.valid, cfg.test = corpus.default_splits
        cfg.extra_tests = list(corpus.default_extra_tests)
        cfg.max_len = corpus.default_max_len
    cfg.src = args.src or cfg.src
    cfg.tgt = args.tgt or cfg.tgt
    if args.max_len is not None:
        cfg.max_len = args.max_len
    cfg.max_tokens = max(cfg.max_tokens, cfg.max_len + 1)
    return cfg


def cmd_stats(args: argparse.Namespace) -> int:
    from nmt.data.prepare import prepare_data

    data = prepare_data(stats_config(args), log=_log)
    rows = [("split", "pairs", "src mean", "src p95", "src max", "tgt mean", "tgt p95", "tgt max")]
    for name, examples in data.encoded.items():
        if hasattr(examples, "lengths"):  # the prepared train split: its index
            src, tgt = (sorted((examples.lengths()[:, k] - 1).tolist()) for k in (0, 1))
        else:
            src = sorted(len(s) - 1 for s, _ in examples)  # without the EOS batching adds
            tgt = sorted(len(t or ()) for _, t in examples)
        official = data.text[name].name if name in data.text else split_name(data.config, name)
        row = [name if official == name else f"{name} ({official})", str(len(examples))]
        for lens in (src, tgt):
            row += length_stats(lens)
        rows.append(tuple(row))
    tok = data.tokenizer
    print(
        f"{args.corpus} {data.config.src}->{data.config.tgt}, lengths in subword tokens "
        f"(vocab {tok.src_vocab_size}/{tok.tgt_vocab_size}, eval splits cut to max_len)"
    )
    print(table(rows))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """One split of a catalogued corpus, exactly as training and testing read it (files
    concatenated in catalogue order, a Tatoeba split held out, a ``.join...`` split joined),
    as ``PREFIX.<src>`` and ``PREFIX.<tgt>`` (further references: ``PREFIX.ref<k>.<tgt>``):
    the plain files ``data=files``, ``nmt-evaluate --src/--ref`` and other toolkits read."""
    from nmt.data.corpora import joined_split
    from nmt.data.prepare import read_text

    corpus = get_corpus(args.corpus)
    cfg = DataConfig(name=args.corpus, root=args.root or "data", mirror=args.mirror)
    cfg.src, cfg.tgt = args.src or corpus.default_pair[0], args.tgt or corpus.default_pair[1]
    cfg.train, cfg.valid, cfg.test = corpus.default_splits
    roles = {cfg.train: "train", cfg.valid: "valid", cfg.test: "test"}
    if args.split not in roles:
        if joined_split(args.split)[0] not in corpus.splits:
            raise DataError(
                f"corpus {args.corpus!r} has no split {args.split!r}; its splits: "
                f"{', '.join(corpus.splits)} (or <split>.join<k>, .join<a>-<b>, .joinall<a>-<b>)"
            )
        cfg.extra_tests = [args.split]
    text = read_text(cfg, log=_log)[0][roles.get(args.split, args.split)]
    prefix = Path(args.prefix)
    paths = [Path(f"{prefix}.{cfg.src}"), Path(f"{prefix}.{cfg.tgt}")]
    paths += [Path(f"{prefix}.ref{k}.{cfg.tgt}") for k in range(2, len(text.refs) + 1)]
    for path, lines in zip(paths, [text.src, *text.refs], strict=True):
        data = "".join(f"{line}\n" for line in lines).encode("utf-8")
        atomic_write(path, lambda f, data=data: f.write(data))
    print(f"{args.corpus} {args.split} ({cfg.src}->{cfg.tgt}): {len(text)} pairs -> "
          + ", ".join(map(str, paths)))  # fmt: skip
    return 0


def _prepare_elsewhere() -> int:
    raise DataError("nmt-data prepare runs from the nmt-data command (nmt.cli.data)")


def length_stats(sorted_lens: list[int]) -> list[str]:
    """Mean, 95th percentile (nearest rank) and max, formatted."""
    if not sorted_lens:
        return ["-", "-", "-"]
    n = len(sorted_lens)
    p95 = sorted_lens[min(n - 1, max(0, -(-95 * n // 100) - 1))]
    return [f"{sum(sorted_lens) / n:.1f}", str(p95), str(sorted_lens[-1])]


def table(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned text columns, numbers right-aligned, a rule under the header."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]

    def fmt(row: Sequence[str]) -> str:
        cells = [
            c.rjust(w) if c.replace(".", "", 1).isdigit() else c.ljust(w)
            for c, w in zip(row, widths, strict=True)
        ]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(rows[0]), rule, *(fmt(r) for r in rows[1:])])


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nmt-data", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the corpora nmt knows").set_defaults(func=cmd_list)

    def where(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--mirror", help="offline copy of the downloads (else $NMT_DATA_MIRROR)")
        sp.add_argument("--root", help="data folder (else $NMT_DATA_DIR, else ./data)")

    f = sub.add_parser("fetch", help="download (or copy from a mirror) and verify a corpus")
    f.add_argument("corpus", choices=sorted(CATALOGUE))
    where(f)
    f.set_defaults(func=cmd_fetch)

    s = sub.add_parser("stats", help="pairs and subword lengths per split")
    s.add_argument("corpus", choices=[*sorted(CATALOGUE), *LOCAL_CORPORA])
    s.add_argument("--src", help="source language (default: the corpus's)")
    s.add_argument("--tgt", help="target language (default: the corpus's)")
    s.add_argument("--vocab-size", type=int, default=8000, help="SentencePiece vocabulary")
    s.add_argument("--tokenizer", choices=["unigram", "bpe"], default="unigram")
    s.add_argument(
        "--max-len", type=int, help="max subword tokens per side (default: the corpus's)"
    )
    for split in ("train", "valid", "test"):
        s.add_argument(f"--{split}", default="???", help=f"files corpus: {split} prefix")
    where(s)
    s.set_defaults(func=cmd_stats)

    r = sub.add_parser(
        "prepare",
        help="tokenize a run's training split once into the store training reads "
        "(Hydra overrides, as for nmt-train: nmt-data prepare experiment=wmt14_gpu)",
    )
    r.add_argument("overrides", nargs="*", help="config overrides, as for nmt-train")
    r.set_defaults(func=lambda _: _prepare_elsewhere())

    e = sub.add_parser("export", help="write one split of a corpus as plain text files")
    e.add_argument("corpus", choices=sorted(CATALOGUE))
    e.add_argument("split", help="a split of the corpus (see `nmt-data list`), or <split>.join<k>")
    e.add_argument("prefix", help="output prefix: writes PREFIX.<src> and PREFIX.<tgt>")
    e.add_argument("--src", help="source language (default: the corpus's)")
    e.add_argument("--tgt", help="target language (default: the corpus's)")
    where(e)
    e.set_defaults(func=cmd_export)
    return p


def run(command: Callable[[], int]) -> int:
    """Run an ``nmt-data`` command: an NMTError is one line and status 1, Ctrl-C 130."""
    try:
        return command()
    except NMTError as e:
        print(f"nmt-data: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("nmt-data: interrupted", file=sys.stderr)
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run(lambda: args.func(args))


if __name__ == "__main__":
    sys.exit(main())
