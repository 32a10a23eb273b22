"""Textbook PyTorch models: the baseline each variant's training speed is compared with
(``nmt.bench``), on the same batches, in the same process and precision, through the same
:class:`~nmt.training.step.TrainStep`.

What a careful user writes from the PyTorch tutorials, no tricks: ``nn.Transformer``
with padding and causal masks for the Transformer family; for the RNN family an
``nn.GRU``/``nn.LSTM`` encoder and a decoder cell stepped in a Python loop over the
target positions, with the variant's attention (none, additive or a Luong score, input
feeding) written out plainly; ``F.cross_entropy`` with label smoothing
(:func:`textbook_loss`); the same sizes as the variant's config. Each variant names its
counterpart in :mod:`nmt.models.registry` (``Variant.textbook``). Their outputs are not
compared with nmt's (different parametrisations); only their speed is.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nmt import PAD_ID


def positions(length: int, d: int, device: torch.device) -> torch.Tensor:
    """Sinusoidal position encodings (Vaswani et al. 2017, Sec. 3.5): (length, d)."""
    pos = torch.arange(length, device=device, dtype=torch.float32).unsqueeze(1)
    div = torch.exp(torch.arange(0, d, 2, device=device).float() * (-math.log(10000.0) / d))
    pe = torch.zeros(length, d, device=device)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * div), torch.cos(pos * div)
    return pe


class PlainTransformer(nn.Module):
    """``nn.Transformer`` between two embeddings and a linear output layer; ``pooled``
    gives the decoder the mean of the encoder states as its only memory."""

    def __init__(self, cfg: dict[str, Any], src_vocab: int, tgt_vocab: int, pooled: bool) -> None:
        super().__init__()
        d = cfg["d_model"]
        self.d, self.pooled = d, pooled
        self.src_embed, self.tgt_embed = nn.Embedding(src_vocab, d), nn.Embedding(tgt_vocab, d)
        self.transformer = nn.Transformer(
            d, cfg["heads"], cfg["enc_layers"], cfg["dec_layers"], cfg["ff_dim"],
            cfg["dropout"], batch_first=True, norm_first=cfg.get("pre_norm", True),
        )  # fmt: skip
        self.out = nn.Linear(d, tgt_vocab)
        if cfg.get("tie_embeddings", True):  # as nmt's (Press & Wolf 2017)
            self.out.weight = self.tgt_embed.weight

    def embed(self, emb: nn.Embedding, tokens: torch.Tensor) -> torch.Tensor:
        return emb(tokens) * math.sqrt(self.d) + positions(tokens.size(1), self.d, tokens.device)

    def forward(self, src: torch.Tensor, src_mask: torch.Tensor, tgt_in: torch.Tensor):
        causal = nn.Transformer.generate_square_subsequent_mask(tgt_in.size(1), device=src.device)
        memory = self.transformer.encoder(self.embed(self.src_embed, src),
                                          src_key_padding_mask=~src_mask)  # fmt: skip
        memory_mask = ~src_mask
        if self.pooled:
            keep = src_mask.unsqueeze(-1).to(memory.dtype)
            memory = (memory * keep).sum(1, keepdim=True) / keep.sum(1, keepdim=True)
            memory_mask = None
        x = self.transformer.decoder(
            self.embed(self.tgt_embed, tgt_in), memory, tgt_mask=causal, tgt_is_causal=True,
            tgt_key_padding_mask=tgt_in == PAD_ID, memory_key_padding_mask=memory_mask,
        )  # fmt: skip
        return self.out(x), None


class PlainRNN(nn.Module):
    """A bidirectional encoder RNN and a decoder cell stepped over the target positions,
    with no attention (the final encoder state initialises the decoder and is fed at
    every step), additive attention, or a Luong score with input feeding."""

    def __init__(self, cfg: dict[str, Any], src_vocab: int, tgt_vocab: int) -> None:
        super().__init__()
        self.kind = cfg["name"]  # seq2seq | bahdanau | luong
        self.lstm = cfg.get("rnn_type", "gru") == "lstm"
        e, h = cfg["emb_dim"], cfg["hidden_size"]
        rnn = nn.LSTM if self.lstm else nn.GRU
        cell = nn.LSTMCell if self.lstm else nn.GRUCell
        self.src_embed, self.tgt_embed = nn.Embedding(src_vocab, e), nn.Embedding(tgt_vocab, e)
        self.encoder = rnn(e, h // 2, cfg["enc_layers"], batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(h, h)
        self.feeding = self.kind == "bahdanau" or (
            self.kind == "luong" and cfg.get("input_feeding", True)
        )
        self.cell = cell(e + (h if self.kind == "seq2seq" or self.feeding else 0), h)
        if self.kind == "bahdanau":
            a = cfg.get("attention_dim", h)
            self.w_query, self.w_keys, self.v = nn.Linear(h, a), nn.Linear(h, a), nn.Linear(a, 1)
        elif self.kind == "luong":
            self.w_score = nn.Linear(h, h, bias=False)  # the "general" score
            self.combine = nn.Linear(2 * h, h)
        self.out = nn.Linear(h, tgt_vocab)

    def forward(self, src: torch.Tensor, src_mask: torch.Tensor, tgt_in: torch.Tensor):
        lengths = src_mask.sum(1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(
            self.src_embed(src), lengths, batch_first=True, enforce_sorted=False
        )
        keys, final = self.encoder(packed)
        keys, _ = nn.utils.rnn.pad_packed_sequence(keys, batch_first=True, total_length=src.size(1))
        last = final[0] if self.lstm else final
        summary = torch.cat([last[-2], last[-1]], dim=-1)  # (B, h): both directions' last
        state = torch.tanh(self.bridge(summary))
        cell = (state, torch.zeros_like(state)) if self.lstm else state
        projected = self.w_keys(keys) if self.kind == "bahdanau" else None
        feed = torch.zeros_like(state)
        outputs = []
        for t in range(tgt_in.size(1)):
            emb = self.tgt_embed(tgt_in[:, t])
            if self.kind == "bahdanau":  # attend from the previous state, then step
                h_prev = cell[0] if self.lstm else cell
                scores = self.v(torch.tanh(self.w_query(h_prev).unsqueeze(1) + projected))
                weights = scores.squeeze(-1).masked_fill(~src_mask, -1e9).softmax(-1)
                feed = (weights.unsqueeze(-1) * keys).sum(1)
            extra = summary if self.kind == "seq2seq" else feed
            step_in = torch.cat([emb, extra], -1) if self.kind == "seq2seq" or self.feeding else emb
            cell = self.cell(step_in, cell)
            h_t = cell[0] if self.lstm else cell
            if self.kind == "luong":  # step, then attend from the new state
                scores = torch.bmm(keys, self.w_score(h_t).unsqueeze(-1)).squeeze(-1)
                weights = scores.masked_fill(~src_mask, -1e9).softmax(-1)
                context = (weights.unsqueeze(-1) * keys).sum(1)
                h_t = torch.tanh(self.combine(torch.cat([context, h_t], -1)))
                feed = h_t
            outputs.append(h_t)
        return self.out(torch.stack(outputs, 1)), None


def plain_transformer(cfg: dict[str, Any], src_vocab: int, tgt_vocab: int) -> nn.Module:
    """``nn.Transformer`` at the variant's sizes."""
    return PlainTransformer(cfg, src_vocab, tgt_vocab, pooled=False)


def plain_pooled_transformer(cfg: dict[str, Any], src_vocab: int, tgt_vocab: int) -> nn.Module:
    """``nn.Transformer`` whose decoder sees the mean-pooled encoder states."""
    return PlainTransformer(cfg, src_vocab, tgt_vocab, pooled=True)


def textbook_loss(smoothing: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Summed label-smoothed cross-entropy, as the tutorials write it (a
    :data:`~nmt.training.step.LossFn`)."""

    def loss(logits: torch.Tensor, tgt_out: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(
            logits.flatten(0, 1).float(), tgt_out.flatten(), ignore_index=PAD_ID,
            label_smoothing=smoothing, reduction="sum",
        )  # fmt: skip

    return loss
