"""The PyTorch search over a lexical shortlist: the output layer computes the candidates'
logits only, and the search maps its columns back to target ids."""

from __future__ import annotations

import pytest
import torch

from nmt import EOS_ID, PAD_ID, UNK_ID
from nmt.errors import ConfigError
from nmt.translation.decoding import Decoding
from nmt.translation.search import search
from nmt.translation.shortlist import Shortlist, restricted_output

VARIANTS = ["transformer", "bahdanau", "luong", "seq2seq", "transformer_pooled"]


def tiny(name: str):
    from nmt.models import VARIANTS as REGISTRY
    from nmt.models import build_model

    torch.manual_seed(0)
    return build_model({"name": name, **REGISTRY[name].tiny}, 13, 40).eval()


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    mask = torch.arange(7) < torch.tensor([[7], [2], [5], [3]])
    return torch.randint(4, 12, (4, 7)).masked_fill(~mask, PAD_ID), mask


def decode(model, src, mask, decoding, vocab=None):
    """Greedy search at beam 1, else beam search's 2 best."""
    nbest = 1 if decoding.beam == 1 else 2
    with torch.no_grad():
        if vocab is None:
            return search(model, src, mask, decoding, nbest=nbest)
        with restricted_output(model, vocab):
            return search(model, src, mask, decoding, nbest=nbest, vocab=vocab)


@pytest.mark.parametrize("name", VARIANTS)
def test_a_shortlist_holding_the_greedy_outputs_keeps_them(name: str):
    """Greedy's argmax over a subset holding the full search's choice is that choice: with
    a shortlist of those tokens plus others (columns != ids), the outputs are the same."""
    model = tiny(name)
    src, mask = batch()
    greedy = Decoding(beam=1, max_len_a=1.0, max_len_b=3)
    full = [h[0].tokens for h in decode(model, src, mask, greedy)]
    used = {t for tokens in full for t in tokens}
    vocab = torch.tensor(sorted(used | {EOS_ID, UNK_ID, 39, 21}))
    assert len(vocab) < 40
    short = decode(model, src, mask, greedy, vocab)
    assert [h[0].tokens for h in short] == full
    assert "forward" not in vars(model.output_layer())  # the class's forward again


@pytest.mark.parametrize("beam", [1, 3])
def test_a_shortlist_of_the_whole_vocabulary_is_the_same_search(beam: int):
    model = tiny("transformer")
    src, mask = batch()
    decoding = Decoding(beam=beam, max_len_a=1.0, max_len_b=3)
    full = decode(model, src, mask, decoding)
    every = decode(model, src, mask, decoding, torch.arange(40))
    assert [[(h.tokens, round(h.score, 4)) for h in s] for s in every] == [
        [(h.tokens, round(h.score, 4)) for h in s] for s in full
    ]


def test_the_output_layer_is_restored_after_an_error_and_never_restricted_twice():
    model = tiny("bahdanau")
    vocab = torch.tensor([EOS_ID, 7])
    with pytest.raises(KeyError), restricted_output(model, vocab):
        assert model.output_layer()(torch.zeros(2, model.output_layer().in_features)).shape == (
            2,
            2,
        )
        raise KeyError("inside")
    assert "forward" not in vars(model.output_layer())
    with (
        restricted_output(model, vocab),
        pytest.raises(RuntimeError, match="restricted already"),
        restricted_output(model, vocab),
    ):
        pass
    assert "forward" not in vars(model.output_layer())


def test_under_bf16_autocast_the_candidate_rows_are_cast_once():
    model = tiny("transformer")
    vocab = torch.tensor([EOS_ID, 7, 30])
    x = torch.randn(3, model.output_layer().in_features)
    with torch.autocast("cpu", dtype=torch.bfloat16), restricted_output(model, vocab):
        out = model.output_layer()(x)
    assert out.dtype == torch.bfloat16 and out.shape == (3, 3)
    want = torch.nn.functional.linear(x, model.output_layer().weight[vocab],
                                      model.output_layer().bias[vocab])  # fmt: skip
    assert torch.allclose(out.float(), want, atol=0.1)


@pytest.mark.parametrize("name", ["transformer", "luong"])
def test_only_the_shortlist_comes_out_of_beam_and_greedy(name: str):
    model = tiny(name)
    src, mask = batch()
    vocab = torch.tensor([EOS_ID, 7, 30])
    for beam in (1, 3):
        decoding = Decoding(beam=beam, max_len_a=1.0, max_len_b=3)
        hyps = decode(model, src, mask, decoding, vocab)
        tokens = {t for sent in hyps for h in sent for t in h.tokens}
        assert tokens <= {7, 30} and (tokens or beam == 1)  # 2 best of a beam: one is not empty
        # budgets hold: a * source + b tokens at most, EOS included
        for sent, n in zip(hyps, mask.sum(1).tolist(), strict=True):
            assert all(len(h.tokens) + 1 <= n + 3 for h in sent)


def write_map(tmp_path, text: str):
    path = tmp_path / "vmap.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_map_file_becomes_candidates_per_batch(tmp_path):
    src_pieces = ["<pad>", "<unk>", "<s>", "</s>", "▁Hund", "▁Katze", "."]
    tgt_pieces = ["<pad>", "<unk>", "<s>", "</s>", "▁dog", "▁cat", ".", "▁the"]
    path = write_map(tmp_path, "\t. ▁the\n▁Hund\t▁dog\n▁Katze\t▁cat ▁dog\nein ▁Hund\t▁dog\n")
    short = Shortlist.from_file(path, src_pieces, tgt_pieces)  # the bigram line is skipped
    assert short.candidates(torch.tensor([[4, 6, 3]])).tolist() == [1, 3, 4, 6, 7]
    assert short.candidates(torch.tensor([[5, 3], [6, 0]])).tolist() == [1, 3, 4, 5, 6, 7]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("▁Hund ▁dog\n", r"vmap.txt:1: expected 'piece<TAB>candidates'"),
        ("\t▁the\n▁Hund\t▁wolf\n", r"vmap.txt:2: '▁wolf' is not a piece of the model's target"),
        ("▁Pferd\t▁dog\n", r"vmap.txt:1: '▁Pferd' is not a piece of the model's source"),
    ],
)
def test_a_bad_map_is_one_line_naming_file_and_line(tmp_path, text, needle):
    path = write_map(tmp_path, text)
    with pytest.raises(ConfigError, match=needle):
        Shortlist.from_file(path, ["<pad>", "<unk>", "<s>", "</s>", "▁Hund"],
                            ["<pad>", "<unk>", "<s>", "</s>", "▁dog", "▁the"])  # fmt: skip
    with pytest.raises(ConfigError, match="no such file; write one with nmt-export vmap"):
        Shortlist.from_file(tmp_path / "none.txt", [], [])
