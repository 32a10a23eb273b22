"""Turn corpus files into named parallel splits (catalogued corpora and the user's files)."""

from __future__ import annotations

import itertools
import random
import re
import zipfile
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from nmt.data.catalogue import Corpus, check_pair, get_corpus
from nmt.data.config import DataConfig
from nmt.data.fetch import fetch_corpus
from nmt.data.formats import every_nth, read_format, select
from nmt.data.validate import check_aligned, decode_lines, read_lines
from nmt.errors import ConfigError, DataError


@dataclass
class ParallelText:
    """One split as text. ``refs`` are reference streams (sacreBLEU's layout):
    ``refs[k][i]`` is the k-th reference of pair i, and ``refs[0]`` is ``tgt``.
    """

    name: str
    src: list[str]
    tgt: list[str]
    refs: list[list[str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.refs:
            self.refs = [self.tgt]

    def __len__(self) -> int:
        return len(self.src)


#: ``<split>.join<k>``: ``k`` consecutive pairs joined; ``<split>.join<a>-<b>``: consecutive
#: groups of a random size from ``a`` to ``b`` (seeded), each pair once; ``<split>.joinall<a>-<b>``:
#: the whole split joined by ``a``, then by ``a + 1``, ... up to ``b`` (one after the other)
JOINED = re.compile(r"^(?P<base>.+)\.join(?P<all>all)?(?P<lo>[0-9]+)(?:-(?P<hi>[0-9]+))?$")


@dataclass(frozen=True)
class Joining:
    """How a split's consecutive pairs are joined into longer ones (see :data:`JOINED`)."""

    low: int  # fewest pairs in a joined one
    high: int  # most pairs in a joined one
    every: bool = False  # joinall: the split once per group size, low..high

    def apply(self, text: ParallelText, name: str, seed: int) -> ParallelText:
        """The joined split, named ``name``: sources and every reference stream alike."""
        if self.every:
            parts = [join_consecutive(text, k, name) for k in range(self.low, self.high + 1)]
            refs = [[line for p in parts for line in p.refs[r]] for r in range(len(text.refs))]
            return ParallelText(name, [line for p in parts for line in p.src], refs[0], refs)
        if self.low == self.high:
            return join_consecutive(text, self.low, name)
        return join_groups(text, group_sizes(len(text), self.low, self.high, seed), name)


def joined_split(split: str) -> tuple[str, Joining | None]:
    """``("test_2016_flickr", Joining(2, 2))`` for ``test_2016_flickr.join2``,
    ``(split, None)`` for a split that is not joined."""
    m = JOINED.match(split)
    if m is None:
        return split, None
    low = int(m["lo"])
    high = low if m["hi"] is None else int(m["hi"])
    if m["hi"] is None and low < 2:
        raise ConfigError(f"data: {split!r} joins {low} sentence(s); use .join2 or more")
    if low < 1 or (m["hi"] is not None and high <= low):
        raise ConfigError(
            f"data: {split!r} has an empty or reversed range; write .join<a>-<b> with 1 <= a < b"
        )
    return m["base"], Joining(low, high, every=m["all"] is not None)


def _role(cfg: DataConfig, extra: str) -> str:
    """An extra test's role name: the split name, or a file prefix's last component."""
    return Path(extra).name if cfg.name == "files" else extra


def role_splits(cfg: DataConfig) -> dict[str, str]:
    """Role ("train", "valid", "test" or an extra test's name) -> the split as configured
    (``<split>.join...`` included)."""
    roles = {"train": cfg.train, "valid": cfg.valid, "test": cfg.test}
    for extra in cfg.extra_tests:
        key = _role(cfg, extra)
        if key in roles:
            raise ConfigError(f"data.extra_tests: {extra!r} clashes with split name {key!r}")
        roles[key] = extra
    return roles


def split_roles(cfg: DataConfig) -> dict[str, str]:
    """Role -> split name or file prefix to read (for a joined split ``<split>.join...``,
    the split it is made from)."""
    return {role: joined_split(split)[0] for role, split in role_splits(cfg).items()}


def join_consecutive(text: ParallelText, k: int, name: str) -> ParallelText:
    """Every ``k`` consecutive pairs joined into one (sources, and each reference stream,
    joined with a space; a shorter last group is dropped): the "trained short, tested
    long" setting of Bahdanau et al. (2015), Fig. 2, on real text."""
    n = len(text.src) // k
    return join_groups(text, [k] * n, name)


def group_sizes(n: int, low: int, high: int, seed: int) -> list[int]:
    """Sizes of consecutive groups covering ``n`` pairs, each drawn uniformly from
    ``low..high`` (seeded); a last group under ``low`` pairs is dropped."""
    rng = random.Random(f"join:{seed}")
    sizes: list[int] = []
    left = n
    while left >= low:
        size = min(rng.randint(low, high), left)
        sizes.append(size)
        left -= size
    return sizes


def join_groups(text: ParallelText, sizes: list[int], name: str) -> ParallelText:
    """Consecutive groups of ``sizes`` pairs, from the first pair on, each joined into one."""
    starts = [0, *itertools.accumulate(sizes)][:-1]

    def join(lines: list[str]) -> list[str]:
        groups = zip(starts, sizes, strict=True)
        return [" ".join(s.strip() for s in lines[i : i + k]) for i, k in groups]

    refs = [join(stream) for stream in text.refs]
    return ParallelText(name, join(text.src), refs[0], refs)


def join_splits(cfg: DataConfig, texts: dict[str, ParallelText]) -> dict[str, ParallelText]:
    """Replace each role whose split is ``<split>.join...`` (read as its base split) by its
    joined form, named as configured."""
    for role, split in role_splits(cfg).items():
        _, joining = joined_split(split)
        if joining is not None and role in texts:
            name = role if role not in ("train", "valid", "test") else split
            texts[role] = joining.apply(texts[role], Path(name).name, cfg.seed)
    return texts


def load_corpus_text(
    cfg: DataConfig, log: Callable[[str], None] = print, only: Collection[str] | None = None
) -> tuple[dict[str, ParallelText], dict[str, int]]:
    """Read every split (or the roles in ``only``) of a catalogued corpus or of the user's
    files, unfiltered.

    Returns the splits by role and, per role, pairs removed for overlap with training.
    """
    roles = split_roles(cfg)
    if only is not None:
        roles = {role: split for role, split in roles.items() if role in only}
    if cfg.name == "files":
        return {
            role: read_files_split(prefix, cfg.src, cfg.tgt) for role, prefix in roles.items()
        }, {}
    corpus = get_corpus(cfg.name)
    check_pair(corpus, cfg.src, cfg.tgt, list(roles.values()))
    folder = fetch_corpus(corpus, cfg.root, cfg.mirror, langs=(cfg.src, cfg.tgt), log=log)
    if corpus.reader == "tatoeba":
        return read_tatoeba(folder, cfg, roles, log)
    return {
        role: read_catalogue_split(corpus, folder, split, cfg.src, cfg.tgt)
        for role, split in roles.items()
    }, {}


def read_catalogue_split(
    corpus: Corpus, folder: Path, split: str, src: str, tgt: str
) -> ParallelText:
    """A split of a ``parallel`` corpus: its files for ``src`` -> ``tgt`` read as the split's
    format (plain, SGM, IWSLT XML or tags; nmt/data/formats.py) and concatenated in
    catalogue order, then, for a held-out rule (``every``/``keep``), every n-th pair or
    the others."""
    spec = corpus.splits[split]
    files = spec.files_for_pair(src, tgt)
    src_lines: list[str] = []
    tgt_lines: list[str] = []
    for s_name, t_name in zip(files[src], files[tgt], strict=True):
        s, t = read_format(folder / s_name, spec.format), read_format(folder / t_name, spec.format)
        check_aligned(s, t, str(folder / s_name), str(folder / t_name))
        src_lines += s
        tgt_lines += t
    refs = [tgt_lines]
    for r_name in spec.extra_refs.get(tgt, ()):
        ref = read_format(folder / r_name, spec.format)
        check_aligned(src_lines, ref, "+".join(files[src]), str(folder / r_name))
        refs.append(ref)
    if spec.keep != "all":
        kept = every_nth(len(src_lines), spec.every, spec.keep)
        src_lines, refs = select(src_lines, kept), [select(r, kept) for r in refs]
    return ParallelText(split, src_lines, refs[0], refs)


def read_files_split(prefix: str, src: str, tgt: str) -> ParallelText:
    """The user's split ``prefix``: ``prefix.tsv`` if it exists, else ``prefix.<lang>[.gz]``."""
    if prefix in ("", "???"):
        raise ConfigError("data.train/valid/test must name a file prefix for data.name=files")
    base = Path(prefix).expanduser()
    tsv = base if base.suffix == ".tsv" else Path(f"{base}.tsv")
    name = base.stem if base.suffix == ".tsv" else base.name
    if tsv.is_file():
        lines = read_lines(tsv)
        src_lines, tgt_lines = [], []
        for i, line in enumerate(lines, 1):
            cols = line.split("\t")
            if len(cols) < 2:
                raise DataError(f"{tsv}: line {i} has no TAB; each line must be source<TAB>target")
            src_lines.append(cols[0])
            tgt_lines.append(cols[1])
        return ParallelText(name, src_lines, tgt_lines)
    paths = []
    for lang in (src, tgt):
        candidates = [Path(f"{base}.{lang}"), Path(f"{base}.{lang}.gz")]
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            raise DataError(
                f"no {candidates[0]} (or .gz) and no {tsv}; "
                f"write the split as {base}.{src} + {base}.{tgt} or as {tsv}"
            )
        paths.append(found)
    src_lines, tgt_lines = read_lines(paths[0]), read_lines(paths[1])
    check_aligned(src_lines, tgt_lines, str(paths[0]), str(paths[1]))
    return ParallelText(name, src_lines, tgt_lines)


def read_tatoeba(
    folder: Path, cfg: DataConfig, roles: dict[str, str], log: Callable[[str], None]
) -> tuple[dict[str, ParallelText], dict[str, int]]:
    """Tatoeba: train/valid from ``fra.txt`` (valid held out by English sentence, seeded),
    test from the Tatoeba Challenge set minus pairs whose English side occurs in ``fra.txt``.
    """
    zip_path = folder / "fra-eng.zip"
    try:
        with zipfile.ZipFile(zip_path) as z:
            data = z.read("fra.txt")
    except (OSError, KeyError, zipfile.BadZipFile) as e:
        raise DataError(
            f"{zip_path}: cannot read fra.txt ({e}); delete it and fetch again"
        ) from None
    pairs = []
    for i, line in enumerate(decode_lines(data, f"{zip_path}:fra.txt"), 1):
        cols = line.split("\t")
        if len(cols) < 2:
            raise DataError(
                f"{zip_path}:fra.txt: line {i} has no TAB; the zip is not the expected release"
            )
        pairs.append((cols[0], cols[1]))
    train, valid = _hold_out(pairs, cfg.valid_size, cfg.seed)
    seen = {en for en, _ in pairs}
    en_path, fr_path = (
        folder / "tatoeba-test-v2021-08-07.eng",
        folder / "tatoeba-test-v2021-08-07.fra",
    )
    en_test, fr_test = read_lines(en_path), read_lines(fr_path)
    check_aligned(en_test, fr_test, str(en_path), str(fr_path))
    test = [(en, fr) for en, fr in zip(en_test, fr_test, strict=True) if en not in seen]
    removed = len(en_test) - len(test)
    log(f"tatoeba test: removed {removed} of {len(en_test)} pairs whose English side is in fra.txt")
    by_split = {"train": train, "valid": valid, "test": test}
    out: dict[str, ParallelText] = {}
    for role, split in roles.items():
        chosen = by_split[split]
        en, fr = [p[0] for p in chosen], [p[1] for p in chosen]
        src, tgt = (en, fr) if cfg.src == "en" else (fr, en)
        out[role] = ParallelText(split, src, tgt)
    return out, {role: removed for role, split in roles.items() if split == "test"}


def _hold_out(
    pairs: list[tuple[str, str]], size: int, seed: int
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Hold out about ``size`` pairs, whole English-sentence groups at a time (seeded),
    so no valid English sentence also occurs in train."""
    groups: dict[str, list[int]] = {}
    for i, (en, _) in enumerate(pairs):
        groups.setdefault(en, []).append(i)
    keys = list(groups)
    random.Random(seed).shuffle(keys)
    held: set[int] = set()
    for key in keys:
        if len(held) >= size:
            break
        if len(held) + len(groups[key]) <= size:
            held.update(groups[key])
    train = [p for i, p in enumerate(pairs) if i not in held]
    valid = [p for i, p in enumerate(pairs) if i in held]
    return train, valid
