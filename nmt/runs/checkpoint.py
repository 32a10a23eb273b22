"""Self-describing checkpoints, written atomically and loaded with ``weights_only=True``.

A checkpoint holds everything needed to translate with no run directory: the
model's config, the tokenizer's SentencePiece models and the language pair,
beside the weights. Training checkpoints also hold the optimiser, scheduler,
sampler position and RNG states for exact resumption.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from nmt.data.tokenizer import Tokenizer
from nmt.errors import CheckpointError
from nmt.io import atomic_write
from nmt.models import build_model
from nmt.translation.decoding import Decoding
from nmt.translation.translator import Translator

FORMAT = "nmt-checkpoint"
VERSION = 1


def save_checkpoint(payload: dict[str, Any], path: str | Path) -> Path:
    """Write ``payload`` to ``path`` atomically; a crash leaves the previous file intact."""
    payload = {"format": FORMAT, "version": VERSION, **payload}
    return atomic_write(path, lambda f: torch.save(payload, f))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load an nmt checkpoint with ``weights_only=True``; one clear error for any bad file."""
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
    for key in ("model", "model_config", "tokenizer", "data"):
        if key not in ckpt:
            raise CheckpointError(f"{path}: checkpoint lacks '{key}'; it is incomplete")
    return ckpt


def run_dir_of(path: str | Path) -> Path:
    """The run directory a checkpoint belongs to: ``<run>`` for ``<run>/checkpoints/x.pt``,
    else the checkpoint's own folder."""
    path = Path(path)
    return path.parent.parent if path.parent.name == "checkpoints" else path.parent


def checkpoint_step(path: str | Path) -> int:
    """The update of a ``step_<update>.pt`` checkpoint, from its name."""
    return int(Path(path).stem.removeprefix("step_"))


def step_checkpoints(folder: str | Path) -> list[Path]:
    """The ``step_<update>.pt`` checkpoints of ``train.keep_last`` in ``folder``, oldest first."""
    return sorted(Path(folder).glob("step_*.pt"), key=checkpoint_step)


def load_translator(path: str | Path, device: str = "cpu", **kwargs: Any) -> Translator:
    """A :class:`Translator` rebuilt from a self-describing checkpoint (model and
    tokenizer); its run's search settings become the default."""
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
