"""Tiny model settings shared by the end-to-end tests (Hydra overrides, CPU seconds)."""

from __future__ import annotations

TINY_MODELS = {
    "transformer": [
        "model=transformer",
        "model.d_model=32",
        "model.heads=2",
        "model.ff_dim=64",
        "model.enc_layers=1",
        "model.dec_layers=1",
    ],
    "bahdanau": [
        "model=bahdanau",
        "model.emb_dim=16",
        "model.hidden_size=32",
        "model.attention_dim=32",
        "model.enc_layers=1",
    ],
    "seq2seq": ["model=seq2seq", "model.emb_dim=16", "model.hidden_size=32", "model.enc_layers=1"],
}
