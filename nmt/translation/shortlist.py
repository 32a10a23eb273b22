"""A lexical shortlist for the PyTorch search (Marian's ``--shortlist``, CTranslate2's
``use_vmap``): each batch scores only the target pieces its source pieces can translate
into, read from a vocabulary map (``vmap.txt``, written by ``nmt-export ct2 --vocab-map``
or ``nmt-export vmap``; :mod:`nmt.export.vocab_map` says how it is built).

The output layer then computes ``C`` logits a row instead of the vocabulary's ``V``, and
the search's log-softmax and top-k run over those ``C``: the softmax is normalised over
the shortlist, as CTranslate2's is. EOS and the unknown piece are always candidates.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F

from nmt import EOS_ID, UNK_ID
from nmt.errors import ConfigError
from nmt.models.base import EncoderDecoder


class Shortlist:
    """Candidate target ids per source id, and those of every batch."""

    def __init__(
        self,
        always: Sequence[int],
        rules: dict[int, list[int]],
        path: Path | None = None,
    ) -> None:
        self.always = sorted({*always, EOS_ID, UNK_ID})
        self.rules = rules
        self.path = path  # the map file it was read from

    @classmethod
    def from_file(
        cls, path: str | Path, src_pieces: Sequence[str], tgt_pieces: Sequence[str]
    ) -> Shortlist:
        """Read a ``vmap.txt`` (``piece<TAB>candidates``; the empty key: always scored).
        N-gram keys (pieces joined by spaces) are not used by this search and are skipped;
        pieces the vocabularies do not hold are errors."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"--vocab-map {path}: no such file; write one with "
                              "nmt-export vmap CHECKPOINT FILE")  # fmt: skip
        src_ids = {p: i for i, p in enumerate(src_pieces)}
        tgt_ids = {p: i for i, p in enumerate(tgt_pieces)}
        always: list[int] = []
        rules: dict[int, list[int]] = {}
        # lines end at "\n" only, as CTranslate2 reads them (a piece may hold other breaks)
        for n, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
            line = line.removesuffix("\r")
            if not line:
                continue
            key, tab, values = line.partition("\t")
            if not tab:
                raise ConfigError(f"{path}:{n}: expected 'piece<TAB>candidates', got {line!r}")
            cands = []
            for piece in values.split():
                if piece not in tgt_ids:
                    raise ConfigError(_foreign(path, n, piece, "target"))
                cands.append(tgt_ids[piece])
            if key == "":
                always += cands
            elif " " not in key:
                if key not in src_ids:
                    raise ConfigError(_foreign(path, n, key, "source"))
                rules[src_ids[key]] = cands
        return cls(always, rules, path)

    def candidates(self, src: torch.Tensor) -> torch.Tensor:
        """Sorted target ids for a source batch (B, S) of ids: (C,), on ``src``'s device."""
        ids = set(self.always)
        for s in set(src.flatten().tolist()):
            ids.update(self.rules.get(s, ()))
        return torch.tensor(sorted(ids), dtype=torch.long, device=src.device)


def autocast_dtype(device_type: str) -> torch.dtype | None:
    """The dtype autocast computes in on ``device_type`` now, or None when it is off."""
    if hasattr(torch, "get_autocast_dtype"):  # torch >= 2.4
        on = torch.is_autocast_enabled(device_type)
        return torch.get_autocast_dtype(device_type) if on else None
    if device_type == "cpu":
        on = torch.is_autocast_cpu_enabled()
        return torch.get_autocast_cpu_dtype() if on else None
    return torch.get_autocast_gpu_dtype() if torch.is_autocast_enabled() else None


def _foreign(path: Path, line: int, piece: str, side: str) -> str:
    return (f"{path}:{line}: {piece!r} is not a piece of the model's {side} vocabulary; "
            "build the map for this model (nmt-export vmap CHECKPOINT FILE)")  # fmt: skip


@contextmanager
def restricted_output(model: EncoderDecoder, ids: torch.Tensor) -> Iterator[None]:
    """Within the block, the model's output layer computes the logits of ``ids`` (C,) only:
    (..., D) -> (..., C). A model translates one batch at a time (each model nmt-serve
    serves has its own thread); a second restriction inside the first is refused.

    Under autocast the candidate rows are cast once here, not at every step (autocast
    caches the casts of parameters only)."""
    layer = model.output_layer()
    if "forward" in vars(layer):
        raise RuntimeError("the output layer is restricted already (one batch at a time)")
    weight = layer.weight.index_select(0, ids)  # (C, D)
    bias = None if layer.bias is None else layer.bias.index_select(0, ids)
    dtype = autocast_dtype(weight.device.type)
    if dtype is not None:
        weight = weight.to(dtype)
        bias = None if bias is None else bias.to(dtype)
    layer.forward = lambda x: F.linear(x, weight, bias)  # type: ignore[method-assign]
    try:
        yield
    finally:
        del layer.forward
