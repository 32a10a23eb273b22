"""One way in for every tool that translates: a checkpoint or an export folder, with the
engine asked for (``--engine``, ``--compute-type``, ``--threads``)."""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from nmt.errors import CheckpointError
from nmt.export.ct2 import export_ct2, is_export
from nmt.export.engine import CT2Translator
from nmt.runs.checkpoint import load_translator as load_torch
from nmt.translation.shortlist import Shortlist

ENGINES = ("auto", "torch", "ct2")


def load_translator(
    path: str | Path,
    device: str = "cpu",
    *,
    engine: str = "auto",
    compute_type: str = "default",
    threads: int = 0,
    vocab_map: bool | str | Path = "auto",
    **kwargs: Any,
) -> Any:
    """A translator of ``path``: ``engine`` ``torch`` (this package's search, on a
    checkpoint), ``ct2`` (CTranslate2's, on an ``nmt-export ct2`` folder, or on a
    checkpoint exported on the fly to a temporary folder), ``auto`` (ct2 for an export
    folder, else torch). ``compute_type`` and ``threads`` (0 = the physical cores) are
    CTranslate2's; ``vocab_map``: ``auto`` (or True) uses an export's vocabulary map when
    it has one, ``off`` (or False) none, a file path gives the PyTorch search one
    (:class:`nmt.translation.shortlist.Shortlist`); ``kwargs`` go to the translator
    (``max_input_tokens``, ``decoding``; ``precision`` for torch)."""
    if engine not in ENGINES:
        raise CheckpointError(f"--engine: one of {', '.join(ENGINES)}, got {engine!r}")
    use_map, map_file = vocab_map_setting(vocab_map)
    if engine == "ct2" or (engine == "auto" and is_export(path)):
        if map_file is not None:
            raise CheckpointError(
                f"--vocab-map {map_file}: CTranslate2 reads the map inside its export folder; "
                "export with nmt-export ct2 --vocab-map, and give auto or off here"
            )
        return ct2_translator(path, device, compute_type, threads, vocab_map=use_map, **kwargs)
    if is_export(path):
        raise CheckpointError(
            f"{path}: a CTranslate2 export translates with --engine ct2 (or auto), not torch; "
            "give the checkpoint it was exported from for the PyTorch search"
        )
    workers = kwargs.pop("workers", 1)
    if workers != 1:
        raise CheckpointError(
            f"--workers {workers}: a CTranslate2 setting; add --engine ct2 or give an "
            "nmt-export ct2 folder"
        )
    if compute_type not in ("default", "auto"):
        raise CheckpointError(
            f"--compute-type {compute_type}: a CTranslate2 setting; add --engine ct2 or give an "
            "nmt-export ct2 folder"
        )
    translator = load_torch(path, device, **kwargs)
    if map_file is not None:
        tok = translator.tokenizer
        translator.shortlist = Shortlist.from_file(map_file, tok.src_vocab(), tok.tgt_vocab())
    return translator


def vocab_map_setting(value: bool | str | Path) -> tuple[bool, Path | None]:
    """``--vocab-map``'s value -> (use an export's map, the PyTorch search's map file)."""
    if isinstance(value, bool):
        return value, None
    if str(value).lower() in ("auto", "off"):
        return str(value).lower() == "auto", None
    path = Path(value)
    if not path.is_file():
        raise CheckpointError(
            f"--vocab-map {value}: give auto, off or a map file (nmt-export vmap CKPT FILE "
            "writes one); no such file"
        )
    return True, path


def ct2_translator(
    path: str | Path, device: str, compute_type: str, threads: int, **kwargs: Any
) -> CT2Translator:
    """:class:`CT2Translator` of an export folder, or of a checkpoint exported to a
    temporary folder (removed when the process ends)."""
    if kwargs.pop("precision", None) == "bf16":  # the compute type is CTranslate2's precision
        print(
            f"warning: {path}: --precision bf16 is the PyTorch search's; CTranslate2 decodes "
            f"in its --compute-type ({compute_type})",
            file=sys.stderr,
        )
    folder = Path(path)
    if not is_export(folder):
        tmp = Path(tempfile.mkdtemp(prefix="nmt-ct2-"))
        atexit.register(shutil.rmtree, tmp, ignore_errors=True)
        folder = tmp / "model"
        export_ct2(path, folder)
    return CT2Translator(folder, device, compute_type, threads, **kwargs)
