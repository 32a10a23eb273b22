"""Properties every variant must have, on tiny models: shapes, masks, padding, caches, gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nmt import BOS_ID, EOS_ID, PAD_ID
from nmt.models import VARIANTS as REGISTERED
from nmt.models import EncoderDecoder, build_model

SRC_VOCAB, TGT_VOCAB = 13, 11
_RNN = {"emb_dim": 8, "hidden_size": 16, "dropout": 0.1}
_TRANSFORMER = {"d_model": 16, "heads": 2, "ff_dim": 32, "enc_layers": 2, "dec_layers": 2}

VARIANTS: dict[str, dict] = {
    # every registered variant at its declared tiny size, then settings worth a case each
    **{f"{name}-tiny": {"name": name, **v.tiny} for name, v in REGISTERED.items()},
    "seq2seq-gru": {"name": "seq2seq", **_RNN},
    "seq2seq-lstm-unidirectional": {
        "name": "seq2seq",
        **_RNN,
        "rnn_type": "lstm",
        "bidirectional": False,
        "dec_layers": 2,
    },
    "bahdanau-gru": {"name": "bahdanau", **_RNN, "attention_dim": 8},
    "bahdanau-lstm": {
        "name": "bahdanau",
        **_RNN,
        "rnn_type": "lstm",
        "enc_layers": 1,
        "dec_layers": 2,
        "attention_dim": 8,
    },
    **{
        f"luong-{score}-{'feed' if feed else 'nofeed'}-{rnn}": {
            "name": "luong",
            **_RNN,
            "score": score,
            "input_feeding": feed,
            "rnn_type": rnn,
        }
        for score, rnn in (("dot", "gru"), ("general", "lstm"), ("concat", "gru"))
        for feed in (True, False)
    },
    "transformer-pre-norm": {"name": "transformer", **_TRANSFORMER},
    "transformer-post-norm": {
        "name": "transformer",
        **_TRANSFORMER,
        "pre_norm": False,
        "tie_embeddings": False,
    },
    "transformer-shared-embeddings": {
        "name": "transformer",
        **_TRANSFORMER,
        "share_embeddings": True,
    },
    "transformer_pooled-mean": {"name": "transformer_pooled", **_TRANSFORMER, "pooling": "mean"},
}


def make_model(variant: str) -> EncoderDecoder:
    torch.manual_seed(0)
    cfg = VARIANTS[variant]
    src_vocab = TGT_VOCAB if cfg.get("share_embeddings") else SRC_VOCAB
    return build_model(cfg, src_vocab, TGT_VOCAB)


def make_batch(extra_padding: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """src (3, 6 + extra_padding) of lengths 6, 4, 1 ending in EOS; tgt_in (3, 5) from BOS."""
    gen = torch.Generator().manual_seed(1)
    lengths = [6, 4, 1]
    src = torch.full((3, max(lengths) + extra_padding), PAD_ID)
    for i, n in enumerate(lengths):
        src[i, : n - 1] = torch.randint(4, SRC_VOCAB - 2, (n - 1,), generator=gen)
        src[i, n - 1] = EOS_ID
    tgt_in = torch.randint(4, TGT_VOCAB, (3, 5), generator=gen)
    tgt_in[:, 0] = BOS_ID
    return src, src != PAD_ID, tgt_in


def teacher_forced(model, src, src_mask, tgt_in):
    logits, attn = model(src, src_mask, tgt_in, need_attention=True)
    return logits.log_softmax(-1), attn


def incremental(model, src, src_mask, tgt_in):
    """encode + one decode_step per target token, as a search would run it."""
    state = model.encode(src, src_mask)
    log_probs, attns = [], []
    for t in range(tgt_in.size(1)):
        lp, state, attn = model.decode_step(tgt_in[:, t], state)
        log_probs.append(lp)
        attns.append(attn)
    attn = None if attns[0] is None else torch.stack(attns, 1)
    return torch.stack(log_probs, 1), attn


@pytest.fixture(params=list(VARIANTS))
def variant(request) -> str:
    return request.param


def test_shapes_and_attention(variant: str) -> None:
    model = make_model(variant).eval()
    src, src_mask, tgt_in = make_batch()
    logits, no_attn = model(src, src_mask, tgt_in)
    assert logits.shape == (3, 5, TGT_VOCAB) and no_attn is None
    logits_with, attn = model(src, src_mask, tgt_in, need_attention=True)
    torch.testing.assert_close(logits_with, logits)  # fused and explicit kernels agree
    heads = model.attention_heads(src, src_mask, tgt_in)
    layers = model.attention_layers(src, src_mask, tgt_in)
    if not REGISTERED[VARIANTS[variant]["name"]].attention:
        assert attn is None and heads is None and layers is None
        return
    assert attn.shape == (3, 5, 6)
    padding = ~src_mask.unsqueeze(1).expand_as(attn)
    assert (attn[padding] == 0).all()
    torch.testing.assert_close(attn.sum(-1), torch.ones(3, 5))
    n_heads = VARIANTS[variant].get("heads", 1)
    assert heads.shape == (3, n_heads, 5, 6)
    torch.testing.assert_close(heads.mean(1), attn)
    # every layer's heads (the Transformer's decoder layers), the last being attention_heads'
    n_layers = VARIANTS[variant].get("dec_layers", 1) if "heads" in VARIANTS[variant] else 1
    assert layers.shape == (3, n_layers, n_heads, 5, 6)
    torch.testing.assert_close(layers[:, -1], heads)
    torch.testing.assert_close(layers.sum(-1), torch.ones(3, n_layers, n_heads, 5))


def test_source_padding_changes_nothing(variant: str) -> None:
    model = make_model(variant).eval()
    logits, attn = teacher_forced(model, *make_batch())
    padded_logits, padded_attn = teacher_forced(model, *make_batch(extra_padding=3))
    torch.testing.assert_close(padded_logits, logits)
    if attn is not None:
        torch.testing.assert_close(padded_attn[..., :6], attn)
        assert (padded_attn[..., 6:] == 0).all()


def test_incremental_decoding_equals_teacher_forcing(variant: str) -> None:
    model = make_model(variant).eval()
    batch = make_batch()
    expected_lp, expected_attn = teacher_forced(model, *batch)
    with torch.no_grad():
        log_probs, attn = incremental(model, *batch)
    torch.testing.assert_close(log_probs, expected_lp)
    if expected_attn is None:
        assert attn is None
    else:
        torch.testing.assert_close(attn, expected_attn)


@pytest.mark.parametrize("index", [[2, 0, 1], [1, 1, 0, 2, 2]])
def test_reorder_state_commutes_with_step(variant: str, index: list[int]) -> None:
    model = make_model(variant).eval()
    src, src_mask, tgt_in = make_batch()
    index_t = torch.tensor(index)
    with torch.no_grad():
        state = model.encode(src, src_mask)
        _, state, _ = model.decode_step(tgt_in[:, 0], state)
        # reorder, then step
        lp_a, state_a, attn_a = model.decode_step(
            tgt_in[index_t, 1], model.reorder_state(state, index_t)
        )
        # step, then reorder
        lp_b, state_b, attn_b = model.decode_step(tgt_in[:, 1], state)
        torch.testing.assert_close(lp_a, lp_b[index_t])
        if attn_b is not None:
            torch.testing.assert_close(attn_a, attn_b[index_t])
        # and the reordered states keep decoding identically
        lp_a, _, _ = model.decode_step(tgt_in[index_t, 2], state_a)
        lp_b, _, _ = model.decode_step(tgt_in[:, 2], state_b)
        torch.testing.assert_close(lp_a, lp_b[index_t])


def _rows_equal(value, rows: list[int]) -> bool:
    """Are these rows of every tensor in a state entry equal?"""
    if isinstance(value, torch.Tensor):
        return all(torch.equal(value[rows[0]], value[r]) for r in rows[1:])
    if isinstance(value, (list, tuple)):
        return all(_rows_equal(v, rows) for v in value)
    if isinstance(value, dict):
        return all(_rows_equal(v, rows) for v in value.values())
    return True


def test_a_beam_step_within_sentences_keeps_the_source_state(variant: str) -> None:
    """Beam search reorders hypotheses within their sentences without copying the
    source-side state (:attr:`EncoderDecoder.source_state`): those entries must really be
    equal in every hypothesis of a sentence once the hypotheses have diverged (and the
    others must not be), and decoding from the kept state must equal the full reorder."""
    model = make_model(variant).eval()
    src, src_mask, _ = make_batch()
    k = 3
    expand = torch.arange(3).repeat_interleave(k)  # (9,): 3 hypotheses per sentence
    within = torch.tensor([2, 0, 0, 4, 5, 3, 6, 8, 7])  # each row from its own sentence
    gen = torch.Generator().manual_seed(2)
    tokens = torch.randint(4, TGT_VOCAB, (9, 3), generator=gen)  # every hypothesis its own
    tokens[:, 0] = BOS_ID
    tokens[::k, 1] = tokens[1::k, 1] % (TGT_VOCAB - 4) + 4  # surely differ in two rows
    with torch.no_grad():
        state = model.reorder_state(model.encode(src, src_mask), expand)
        assert set(model.source_state) <= set(state), "source_state names a missing entry"
        for t in range(2):
            _, state, _ = model.decode_step(tokens[:, t], state)
        for name, value in state.items():
            if not isinstance(value, (torch.Tensor, list, tuple, dict)):
                continue  # a step counter
            equal = all(_rows_equal(value, [s * k + j for j in range(k)]) for s in range(3))
            assert equal == (name in model.source_state), (name, equal)
        kept = model.reorder_state(state, within, within_sentences=True)
        full = model.reorder_state(state, within)
        for name in model.source_state:
            assert kept[name] is state[name]
        lp_kept, _, attn_kept = model.decode_step(tokens[within, 2], kept)
        lp_full, _, attn_full = model.decode_step(tokens[within, 2], full)
    assert torch.equal(lp_kept, lp_full)
    assert (attn_kept is None) == (attn_full is None)
    if attn_kept is not None:
        assert torch.equal(attn_kept, attn_full)


def test_every_parameter_gets_a_finite_gradient(variant: str) -> None:
    model = make_model(variant).train()
    src, src_mask, tgt_in = make_batch()
    logits, _ = model(src, src_mask, tgt_in)
    tgt_out = torch.roll(tgt_in, -1, dims=1)
    F.cross_entropy(logits.flatten(0, 1), tgt_out.flatten()).backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name


def _perturb_encoder_outputs(model: EncoderDecoder) -> None:
    """Make the encoder return different per-token outputs but the same final state."""
    encode = model.encoder.forward

    def perturbed(src, src_mask):
        outputs, final = encode(src, src_mask)
        return outputs + torch.randn_like(outputs), final

    model.encoder.forward = perturbed


@pytest.mark.parametrize("variant", ["seq2seq-gru", "seq2seq-lstm-unidirectional"])
def test_seq2seq_sees_only_the_fixed_context(variant: str) -> None:
    model = make_model(variant).eval()
    src, src_mask, tgt_in = make_batch()
    state = model.encode(src, src_mask)
    assert set(state) <= {"hidden", "cell", "context"}
    assert all(v.dim() == 2 or v.shape[:2] == (3, model.config.dec_layers) for v in state.values())
    expected, _ = model(src, src_mask, tgt_in)
    expected_lp, _ = incremental(model, src, src_mask, tgt_in)
    _perturb_encoder_outputs(model)
    torch.testing.assert_close(model(src, src_mask, tgt_in)[0], expected)
    torch.testing.assert_close(incremental(model, src, src_mask, tgt_in)[0], expected_lp)


@pytest.mark.parametrize("variant", ["bahdanau-gru", "luong-dot-nofeed-gru"])
def test_attention_models_do_read_encoder_outputs(variant: str) -> None:
    """The same perturbation moves an attentional model: the test above has power."""
    model = make_model(variant).eval()
    batch = make_batch()
    expected, _ = model(*batch)
    _perturb_encoder_outputs(model)
    assert not torch.allclose(model(*batch)[0], expected)


@pytest.mark.parametrize("variant", [v for v in VARIANTS if "-feed-" in v])
def test_luong_input_feeding_carries_the_attentional_vector(variant: str) -> None:
    """§3.3: h̃_{t-1} is kept in the state and changes the next step's prediction."""
    model = make_model(variant).eval()
    src, src_mask, tgt_in = make_batch()
    with torch.no_grad():
        state = model.encode(src, src_mask)
        assert (state["feed"] == 0).all()
        _, state, _ = model.decode_step(tgt_in[:, 0], state)
        assert not (state["feed"] == 0).all()
        lp, _, _ = model.decode_step(tgt_in[:, 1], state)
        lp_zero_feed, _, _ = model.decode_step(
            tgt_in[:, 1], {**state, "feed": torch.zeros_like(state["feed"])}
        )
    assert not torch.allclose(lp, lp_zero_feed)
