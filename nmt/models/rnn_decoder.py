"""The three RNN decoders, each only the idea that sets it apart.

* :class:`Seq2Seq` (Cho et al. 2014): the source is one fixed vector ``c``.
* :class:`Bahdanau` (Bahdanau et al. 2015): ``c_i`` attended from ``s_{i-1}``, fed into the RNN.
* :class:`Luong` (Luong et al. 2015): RNN first, then attention from ``h_t``.
"""

from __future__ import annotations

import torch
from torch import nn

from nmt.models.attention import AdditiveAttention, Attention, luong_attention
from nmt.models.base import State
from nmt.models.config import BahdanauConfig, LuongConfig, RNNConfig
from nmt.models.dropout import Dropout
from nmt.models.rnn import DeepOutput, RNNEncoderDecoder


class Seq2Seq(RNNEncoderDecoder):
    """Cho et al. 2014 (arXiv:1406.1078, Eq. 4 and §A.1.1), the fixed-context baseline.

    ``c`` is the encoder's final state (top layer, both directions). The decoder
    reads it at every step, ``s_t = f(s_{t-1}, [E y_{t-1}; c])``, and in the
    deep output ``g(s_t, E y_{t-1}, c)``; per-token encoder outputs never enter
    the decoder state.
    """

    variant = "seq2seq"
    source_state = ("context",)
    parallel = True  # c is the same at every step, so the RNN runs once over the target

    def __init__(self, cfg: RNNConfig, src_vocab_size: int, tgt_vocab_size: int) -> None:
        h, e = cfg.hidden_size, cfg.emb_dim
        readout = DeepOutput(h + e + h, e, tgt_vocab_size, cfg.dropout)
        super().__init__(cfg, src_vocab_size, tgt_vocab_size, e + h, readout)

    def _memory(
        self, outputs: torch.Tensor, final: dict[str, torch.Tensor], src_mask: torch.Tensor
    ) -> State:
        return {"context": final["hidden"]}  # (B, H): all the decoder ever sees of the source

    def _context(self, state: State, steps: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The context for ``steps`` target positions (B, T, H) and its attention (B, T, S)."""
        return state["context"].unsqueeze(1).expand(-1, steps, -1), None

    def _decode(
        self, emb: torch.Tensor, state: State
    ) -> tuple[torch.Tensor, State, torch.Tensor | None]:
        c, attn = self._context(state, emb.size(1))  # (B, T, H)
        s, state = self.run_rnn(torch.cat([emb, c], dim=-1), state)  # (B, T, H)
        return torch.cat([s, emb, c], dim=-1), state, attn


class AttentionMemory:
    """Mixin: keep the annotations, their precomputed key projections and the source mask."""

    attention: Attention
    source_state = ("memory", "keys", "src_mask")

    def _memory(
        self, outputs: torch.Tensor, final: dict[str, torch.Tensor], src_mask: torch.Tensor
    ) -> State:
        return {
            "memory": outputs,  # (B, S, H)
            "keys": self.attention.precompute_keys(outputs),  # (B, S, K), once per sentence
            "src_mask": src_mask,  # (B, S)
        }

    def _attend(self, query: torch.Tensor, state: State) -> tuple[torch.Tensor, torch.Tensor]:
        return self.attention.attend(query, state["keys"], state["memory"], state["src_mask"])


class Bahdanau(AttentionMemory, Seq2Seq):
    """Bahdanau et al. 2015 (arXiv:1409.0473, §3.1 and §A.2.2): seq2seq with a context per step.

    ``c_i = Σ_j α_ij h_j`` with α from :class:`AdditiveAttention` queried by
    ``s_{i-1}`` (top layer); as in :class:`Seq2Seq`, ``s_i = f(s_{i-1}, [E y_{i-1}; c_i])``
    and the deep output ``t_i`` reads ``[s_i; E y_{i-1}; c_i]``.
    """

    variant = "bahdanau"
    parallel = False  # c_i depends on s_{i-1}

    def __init__(self, cfg: BahdanauConfig, src_vocab_size: int, tgt_vocab_size: int) -> None:
        super().__init__(cfg, src_vocab_size, tgt_vocab_size)
        self.attention = AdditiveAttention(
            cfg.hidden_size, self.encoder.output_size, cfg.attention_dim
        )

    def _context(self, state: State, steps: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self._attend(state["hidden"][:, -1:], state)  # query s_{i-1}: (B, 1, H)


class Luong(AttentionMemory, RNNEncoderDecoder):
    """Luong et al. 2015 (D15-1166, §3): global attention after the RNN step.

    ``c_t`` is attended from the current top state ``h_t`` with score
    ``dot | general | concat`` (Eq. 8); the attentional vector
    ``h̃_t = tanh(W_c [c_t; h_t])`` (Eq. 5) feeds ``softmax(W_s h̃_t)`` (Eq. 6).
    With input feeding (§3.3) ``h̃_{t-1}`` joins the next RNN input; without
    it the steps are independent and teacher forcing runs in one call.
    """

    variant = "luong"

    def __init__(self, cfg: LuongConfig, src_vocab_size: int, tgt_vocab_size: int) -> None:
        h, e = cfg.hidden_size, cfg.emb_dim
        readout = nn.Sequential(Dropout(cfg.dropout), nn.Linear(h, tgt_vocab_size))  # W_s
        super().__init__(cfg, src_vocab_size, tgt_vocab_size, e + h * cfg.input_feeding, readout)
        self.input_feeding = cfg.input_feeding
        self.parallel = not cfg.input_feeding
        self.attention = luong_attention(cfg.score, h, self.encoder.output_size)
        self.combine = nn.Linear(2 * h, h, bias=False)  # W_c

    def _memory(
        self, outputs: torch.Tensor, final: dict[str, torch.Tensor], src_mask: torch.Tensor
    ) -> State:
        memory = super()._memory(outputs, final, src_mask)
        if self.input_feeding:
            memory["feed"] = outputs.new_zeros(outputs.size(0), self.hidden_size)  # h̃_0: (B, H)
        return memory

    def _decode(
        self, emb: torch.Tensor, state: State
    ) -> tuple[torch.Tensor, State, torch.Tensor | None]:
        if self.input_feeding:
            emb = torch.cat([emb, state["feed"].unsqueeze(1)], dim=-1)  # [E y_{t-1}; h̃_{t-1}]
        h, state = self.run_rnn(emb, state)  # (B, T, H)
        c, attn = self._attend(h, state)  # (B, T, H), (B, T, S)
        h_tilde = torch.tanh(self.combine(torch.cat([c, h], dim=-1)))  # (B, T, H)
        if self.input_feeding:
            state = {**state, "feed": h_tilde[:, -1]}
        return h_tilde, state, attn
