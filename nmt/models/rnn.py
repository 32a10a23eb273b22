"""What the three RNN variants share: encoder, bridge, decoder RNN, readout, and the loops.

A variant supplies only its idea: :meth:`RNNEncoderDecoder._memory` (what the
decoder may keep from the encoder) and :meth:`RNNEncoderDecoder._decode` (how a
block of target embeddings becomes readout features). Variants whose steps
do not depend on the previous step's output set ``parallel = True`` and the
teacher-forced pass runs as one call over the whole target.

Decoder state: ``"hidden"`` (B, layers, H) and, for LSTMs, ``"cell"`` (B, layers, H),
plus whatever ``_memory`` adds. Everything is batch-first, so
:meth:`EncoderDecoder.reorder_state` applies unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

from nmt import PAD_ID
from nmt.models.base import EncoderDecoder, State
from nmt.models.config import RNNConfig
from nmt.models.dropout import Dropout
from nmt.models.encoder import Bridge, RNNEncoder, make_rnn


class DeepOutput(nn.Module):
    """Deep output ``t = tanh(W_o [s; E y_prev; c])`` then the vocabulary projection.

    Cho et al. 2014 (arXiv:1406.1078, §A.1.1) and Bahdanau et al. 2015 (§A.2.2)
    use a maxout layer here; tanh keeps the same one-hidden-layer readout.
    """

    def __init__(self, in_dim: int, out_dim: int, vocab_size: int, dropout: float) -> None:
        super().__init__()
        self.hidden = nn.Linear(in_dim, out_dim)
        self.dropout = Dropout(dropout)
        self.proj = nn.Linear(out_dim, vocab_size)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.proj(self.dropout(torch.tanh(self.hidden(features))))  # (B, T, V)


class RNNEncoderDecoder(EncoderDecoder):
    """Base of the RNN variants; subclasses implement ``_memory`` and ``_decode``."""

    #: True when ``_decode`` may consume the whole teacher-forced target at once
    parallel: bool = False

    def __init__(
        self,
        cfg: RNNConfig,
        src_vocab_size: int,
        tgt_vocab_size: int,
        rnn_input_dim: int,
        readout: nn.Module,
    ) -> None:
        super().__init__()
        self.config = cfg
        self.hidden_size = cfg.hidden_size
        self.encoder = RNNEncoder(
            src_vocab_size,
            cfg.emb_dim,
            cfg.hidden_size,
            cfg.enc_layers,
            cfg.bidirectional,
            cfg.rnn_type,
            cfg.dropout,
        )
        self.bridge = Bridge(
            self.encoder.output_size, cfg.hidden_size, cfg.dec_layers, cfg.rnn_type
        )
        self.tgt_embed = nn.Embedding(tgt_vocab_size, cfg.emb_dim, padding_idx=PAD_ID)
        self.rnn = make_rnn(
            cfg.rnn_type, rnn_input_dim, cfg.hidden_size, cfg.dec_layers, cfg.dropout
        )
        self.dropout = Dropout(cfg.dropout)
        self.readout = readout  # features (B, T, F) -> logits (B, T, V)

    def output_layer(self) -> nn.Linear:
        """The readout's last linear layer (the vocabulary projection)."""
        return [m for m in self.readout.modules() if isinstance(m, nn.Linear)][-1]

    # -- the variant's idea ---------------------------------------------------------------

    def _memory(
        self, outputs: torch.Tensor, final: dict[str, torch.Tensor], src_mask: torch.Tensor
    ) -> State:
        """What the decoder keeps of the source.

        Args:
            outputs: the annotations (B, S, H); final: ``{"hidden": (B, H)}``; src_mask: (B, S).
        """
        raise NotImplementedError

    def _decode(
        self, emb: torch.Tensor, state: State
    ) -> tuple[torch.Tensor, State, torch.Tensor | None]:
        """Target embeddings (B, T, E) -> readout features (B, T, F), state, attention (B, T, S).

        T is 1 unless the class is ``parallel``.
        """
        raise NotImplementedError

    # -- shared machinery -----------------------------------------------------------------

    def run_rnn(self, inputs: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """Run the decoder RNN over inputs (B, T, I) from ``state``: (B, T, H), new state."""
        h = state["hidden"].transpose(0, 1).contiguous()  # (layers, B, H)
        if "cell" in state:
            c = state["cell"].transpose(0, 1).contiguous()
            outputs, (h, c) = self.rnn(inputs, (h, c))
            return outputs, {**state, "hidden": h.transpose(0, 1), "cell": c.transpose(0, 1)}
        outputs, h = self.rnn(inputs, h)
        return outputs, {**state, "hidden": h.transpose(0, 1)}

    def encode(self, src: torch.Tensor, src_mask: torch.Tensor) -> State:
        outputs, final = self.encoder(src, src_mask)  # (B, S, H), {"hidden": (B, H)}
        return {**self.bridge(final), **self._memory(outputs, final, src_mask)}

    def decode_step(
        self, prev_tokens: torch.Tensor, state: State
    ) -> tuple[torch.Tensor, State, torch.Tensor | None]:
        emb = self.dropout(self.tgt_embed(prev_tokens)).unsqueeze(1)  # (B, 1, E)
        features, state, attn = self._decode(emb, state)
        log_probs = self.readout(features.squeeze(1)).log_softmax(dim=-1)  # (B, V)
        return log_probs, state, None if attn is None else attn.squeeze(1)

    def forward(
        self,
        src: torch.Tensor,
        src_mask: torch.Tensor,
        tgt_in: torch.Tensor,
        *,
        need_attention: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        state = self.encode(src, src_mask)
        emb = self.dropout(self.tgt_embed(tgt_in))  # (B, T, E)
        if self.parallel:
            features, _, attn = self._decode(emb, state)
        else:
            steps = []
            # unbind, not emb[:, t : t + 1]: the backward of T slices would zero-fill a
            # (B, T, E) gradient at every step; unbind's backward stacks the T grads once
            for emb_t in emb.unbind(1):  # (B, E) each
                step_features, state, step_attn = self._decode(emb_t.unsqueeze(1), state)
                steps.append((step_features, step_attn))
            features = torch.cat([f for f, _ in steps], dim=1)  # (B, T, F)
            attn = None if steps[0][1] is None else torch.cat([a for _, a in steps], dim=1)
        logits = self.readout(features)  # (B, T, V): one projection for all steps
        return logits, attn if need_attention else None
