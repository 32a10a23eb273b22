"""The RNN encoder shared by seq2seq, Bahdanau and Luong, and the bridge to the decoder.

A final RNN state is a dict ``{"hidden": ..., "cell": ...}`` (``"cell"`` for
LSTMs only), the same keys the RNN decoders keep in their state.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from nmt import PAD_ID
from nmt.models.dropout import Dropout

RNN_TYPES: dict[str, type[nn.RNNBase]] = {"gru": nn.GRU, "lstm": nn.LSTM}


def make_rnn(
    rnn_type: str, input_size: int, hidden_size: int, num_layers: int, dropout: float, **kwargs
) -> nn.RNNBase:
    """A batch-first ``nn.GRU`` / ``nn.LSTM``; dropout only between stacked layers."""
    return RNN_TYPES[rnn_type](
        input_size,
        hidden_size,
        num_layers,
        batch_first=True,
        dropout=dropout if num_layers > 1 else 0.0,
        **kwargs,
    )


class RNNEncoder(nn.Module):
    """Embeddings and a (bi)directional GRU/LSTM over packed source sentences.

    With ``bidirectional`` each direction has ``hidden_size // 2`` units, so the
    annotations ``h_j = [→h_j; ←h_j]`` (Bahdanau et al. 2015, §3.2) are
    ``hidden_size`` wide whatever the direction count.
    """

    def __init__(
        self,
        vocab_size: int,
        emb_dim: int,
        hidden_size: int,
        num_layers: int,
        bidirectional: bool,
        rnn_type: str,
        dropout: float,
    ) -> None:
        super().__init__()
        self.directions = 2 if bidirectional else 1
        self.embed = nn.Embedding(vocab_size, emb_dim, padding_idx=PAD_ID)
        self.rnn = make_rnn(
            rnn_type,
            emb_dim,
            hidden_size // self.directions,
            num_layers,
            dropout,
            bidirectional=bidirectional,
        )
        self.dropout = Dropout(dropout)
        self.output_size = hidden_size

    def forward(
        self, src: torch.Tensor, src_mask: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Encode (B, S) ids with (B, S) mask.

        Returns:
            the annotations (B, S, hidden_size), zero on padding, and the top
            layer's final state, directions concatenated: ``{"hidden": (B, hidden_size)}``
            plus ``"cell"`` for LSTMs. Padding never reaches the RNN.
        """
        emb = self.dropout(self.embed(src))  # (B, S, E)
        lengths = src_mask.sum(dim=1).cpu()
        packed = pack_padded_sequence(emb, lengths, batch_first=True, enforce_sorted=False)
        outputs, final = self.rnn(packed)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=src.size(1))
        finals = final if isinstance(final, tuple) else (final,)  # LSTM: (h_n, c_n)
        names = ("hidden", "cell")[: len(finals)]
        summary = {n: self._top_layer(f) for n, f in zip(names, finals, strict=True)}
        return self.dropout(outputs), summary

    def _top_layer(self, state: torch.Tensor) -> torch.Tensor:
        # (layers * dirs, B, H / dirs) -> (B, H): last layer, directions side by side
        top = state[-self.directions :]  # (dirs, B, H / dirs)
        return top.transpose(0, 1).reshape(top.size(1), -1)


class Bridge(nn.Module):
    """Initial decoder state from the encoder's final state, one ``tanh(W h)`` per layer.

    Cho et al. 2014 (arXiv:1406.1078, §A.1.1): ``h'_0 = tanh(V' c)``; Bahdanau
    et al. 2015 (§A.2.2): ``s_0 = tanh(W_s ←h_1)``. An LSTM's cell gets its own map.
    """

    def __init__(self, enc_size: int, hidden_size: int, num_layers: int, rnn_type: str) -> None:
        super().__init__()
        self.num_layers, self.hidden_size = num_layers, hidden_size
        names = ("hidden", "cell") if rnn_type == "lstm" else ("hidden",)
        self.proj = nn.ModuleDict({n: nn.Linear(enc_size, num_layers * hidden_size) for n in names})

    def forward(self, final: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``{"hidden": (B, H_enc)}`` -> ``{"hidden": (B, layers, H)}`` (and ``"cell"``)."""
        return {
            name: torch.tanh(proj(final[name])).view(-1, self.num_layers, self.hidden_size)
            for name, proj in self.proj.items()
        }
