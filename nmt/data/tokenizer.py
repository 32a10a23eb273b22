"""SentencePiece subword tokenization, trained on the train split and cached on disk."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import sentencepiece as spm
import torch

from nmt import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from nmt.data.config import TokenizerConfig
from nmt.errors import CheckpointError, ConfigError

INPUT_SENTENCE_SIZE = 1_000_000


def _ids(ids: Iterable[int] | torch.Tensor) -> list[int]:
    return ids.tolist() if isinstance(ids, torch.Tensor) else [int(i) for i in ids]


def _plain(normalized: str) -> str:
    """SentencePiece's normalized form with its word-boundary marks as plain spaces."""
    return normalized.replace("\u2581", " ").strip()


def _to_tensor(proto: bytes) -> torch.Tensor:
    return torch.frombuffer(bytearray(proto), dtype=torch.uint8).clone()


def _to_bytes(t: torch.Tensor) -> bytes:
    return bytes(t.to(torch.uint8).flatten().tolist())


class Tokenizer:
    """Source and target SentencePiece models (one shared model when ``joint``).

    Encoding adds neither BOS nor EOS; batching adds them.
    """

    def __init__(self, src_proto: bytes, tgt_proto: bytes | None = None) -> None:
        self._src = spm.SentencePieceProcessor(model_proto=src_proto)
        self._tgt = (
            self._src if tgt_proto is None else spm.SentencePieceProcessor(model_proto=tgt_proto)
        )

    @property
    def joint(self) -> bool:
        return self._tgt is self._src

    @property
    def fingerprint(self) -> str:
        """sha256 of the serialized model(s): equal exactly when two runs tokenize alike."""
        digest = hashlib.sha256(self._src.serialized_model_proto())
        if not self.joint:
            digest.update(b"\0" + self._tgt.serialized_model_proto())
        return digest.hexdigest()

    @property
    def src_vocab_size(self) -> int:
        return self._src.get_piece_size()

    @property
    def tgt_vocab_size(self) -> int:
        return self._tgt.get_piece_size()

    def src_vocab(self) -> list[str]:
        """Every source piece, by id."""
        return [self._src.id_to_piece(i) for i in range(self.src_vocab_size)]

    def tgt_vocab(self) -> list[str]:
        """Every target piece, by id."""
        return [self._tgt.id_to_piece(i) for i in range(self.tgt_vocab_size)]

    def encode_src(self, text: str) -> list[int]:
        return self._src.encode(text, out_type=int)

    def encode_tgt(self, text: str) -> list[int]:
        return self._tgt.encode(text, out_type=int)

    def encode_src_batch(self, texts: list[str]) -> list[list[int]]:
        return self._src.encode(texts, out_type=int)

    def encode_tgt_batch(self, texts: list[str]) -> list[list[int]]:
        return self._tgt.encode(texts, out_type=int)

    def decode_src(self, ids: Iterable[int] | torch.Tensor) -> str:
        return self._decode(self._src, ids)

    def decode_tgt(self, ids: Iterable[int] | torch.Tensor) -> str:
        """Detokenized text: stops at the first EOS, skips PAD and BOS."""
        return self._decode(self._tgt, ids)

    @staticmethod
    def _decode(sp: spm.SentencePieceProcessor, ids: Iterable[int] | torch.Tensor) -> str:
        out = []
        for i in _ids(ids):
            if i == EOS_ID:
                break
            if i not in (PAD_ID, BOS_ID):
                out.append(i)
        return sp.decode(out)

    def src_pieces(self, text: str, eos: bool = False) -> list[str]:
        """The pieces of ``encode_src(text)`` (plus ``</s>`` with ``eos``), for plot labels."""
        pieces = self._src.encode(text, out_type=str)
        return [*pieces, self._src.id_to_piece(EOS_ID)] if eos else pieces

    def tgt_pieces(self, ids: Iterable[int] | torch.Tensor) -> list[str]:
        return [self._tgt.id_to_piece(i) for i in _ids(ids)]

    def normalize_src(self, text: str) -> str:
        """``text`` as the source model normalizes it (what a round trip gives back)."""
        return _plain(self._src.normalize(text))

    def normalize_tgt(self, text: str) -> str:
        return _plain(self._tgt.normalize(text))

    def state_dict(self) -> dict[str, Any]:
        """The serialized models as uint8 tensors (loadable with ``weights_only=True``)."""
        state: dict[str, Any] = {"kind": "sentencepiece", "joint": self.joint}
        state["src_model"] = _to_tensor(self._src.serialized_model_proto())
        if not self.joint:
            state["tgt_model"] = _to_tensor(self._tgt.serialized_model_proto())
        return state

    def model_files(self) -> dict[str, bytes]:
        """The serialized models by file name: ``joint.model``, or ``src.model`` and
        ``tgt.model`` (the layout of the tokenizer cache and of prepared splits)."""
        if self.joint:
            return {"joint.model": self._src.serialized_model_proto()}
        return {
            "src.model": self._src.serialized_model_proto(),
            "tgt.model": self._tgt.serialized_model_proto(),
        }

    @classmethod
    def from_model_files(cls, folder: Path) -> Tokenizer:
        """The tokenizer whose :meth:`model_files` are in ``folder``."""
        if (folder / "joint.model").is_file():
            return cls((folder / "joint.model").read_bytes())
        return cls((folder / "src.model").read_bytes(), (folder / "tgt.model").read_bytes())

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> Tokenizer:
        if state.get("kind") != "sentencepiece" or "src_model" not in state:
            raise CheckpointError(
                "tokenizer state has no SentencePiece model; not an nmt checkpoint"
            )
        tgt = None if state.get("joint", True) else _to_bytes(state["tgt_model"])
        return cls(_to_bytes(state["src_model"]), tgt)


