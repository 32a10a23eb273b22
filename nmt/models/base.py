"""The one interface every variant implements; search and training use nothing else.

A decoder *state* is a ``dict`` whose tensor values are batch-first (dim 0 is
the batch / hypothesis dimension). Nested lists, tuples and dicts of such
tensors are allowed (the Transformer's per-layer key/value cache); anything
that is not a tensor (a step counter) is passed through unchanged. That is
what lets :meth:`EncoderDecoder.reorder_state` be written once for all
variants.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

State = dict[str, Any]


def _index_select(value: Any, index: torch.Tensor) -> Any:
    if isinstance(value, torch.Tensor):
        return value.index_select(0, index)
    if isinstance(value, dict):
        return {k: _index_select(v, index) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_index_select(v, index) for v in value)
    return value


class EncoderDecoder(nn.Module):
    """Base class of seq2seq, Bahdanau, Luong and Transformer models.

    Subclasses implement :meth:`encode`, :meth:`decode_step` and
    :meth:`forward`; :meth:`reorder_state` works for any state laid out as the
    module docstring says.
    """

    #: variant name, as registered in nmt.models.registry
    variant: str = ""
    #: state entries computed from the source alone (encoder outputs, their projections,
    #: the source mask): equal in every hypothesis of one sentence, so a beam that only
    #: reorders hypotheses within their sentences leaves them as they are
    source_state: tuple[str, ...] = ()

    def encode(self, src: torch.Tensor, src_mask: torch.Tensor) -> State:
        """Encode a source batch and return the decoder's initial state.

        Args:
            src: (B, S) token ids, padded with PAD_ID.
            src_mask: (B, S) bool, True on real tokens.
        """
        raise NotImplementedError

    def decode_step(
        self, prev_tokens: torch.Tensor, state: State
    ) -> tuple[torch.Tensor, State, torch.Tensor | None]:
        """Advance every hypothesis by one token.

        Args:
            prev_tokens: (B,) the last token of each hypothesis (BOS at step 0).
            state: from :meth:`encode` or the previous step.
        Returns:
            log_probs (B, V), the new state, and attention weights over the
            source (B, S) (averaged over heads for the Transformer's last
            cross-attention layer) or None for seq2seq.
        """
        raise NotImplementedError

    def forward(
        self,
        src: torch.Tensor,
        src_mask: torch.Tensor,
        tgt_in: torch.Tensor,
        *,
        need_attention: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Teacher-forced pass for training.

        Args:
            src: (B, S), src_mask: (B, S) bool, tgt_in: (B, T) starting with BOS.
            need_attention: also return the attention weights; off, the
                Transformer runs its fused attention kernels.
        Returns:
            logits (B, T, V) (unnormalised) and attention (B, T, S) (averaged over
            heads for the Transformer's last cross-attention layer), or None when
            not asked for or for seq2seq.
        """
        raise NotImplementedError

    def attention_heads(
        self, src: torch.Tensor, src_mask: torch.Tensor, tgt_in: torch.Tensor
    ) -> torch.Tensor | None:
        """Teacher-forced attention per head for heat maps: (B, heads, T, S), or None.

        The RNN variants have one head; the Transformer overrides this with its
        last cross-attention layer's heads.
        """
        attn = self.forward(src, src_mask, tgt_in, need_attention=True)[1]
        return None if attn is None else attn.unsqueeze(1)

    def attention_layers(
        self, src: torch.Tensor, src_mask: torch.Tensor, tgt_in: torch.Tensor
    ) -> torch.Tensor | None:
        """Teacher-forced attention of every layer and head: (B, layers, heads, T, S), or
        None. One layer here; the Transformer gives each decoder layer's cross-attention."""
        heads = self.attention_heads(src, src_mask, tgt_in)
        return None if heads is None else heads.unsqueeze(1)

    def reorder_state(
        self, state: State, beam_index: torch.Tensor, *, within_sentences: bool = False
    ) -> State:
        """Select / permute hypotheses: row i of the result is row beam_index[i].

        ``within_sentences``: every row i is drawn from a row of the same sentence (a
        beam step where no sentence left the batch), so the :attr:`source_state`
        entries, equal across those rows, are kept without copying them.
        """
        keep = self.source_state if within_sentences else ()
        return {k: v if k in keep else _index_select(v, beam_index) for k, v in state.items()}

    def output_layer(self) -> nn.Linear:
        """The last layer, features -> vocabulary logits (the search may restrict it to a
        shortlist of rows, :mod:`nmt.translation.shortlist`)."""
        raise NotImplementedError

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
