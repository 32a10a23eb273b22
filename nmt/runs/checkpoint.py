"""Self-describing checkpoints, written atomically and loaded with ``weights_only=True``.

A checkpoint holds everything needed to translate with no run directory: the
model's config, the tokenizer's SentencePiece models and the language pair,
beside the weights. Training checkpoints also hold the optimiser, scheduler,
sampler position and RNG states for exact resumption.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import torch

from nmt.data.tokenizer import Tokenizer
from nmt.errors import CheckpointError
from nmt.io import write_or_explain
from nmt.models import build_model
from nmt.translation.decoding import Decoding, current_names
from nmt.translation.translator import Translator

FORMAT = "nmt-checkpoint"
#: 2 adds ``checksum``: the SHA-256 of the payload's content, checked at every load
VERSION = 2


def content_digest(value: Any) -> str:
    """SHA-256 over a payload's content in a canonical order: dict keys sorted, tensors by
    dtype, shape and bytes, everything else by type and ``repr``. The same content gives the
    same digest after a save and a load; one changed byte anywhere gives another."""
    h = hashlib.sha256()
    _feed(h, value)
    return h.hexdigest()


def _feed(h: Any, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous().reshape(-1)
        h.update(f"T{t.dtype}{tuple(value.shape)}:".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    elif isinstance(value, dict):
        h.update(f"D{len(value)}:".encode())
        for key in sorted(value, key=lambda k: (type(k).__name__, repr(k))):
            _feed(h, key)
            _feed(h, value[key])
    elif isinstance(value, (list, tuple)):
        h.update(f"{type(value).__name__[0]}{len(value)}:".encode())
        for item in value:
            _feed(h, item)
    elif isinstance(value, (bytes, bytearray)):
        h.update(f"B{len(value)}:".encode())
        h.update(bytes(value))
    else:
        h.update(f"{type(value).__name__}:{value!r};".encode())


def save_checkpoint(payload: dict[str, Any], path: str | Path) -> Path:
    """Write ``payload`` to ``path`` atomically with its checksum; a crash or a full disk
    leaves the previous file intact (a full disk: one :class:`~nmt.errors.WriteError`
    line naming the file and the space it needed)."""
    payload = {"format": FORMAT, "version": VERSION, **payload}
    payload["checksum"] = content_digest({k: v for k, v in payload.items() if k != "checksum"})
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return write_or_explain(path, buffer.getvalue())


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load an nmt checkpoint with ``weights_only=True``, verify its checksum and bring it to
    today's format (:func:`migrate_checkpoint`); one clear error for any bad file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file; give the path to a .pt file")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # any unpickling failure: truncated, foreign or not torch at all
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(
            f"{path}: cannot be read as a checkpoint (truncated or not a torch file: {first[:120]})"
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(
            f"{path}: not an nmt checkpoint (no '{FORMAT}' marker); "
            "use checkpoints/best.pt or last.pt from an nmt run directory"
        )
    if ckpt.get("version", 0) > VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {ckpt['version']} is newer than this nmt "
            f"({VERSION}); upgrade nmt"
        )
    if "checksum" in ckpt:
        content = {k: v for k, v in ckpt.items() if k != "checksum"}
        if content_digest(content) != ckpt["checksum"]:
            raise CheckpointError(
                f"{path}: damaged (its content does not match the checksum stored in it); "
                "use another checkpoint of the run (best.pt, last.pt, step_*.pt) or retrain"
            )
    elif ckpt.get("version", 0) >= 2:
        raise CheckpointError(f"{path}: lacks its checksum; the file is damaged or not nmt's")
    for key in ("model", "model_config", "tokenizer", "data"):
        if key not in ckpt:
            raise CheckpointError(f"{path}: checkpoint lacks '{key}'; it is incomplete")
    return migrate_checkpoint(ckpt)


def migrate_checkpoint(ckpt: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint of any earlier release in today's form; every migration is here.

    Training state (``trainer``) from before:
    - ``early_stopping_metric``: no ``best_score``/``patience_score``; the run stopped on
      BLEU (``early_stopping_metric: bleu`` is added to its train config);
    - the clock record: ``train_seconds`` inside ``trainer``;
    - the global token count: ``tokens_tgt``/``tokens_src`` of one rank;
    - resolved configs: ``train_config.scheduler`` was ``auto`` (now the schedule it ran).
    """
    ckpt = dict(ckpt)
    if "decode" in ckpt:
        ckpt["decode"] = current_names(ckpt["decode"])
    if "trainer" not in ckpt:  # weights only: nothing else to migrate
        return ckpt
    saved = dict(ckpt["trainer"])
    world = int(ckpt.get("world_size", 1))
    train_config = dict(ckpt.get("train_config") or {})
    if "best_score" not in saved:
        train_config.setdefault("early_stopping_metric", "bleu")
        saved["best_score"] = ckpt.get("best_bleu", -1.0)
        saved["patience_score"] = float(saved.pop("patience_bleu", saved["best_score"]))
    if train_config.get("scheduler") == "auto" and "scheduler" in ckpt:
        train_config["scheduler"] = ckpt["scheduler"].get("kind", "auto")
    if "clock" not in ckpt:
        ckpt["clock"] = {"train_seconds": float(saved.pop("train_seconds", 0.0))}
    ckpt["clock"] = {
        "train_seconds": float(ckpt["clock"].get("train_seconds", 0.0)),
        "wall_seconds": float(ckpt["clock"].get("wall_seconds", 0.0)),
    }
    if "trained_tgt_tokens" not in saved:
        saved["trained_tgt_tokens"] = int(saved.pop("tokens_tgt", 0)) * world
        saved["trained_src_tokens"] = int(saved.pop("tokens_src", 0)) * world
    saved.setdefault("processes", 1)
    ckpt["trainer"], ckpt["train_config"] = saved, train_config
    return ckpt


def checkpoint_step(path: str | Path) -> int:
    """The update of a ``step_<update>.pt`` checkpoint, from its name."""
    return int(Path(path).stem.removeprefix("step_"))


def step_checkpoints(folder: str | Path) -> list[Path]:
    """The ``step_<update>.pt`` checkpoints of ``train.keep_last`` in ``folder``, oldest first."""
    return sorted(Path(folder).glob("step_*.pt"), key=checkpoint_step)


def load_translator(path: str | Path, device: str = "cpu", **kwargs: Any) -> Translator:
    """A :class:`Translator` rebuilt from a self-describing checkpoint (model and
    tokenizer); its run's search settings become the default. (Any engine, an export
    folder too: :func:`nmt.export.load.load_translator`.)"""
    return translator_from_state(load_checkpoint(path, map_location="cpu"), device, **kwargs)


def translator_from_state(ckpt: dict[str, Any], device: str = "cpu", **kwargs: Any) -> Translator:
    """As :func:`load_translator`, from a checkpoint already in memory (for example one that
    :func:`nmt.runs.average.average_checkpoints` returned)."""
    tokenizer = Tokenizer.from_state_dict(ckpt["tokenizer"])
    model = build_model(ckpt["model_config"], tokenizer.src_vocab_size, tokenizer.tgt_vocab_size)
    model.load_state_dict(ckpt["model"])
    kwargs.setdefault("decoding", Decoding.from_dict(ckpt.get("decode")))
    translator = Translator(model.to(device), tokenizer, device, **kwargs)
    translator.checkpoint_info = {k: ckpt[k] for k in ("data", "model_config") if k in ckpt}
    return translator
