"""Search properties: exact hypotheses on a scripted decoder; beam 1 equals greedy."""

from __future__ import annotations

import math

import pytest
import torch

from nmt import EOS_ID, PAD_ID
from nmt.errors import ConfigError
from nmt.translation.decoding import Decoding
from nmt.translation.search import beam_search, greedy_search, length_penalty
from tests.fakes import HashDecoder, ScriptedDecoder

A, B = 4, 5
TABLE = {
    (): {A: 0.6, B: 0.4},
    (A,): {A: 0.36, B: 0.34, EOS_ID: 0.30},
    (B,): {EOS_ID: 0.9, A: 0.05, B: 0.05},
}


def src_batch(n: int = 1, length: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    src = torch.full((n, length), 7)
    return src, torch.ones(n, length, dtype=torch.bool)


def test_greedy_follows_the_argmax():
    src, mask = src_batch()
    (hyp,) = greedy_search(ScriptedDecoder(TABLE), src, mask, Decoding())[0]
    assert hyp.tokens == [A, A]
    assert hyp.log_prob == pytest.approx(math.log(0.6 * 0.36 * 1.0))


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_beam_returns_exactly_the_expected_hypotheses(alpha: float):
    src, mask = src_batch()
    hyps = beam_search(
        ScriptedDecoder(TABLE), src, mask, Decoding(beam=2, length_penalty=alpha), nbest=3
    )[0]
    # The beam finds "B" (p = 0.36) that greedy misses, then "A A" (0.216) and "A B" (0.204).
    # "A EOS" (0.18) ranks 4th among step 2's candidates, outside the top k: never finished.
    expected = [([B], 0.4 * 0.9), ([A, A], 0.6 * 0.36), ([A, B], 0.6 * 0.34)]
    assert [h.tokens for h in hyps] == [tokens for tokens, _ in expected]
    for h, (tokens, p) in zip(hyps, expected, strict=True):
        assert h.log_prob == pytest.approx(math.log(p))
        assert h.score == pytest.approx(math.log(p) / length_penalty(len(tokens) + 1, alpha))


def test_beam_nbest_is_sorted_by_score():
    src, mask = src_batch()
    hyps = beam_search(ScriptedDecoder(TABLE), src, mask, Decoding(beam=3), nbest=3)[0]
    scores = [h.score for h in hyps]
    assert scores == sorted(scores, reverse=True)
    assert hyps[0].tokens == [B]


def test_length_budget_closes_every_hypothesis():
    loop = {(): {A: 1.0}, (A,): {A: 1.0}, (A, A): {A: 1.0}, (A, A, A): {A: 1.0}}
    loop |= {tuple([A] * n): {A: 1.0} for n in range(4, 40)}
    src, mask = src_batch(length=2)
    limit = Decoding(max_len_a=1.0, max_len_b=1)
    g = greedy_search(ScriptedDecoder(loop), src, mask, limit)[0][0]
    b = beam_search(ScriptedDecoder(loop), src, mask, limit.replace(beam=2))
    assert g.tokens == [A, A]  # budget 3 = 2 tokens + EOS
    assert b[0][0].tokens == [A, A]


@pytest.mark.parametrize("seed", range(4))
def test_beam_size_one_equals_greedy(seed: int):
    torch.manual_seed(seed)
    src = torch.randint(4, 9, (5, 7))
    mask = torch.ones_like(src, dtype=torch.bool)
    mask[1, 4:] = False
    model = HashDecoder(seed=seed)
    greedy = greedy_search(model, src, mask, Decoding())
    beam = beam_search(model, src, mask, Decoding(beam=1, length_penalty=0.0))
    for g, b in zip(greedy, beam, strict=True):
        assert g[0].tokens == b[0].tokens
        assert g[0].log_prob == pytest.approx(b[0].log_prob, abs=1e-5)


def test_batched_beam_equals_one_sentence_at_a_time():
    torch.manual_seed(0)
    src = torch.randint(4, 9, (4, 6))
    mask = torch.ones_like(src, dtype=torch.bool)
    model = HashDecoder(seed=7)
    batched = beam_search(model, src, mask, Decoding(beam=3), nbest=2)
    for i in range(4):
        single = beam_search(model, src[i : i + 1], mask[i : i + 1], Decoding(beam=3), nbest=2)[0]
        assert [h.tokens for h in single] == [h.tokens for h in batched[i]]


def test_attention_rows_follow_each_hypothesis():
    src, mask = src_batch(length=5)
    (hyp,) = beam_search(
        ScriptedDecoder(TABLE), src, mask, Decoding(beam=2), return_attention=True
    )[0]
    assert hyp.attention.shape == (len(hyp.tokens) + 1, 5)
    for t in range(hyp.attention.size(0)):
        assert hyp.attention[t].argmax().item() == t % 5


def test_decoding_settings_have_one_name_and_read_older_records():
    # a checkpoint or results.json from before the decode node called the penalty alpha
    old = {"beam": 4, "alpha": 1.0, "max_len_a": 1.2, "max_len_b": 5, "precision": "bf16"}
    assert Decoding.from_dict(old) == Decoding(beam=4, length_penalty=1.0, max_len_a=1.2,
                                               max_len_b=5)  # fmt: skip
    assert Decoding(beam=3).replace(beam=None, length_penalty=0.2) == Decoding(
        beam=3, length_penalty=0.2
    )


@pytest.mark.parametrize(
    ("values", "needle"),
    [({"beam": 0}, r"decode\.beam"), ({"batch_tokens": -1}, r"decode\.batch_tokens"),
     ({"max_len_a": 0, "max_len_b": 0}, r"decode\.max_len_a/max_len_b")],
)  # fmt: skip
def test_bad_decoding_settings_are_one_line(values, needle):
    with pytest.raises(ConfigError, match=needle):
        Decoding(**values)


@pytest.mark.parametrize("name", ["transformer", "luong", "seq2seq"])
def test_beam_that_keeps_the_source_state_equals_full_reorders(name, monkeypatch):
    """Beam search skips copying the source-side state while no sentence leaves the batch;
    with every reorder a full one instead, the hypotheses are exactly the same."""
    from nmt.models import VARIANTS, build_model

    torch.manual_seed(0)
    model = build_model({"name": name, **VARIANTS[name].tiny}, 13, 11).eval()
    src = torch.randint(4, 12, (4, 7))
    mask = torch.arange(7) < torch.tensor([[7], [2], [5], [3]])  # sentences of 7, 2, 5, 3
    src = src.masked_fill(~mask, PAD_ID)
    decoding = Decoding(beam=3, max_len_a=1.0, max_len_b=2)  # they finish at different steps
    calls: list[bool] = []
    reorder = type(model).reorder_state

    def spy(self, state, index, *, within_sentences=False):
        calls.append(within_sentences)
        return reorder(self, state, index, within_sentences=within_sentences)

    monkeypatch.setattr(type(model), "reorder_state", spy)
    kept = beam_search(model, src, mask, decoding, nbest=3)
    assert True in calls and calls.count(False) >= 2  # the expansion, and a sentence leaving

    def full(self, state, index, *, within_sentences=False):
        return reorder(self, state, index)

    monkeypatch.setattr(type(model), "reorder_state", full)
    reference = beam_search(model, src, mask, decoding, nbest=3)
    assert [[(h.tokens, h.score) for h in s] for s in kept] == [
        [(h.tokens, h.score) for h in s] for s in reference
    ]
