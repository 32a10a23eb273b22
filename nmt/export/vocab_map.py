"""A vocabulary map (``vmap.txt``, CTranslate2's format): the candidates of a lexical shortlist.

With a map, a search scores only the target pieces that the batch's source pieces can
translate into, instead of the whole vocabulary: CTranslate2 through its ``use_vmap``, the
PyTorch search through :mod:`nmt.translation.shortlist`. The output layer (the largest
single cost of a PyTorch decoder step, ``make profile-decode``) and the search over it
shrink with it. The
candidates of a source piece come from the training corpus, by IBM Model 1 (Brown et al.
1993, §4.1): EM over the sentence pairs estimates the lexical translation probabilities
t(e | f) of every target piece e given a source piece f (a NULL source word included, for
pieces no source word explains)::

    E-step: c(e, f; s) = t(e | f) / sum_{f' in s} t(e | f')  for each e, f co-occurring in s
    M-step: t(e | f) = sum_s c(e, f; s) / sum_s sum_e' c(e', f; s)

Each source piece maps to its ``per_source`` most probable target pieces (those with
t >= ``min_prob``) and, in a joint vocabulary, to itself (names and numbers copy through);
the ``frequent`` most frequent target pieces and the NULL word's candidates are always
candidates (the map's line with an empty key). The file format is CTranslate2's: one line
per source piece, ``piece<TAB>candidate candidate ...``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from nmt import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from nmt.data.tokenizer import Tokenizer
from nmt.errors import ConfigError, NMTError
from nmt.runs.checkpoint import load_checkpoint

#: defaults, chosen before any measurement (OpenNMT-style maps keep tens of candidates a word)
PER_SOURCE = 20
FREQUENT = 100
MIN_PROB = 0.01
ITERATIONS = 5
MAX_PAIRS = 200_000
MAX_LINKS = 60_000_000  # co-occurrences held at once: ~2 GB at the peak


def ibm1(
    pairs: Sequence[tuple[Sequence[int], Sequence[int]]],
    src_vocab: int,
    tgt_vocab: int,
    iterations: int = ITERATIONS,
    progress: bool = False,
    max_links: int = MAX_LINKS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IBM Model 1's t(e | f) by EM over ``pairs`` of (source ids, target ids), the pairs
    read in order until ``max_links`` co-occurrences (source words x target words).

    Returns three arrays of equal length, one entry per co-occurring (f, e): source ids
    (``src_vocab`` is the NULL word), target ids and t(e | f).
    """
    null = src_vocab
    fs, es, gs = [], [], []
    group = 0  # one group per target position: its probabilities sum to 1 over the sources
    links = 0  # co-occurrences so far: memory grows with them (~30 bytes each)
    for src, tgt in pairs:
        if not len(tgt):
            continue
        links += (len(src) + 1) * len(tgt)
        if links > max_links:
            break
        f = np.append(np.asarray(src, dtype=np.int64), null)  # (S + 1,)
        e = np.asarray(tgt, dtype=np.int64)  # (T,)
        fs.append(np.tile(f, len(e)))
        es.append(np.repeat(e, len(f)))
        gs.append(np.repeat(np.arange(group, group + len(e), dtype=np.int32), len(f)))
        group += len(e)
    if not fs:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    f_all, e_all, g_all = np.concatenate(fs), np.concatenate(es), np.concatenate(gs)
    keys, inverse = np.unique(f_all * tgt_vocab + e_all, return_inverse=True)
    inverse = inverse.astype(np.int32)
    del fs, es, gs, e_all, f_all
    key_f = keys // tgt_vocab  # (K,)
    t = np.full(len(keys), 1.0 / tgt_vocab)  # uniform start (any constant: Model 1 is convex)
    for _ in tqdm(range(iterations), desc="vocab map (IBM 1 EM)", disable=not progress):
        p = t[inverse]  # (N,): t(e | f) of every co-occurrence
        z = np.bincount(g_all, weights=p, minlength=group)  # (G,)
        counts = np.bincount(inverse, weights=p / z[g_all], minlength=len(keys))  # (K,)
        totals = np.bincount(key_f, weights=counts, minlength=src_vocab + 1)  # (F + 1,)
        t = counts / totals[key_f]
    return key_f, keys % tgt_vocab, t


def top_candidates(
    key_f: np.ndarray, key_e: np.ndarray, t: np.ndarray, per_source: int, min_prob: float
) -> dict[int, list[int]]:
    """Each source id's ``per_source`` most probable target ids with t >= ``min_prob``."""
    order = np.lexsort((-t, key_f))  # by source, then by t, highest first
    f, e, p = key_f[order], key_e[order], t[order]
    first = np.searchsorted(f, f, side="left")  # where each source's run begins
    rank = np.arange(len(f)) - first
    keep = (rank < per_source) & (p >= min_prob)
    out: dict[int, list[int]] = {}
    for fi, ei in zip(f[keep].tolist(), e[keep].tolist(), strict=True):
        out.setdefault(fi, []).append(ei)
    return out