def cache_key(
    cfg: TokenizerConfig,
    corpus: str,
    src: str,
    tgt: str,
    src_lines: Iterable[str],
    tgt_lines: Iterable[str],
) -> str:
    """``<corpus>.<src>-<tgt>.<type><vocab>.<joint|separate>.cc<coverage>.<text hash>``."""
    digest = hashlib.sha256()
    for lines in (src_lines, tgt_lines):
        for line in lines:
            digest.update(line.encode("utf-8"))
            digest.update(b"\n")
        digest.update(b"\0")
    mode = "joint" if cfg.joint else "separate"
    cov = f"{cfg.character_coverage:g}"
    return (
        f"{corpus}.{src}-{tgt}.{cfg.type}{cfg.vocab_size}.{mode}.cc{cov}.{digest.hexdigest()[:12]}"
    )


def train_sentencepiece(lines: Iterable[str], cfg: TokenizerConfig, seed: int = 1) -> bytes:
    """Train one model in memory and return its serialized proto."""
    if cfg.type not in ("unigram", "bpe"):
        raise ConfigError(f"data.tokenizer.type={cfg.type!r}: use unigram or bpe")
    buf = io.BytesIO()
    spm.set_random_generator_seed(seed)
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(lines),
            model_writer=buf,
            model_type=cfg.type,
            vocab_size=cfg.vocab_size,
            character_coverage=cfg.character_coverage,
            pad_id=PAD_ID,
            unk_id=UNK_ID,
            bos_id=BOS_ID,
            eos_id=EOS_ID,
            hard_vocab_limit=False,
            input_sentence_size=INPUT_SENTENCE_SIZE,
            shuffle_input_sentence=True,
            num_threads=os.cpu_count() or 1,
            minloglevel=2,
        )
    except RuntimeError as e:
        raise ConfigError(f"SentencePiece training failed ({e}); check data.tokenizer.*") from None
    return buf.getvalue()


def load_or_train(
    cfg: TokenizerConfig,
    root: Path,
    corpus: str,
    src: str,
    tgt: str,
    src_lines: Sequence[str],
    tgt_lines: Sequence[str],
    seed: int = 1,
    log: Callable[[str], None] = print,
) -> Tokenizer:
    """The tokenizer for this train text, from ``<root>/spm/<key>/`` or trained and saved there."""
    return load_or_train_stream(
        cfg,
        root,
        corpus,
        src,
        tgt,
        lambda: zip(src_lines, tgt_lines, strict=True),
        seed=seed,
        log=log,
    )


def load_or_train_stream(
    cfg: TokenizerConfig,
    root: Path,
    corpus: str,
    src: str,
    tgt: str,
    pairs: Callable[[], Iterable[tuple[str, str]]],
    seed: int = 1,
    log: Callable[[str], None] = print,
    n_pairs: int | None = None,
) -> Tokenizer:
    """:func:`load_or_train` on a stream of (source, target) pairs that ``pairs()`` opens
    afresh at each pass (a pass for the key and one per model: never all lines at once).
    SentencePiece keeps a random sample of at most INPUT_SENTENCE_SIZE sentences."""
    sources = lambda: (s for s, _ in pairs())  # noqa: E731
    targets = lambda: (t for _, t in pairs())  # noqa: E731
    key = cache_key(cfg, corpus, src, tgt, sources(), targets())
    folder = root / "spm" / key
    names = ["joint.model"] if cfg.joint else ["src.model", "tgt.model"]
    if all((folder / n).is_file() for n in names):
        log(f"tokenizer: reusing {folder}")
        return Tokenizer.from_model_files(folder)
    if n_pairs is None:  # the caller may have counted them already
        n_pairs = sum(1 for _ in pairs())
    mode = "joint" if cfg.joint else "separate"
    log(f"tokenizer: training {cfg.type} vocab {cfg.vocab_size} ({mode}) on {n_pairs} pairs")
    if cfg.joint:
        protos = [train_sentencepiece(itertools.chain(sources(), targets()), cfg, seed)]
    else:
        protos = [
            train_sentencepiece(sources(), cfg, seed),
            train_sentencepiece(targets(), cfg, seed),
        ]
    _save(folder, dict(zip(names, protos, strict=True)), cfg, n_pairs)
    log(f"tokenizer: saved {folder}")
    return Tokenizer(*protos)


def _save(folder: Path, files: dict[str, bytes], cfg: TokenizerConfig, n_pairs: int) -> None:
    """Write the models to a temp folder and rename it into place (first writer wins)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        for name, proto in files.items():
            (tmp / name).write_bytes(proto)
        meta = {
            "type": cfg.type,
            "vocab_size": cfg.vocab_size,
            "joint": cfg.joint,
            "character_coverage": cfg.character_coverage,
            "train_pairs": n_pairs,
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        try:
            os.rename(tmp, folder)
        except OSError:
            if not folder.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
