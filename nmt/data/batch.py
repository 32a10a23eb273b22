"""The padded batch every model and the training loop consume."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Batch:
    """A padded batch of sentence pairs (token ids, PAD_ID = 0).

    ``src_mask`` is True on real tokens. ``tgt_in`` starts with BOS, ``tgt_out``
    ends with EOS; both are ``tgt_lengths`` long before padding.
    """

    src: torch.Tensor  # (B, S) long
    src_mask: torch.Tensor  # (B, S) bool, True = real token
    src_lengths: torch.Tensor  # (B,) long
    tgt_in: torch.Tensor | None  # (B, T) long: BOS y1 .. y_{n}
    tgt_out: torch.Tensor | None  # (B, T) long: y1 .. y_{n} EOS
    tgt_lengths: torch.Tensor | None  # (B,) long, n + 1
    ids: torch.Tensor  # (B,) long: index of each pair in its split

    @property
    def size(self) -> int:
        return int(self.src.size(0))

    @property
    def num_tgt_tokens(self) -> int:
        return 0 if self.tgt_lengths is None else int(self.tgt_lengths.sum())

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device, non_blocking=non_blocking)

        return Batch(
            src=move(self.src),
            src_mask=move(self.src_mask),
            src_lengths=self.src_lengths,  # stays on CPU: pack_padded_sequence wants it there
            tgt_in=move(self.tgt_in),
            tgt_out=move(self.tgt_out),
            tgt_lengths=self.tgt_lengths,
            ids=self.ids,
        )

    def pin_memory(self) -> Batch:
        for name in ("src", "src_mask", "tgt_in", "tgt_out"):
            t = getattr(self, name)
            if t is not None:
                setattr(self, name, t.pin_memory())
        return self