def build_vocab_map(
    pairs: Sequence[tuple[Sequence[int], Sequence[int]]],
    src_pieces: Sequence[str],
    tgt_pieces: Sequence[str],
    special: Sequence[int],
    per_source: int = PER_SOURCE,
    frequent: int = FREQUENT,
    min_prob: float = MIN_PROB,
    iterations: int = ITERATIONS,
    progress: bool = False,
) -> tuple[str, dict[str, Any]]:
    """The ``vmap.txt`` text of ``pairs`` (source ids, target ids, without BOS/EOS) and a
    summary for the export's manifest. ``special`` ids (padding, BOS, EOS, unknown) are
    never keys; CTranslate2 adds its own special pieces to every candidate set."""
    n_src, n_tgt = len(src_pieces), len(tgt_pieces)
    key_f, key_e, t = ibm1(pairs, n_src, n_tgt, iterations, progress)
    candidates = top_candidates(key_f, key_e, t, per_source, min_prob)
    counts = np.bincount(
        np.concatenate([np.asarray(e, dtype=np.int64) for _, e in pairs] or [np.zeros(0, int)]),
        minlength=n_tgt,
    )
    skip = set(special)
    always = [int(i) for i in np.argsort(-counts, kind="stable")[:frequent] if counts[i] > 0]
    always += candidates.get(n_src, [])  # what the NULL word explains: function words
    always = [i for i in dict.fromkeys(always) if i not in skip]
    tgt_ids = {p: i for i, p in enumerate(tgt_pieces)}
    lines = ["\t" + " ".join(tgt_pieces[i] for i in always)]
    sizes = []
    for f in range(n_src):
        if f in skip:
            continue
        cands = [e for e in candidates.get(f, []) if e not in skip]
        same = tgt_ids.get(src_pieces[f])
        if same is not None and same not in skip:
            cands.append(same)  # a piece of a joint vocabulary may translate into itself
        cands = list(dict.fromkeys(cands))
        if cands:
            lines.append(src_pieces[f] + "\t" + " ".join(tgt_pieces[e] for e in cands))
            sizes.append(len(cands))
    summary = {
        "method": f"IBM Model 1, {iterations} EM iterations",
        "pairs": len(pairs),
        "per_source": per_source,
        "min_prob": min_prob,
        "frequent": frequent,
        "always": len(always),
        "sources": len(sizes),
        "mean_candidates": round(float(np.mean(sizes)), 1) if sizes else 0.0,
    }
    return "\n".join(lines) + "\n", summary


def sample(n: int, limit: int) -> list[int]:
    """Indices of at most ``limit`` of ``n`` items, spread evenly (deterministic)."""
    if n <= limit:
        return list(range(n))
    return np.linspace(0, n - 1, limit).round().astype(int).tolist()


def training_vocab_map(
    ckpt: dict[str, Any], tokenizer: Tokenizer, settings: dict[str, Any], progress: bool
) -> tuple[str, dict[str, Any]]:
    """The vocabulary map of the checkpoint's training corpus (read as the run's data
    config says: fetched, or from ``NMT_DATA_MIRROR``), and its summary."""
    from nmt.data.text import read_text

    max_pairs = int(settings.pop("max_pairs", MAX_PAIRS))
    try:
        train = read_text(ckpt["data"], log=lambda _: None, roles=["train"])[0]["train"]
    except (NMTError, OSError) as e:
        raise ConfigError(
            f"--vocab-map: cannot read the run's training corpus ({e}); it builds the map"
        ) from None
    keep = sample(len(train), max_pairs)
    src = tokenizer.encode_src_batch([train.src[i] for i in keep])
    tgt = tokenizer.encode_tgt_batch([train.tgt[i] for i in keep])
    return build_vocab_map(
        list(zip(src, tgt, strict=True)), tokenizer.src_vocab(), tokenizer.tgt_vocab(),
        special=(PAD_ID, BOS_ID, EOS_ID, UNK_ID), progress=progress, **settings,
    )  # fmt: skip


def write_vocab_map(
    checkpoint: str | Path, out: str | Path, settings: dict[str, Any], progress: bool = False
) -> dict[str, Any]:
    """``nmt-export vmap CKPT FILE``: the map of a checkpoint's training corpus as a file,
    for the PyTorch search's ``--vocab-map FILE``; returns its summary."""
    ckpt = load_checkpoint(Path(checkpoint))
    tokenizer = Tokenizer.from_state_dict(ckpt["tokenizer"])
    text, summary = training_vocab_map(ckpt, tokenizer, dict(settings), progress)
    out = Path(out)
    if out.is_dir():
        raise ConfigError(f"{out}: is a folder; give the map's file name (e.g. {out}/vmap.txt)")
    tmp = out.with_name(out.name + ".tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out)  # complete or absent
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"{out}: cannot write the map ({e.strerror or e})") from None
    return summary
