"""The Transformer (Vaswani et al. 2017, arXiv:1706.03762) behind the shared decoding interface.

Decoder state: ``"src_mask"`` (B, S); ``"cross_kv"``, one (keys, values) pair
per decoder layer, the encoder output projected once in :meth:`Transformer.encode`;
``"self_kv"``, the per-layer self-attention cache (B, h, t, d_k) that grows by
one position per step; ``"step"``, the next target position. All tensors are
batch-first, so :meth:`EncoderDecoder.reorder_state` applies unchanged.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from nmt import PAD_ID
from nmt.errors import ConfigError
from nmt.models.base import EncoderDecoder, State
from nmt.models.config import TransformerConfig
from nmt.models.dropout import Dropout
from nmt.models.transformer_layers import DecoderLayer, EncoderLayer, KeyValue, sinusoids


class Transformer(EncoderDecoder):
    """Encoder-decoder Transformer, pre-norm (with a final LayerNorm) or post-norm.

    Embeddings are scaled by ``sqrt(d_model)`` and summed with sinusoidal
    positions (§3.4, §3.5). ``tie_embeddings`` shares the target embedding with
    the output projection, ``share_embeddings`` the source embedding with the
    target one (§3.4; needs a joint vocabulary).
    """

    variant = "transformer"
    source_state = ("src_mask", "cross_kv")

    def __init__(self, cfg: TransformerConfig, src_vocab_size: int, tgt_vocab_size: int) -> None:
        super().__init__()
        self.config = cfg
        d = cfg.d_model
        self.d_model, self.heads = d, cfg.heads
        self.tgt_embed = nn.Embedding(tgt_vocab_size, d, padding_idx=PAD_ID)
        if cfg.share_embeddings and src_vocab_size != tgt_vocab_size:
            raise ConfigError(
                "model.share_embeddings: needs equal source and target vocabularies, got "
                f"{src_vocab_size} and {tgt_vocab_size}; set it to false"
            )
        self.src_embed = (
            self.tgt_embed
            if cfg.share_embeddings
            else nn.Embedding(src_vocab_size, d, padding_idx=PAD_ID)
        )
        layer_args = (
            d,
            cfg.heads,
            cfg.ff_dim,
            cfg.dropout,
            cfg.pre_norm,
            cfg.attention_dropout,
            cfg.activation_dropout,
        )
        self.encoder_layers = nn.ModuleList(
            EncoderLayer(*layer_args) for _ in range(cfg.enc_layers)
        )
        self.decoder_layers = nn.ModuleList(
            DecoderLayer(*layer_args) for _ in range(cfg.dec_layers)
        )
        # pre-norm leaves the residual stream unnormalised: one LayerNorm closes each stack
        self.encoder_norm = nn.LayerNorm(d) if cfg.pre_norm else nn.Identity()
        self.decoder_norm = nn.LayerNorm(d) if cfg.pre_norm else nn.Identity()
        self.dropout = Dropout(cfg.dropout)
        self.generator = nn.Linear(d, tgt_vocab_size)
        self._reset_parameters()
        if cfg.tie_embeddings:
            self.generator.weight = self.tgt_embed.weight

    def _reset_parameters(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
            elif isinstance(module, nn.Embedding):
                # N(0, 1/d) so that the sqrt(d) scaling gives unit-variance inputs
                nn.init.normal_(module.weight, std=self.d_model**-0.5)
                nn.init.zeros_(module.weight[PAD_ID])

    def _embed(self, embedding: nn.Embedding, tokens: torch.Tensor, offset: int) -> torch.Tensor:
        """tokens (B, T) at positions offset.. -> (B, T, D)."""
        positions = torch.arange(offset, offset + tokens.size(1), device=tokens.device)
        x = embedding(tokens) * math.sqrt(self.d_model) + sinusoids(positions, self.d_model)
        return self.dropout(x)

    def _memory(self, src: torch.Tensor, src_mask: torch.Tensor) -> torch.Tensor:
        x = self._embed(self.src_embed, src, 0)  # (B, S, D)
        for layer in self.encoder_layers:
            x = layer(x, src_mask)
        return self.encoder_norm(x)  # (B, S, D)

    def _decode(
        self,
        tokens: torch.Tensor,
        src_mask: torch.Tensor,
        cross_kv: list[KeyValue],
        cache: list[KeyValue] | None,
        offset: int,
        need_weights: bool,
    ) -> tuple[torch.Tensor, list[KeyValue], torch.Tensor | None]:
        """tokens (B, T) -> logits (B, T, V), new caches, last cross-attention (B, h, T, S)."""
        x = self._embed(self.tgt_embed, tokens, offset)
        new_cache, weights = [], None
        last = len(self.decoder_layers) - 1
        for i, layer in enumerate(self.decoder_layers):
            layer_cache = None if cache is None else cache[i]
            x, kv, weights = layer(
                x, cross_kv[i], src_mask, layer_cache, need_weights and i == last
            )
            new_cache.append(kv)
        return self.generator(self.decoder_norm(x)), new_cache, weights

    def encode(self, src: torch.Tensor, src_mask: torch.Tensor) -> State:
        memory = self._memory(src, src_mask)
        # contiguous once here, or every step's attention copies them (a (B, h, S, d_k) view
        # of (B, S, h, d_k) does not flatten to (B * h, S, d_k) for the batched matmul)
        cross_kv = [
            (k.contiguous(), v.contiguous())
            for k, v in (layer.project_memory(memory) for layer in self.decoder_layers)
        ]
        empty = cross_kv[0][0][:, :, :0]  # (B, h, 0, d_k)
        return {
            "src_mask": src_mask,
            "cross_kv": cross_kv,
            "self_kv": [(empty, empty) for _ in self.decoder_layers],
            "step": 0,
        }

    def decode_step(
        self, prev_tokens: torch.Tensor, state: State
    ) -> tuple[torch.Tensor, State, torch.Tensor | None]:
        logits, cache, weights = self._decode(
            prev_tokens.unsqueeze(1),
            state["src_mask"],
            state["cross_kv"],
            state["self_kv"],
            state["step"],
            need_weights=True,
        )  # (B, 1, V), weights (B, h, 1, S)
        state = {**state, "self_kv": cache, "step": state["step"] + 1}
        attention = None if weights is None else weights.squeeze(2).mean(dim=1)  # (B, S)
        return logits.squeeze(1).log_softmax(dim=-1), state, attention

    def output_layer(self) -> nn.Linear:
        return self.generator

    def attention_heads(
        self, src: torch.Tensor, src_mask: torch.Tensor, tgt_in: torch.Tensor
    ) -> torch.Tensor | None:
        """Per-head weights of the last cross-attention layer, teacher-forced: (B, h, T, S)."""
        return self._teacher_forced(src, src_mask, tgt_in, need_weights=True)[1]

    def attention_layers(
        self, src: torch.Tensor, src_mask: torch.Tensor, tgt_in: torch.Tensor
    ) -> torch.Tensor | None:
        """Every decoder layer's cross-attention per head, teacher-forced: (B, L, h, T, S)."""
        memory = self._memory(src, src_mask)
        x = self._embed(self.tgt_embed, tgt_in, 0)
        maps = []
        for layer in self.decoder_layers:
            x, _, weights = layer(x, layer.project_memory(memory), src_mask, None, True)
            maps.append(weights)
        return torch.stack(maps, dim=1)

    def _teacher_forced(
        self, src: torch.Tensor, src_mask: torch.Tensor, tgt_in: torch.Tensor, need_weights: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        memory = self._memory(src, src_mask)
        cross_kv = [layer.project_memory(memory) for layer in self.decoder_layers]
        logits, _, weights = self._decode(tgt_in, src_mask, cross_kv, None, 0, need_weights)
        return logits, weights

    def forward(
        self,
        src: torch.Tensor,
        src_mask: torch.Tensor,
        tgt_in: torch.Tensor,
        *,
        need_attention: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        logits, weights = self._teacher_forced(src, src_mask, tgt_in, need_attention)
        return logits, None if weights is None else weights.mean(dim=1)  # (B, T, S)
