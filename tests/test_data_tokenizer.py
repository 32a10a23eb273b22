"""SentencePiece tokenizer: round trip, special ids, cache reuse, checkpoint state."""

from __future__ import annotations

import io

import pytest
import torch

from nmt import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from nmt.data.config import TokenizerConfig
from nmt.data.tokenizer import Tokenizer, load_or_train

DE = [f"Der Hund Nummer {i} läuft über die grüne Wiese." for i in range(150)] + [
    "Zwei Männer spielen Fußball im Park.",
    "Ein Kind isst   ein Eis.",
]
EN = [f"Dog number {i} runs across the green meadow." for i in range(150)] + [
    "Two men play football in the park.",
    "A child eats an ice cream.",
]
SMALL = TokenizerConfig(vocab_size=120)


def quiet(_: str) -> None:
    pass


@pytest.fixture(scope="module")
def tok(tmp_path_factory) -> Tokenizer:
    root = tmp_path_factory.mktemp("data")
    return load_or_train(SMALL, root, "tiny", "de", "en", DE, EN, log=quiet)


def test_round_trip_on_normalised_text(tok):
    for text in [*DE[-3:], *EN[-3:], "Ein  Kind   läuft."]:
        assert tok.decode_src(tok.encode_src(text)) == tok.normalize_src(text)
        assert tok.decode_tgt(tok.encode_tgt(text)) == tok.normalize_tgt(text)


def test_special_ids_and_decode_rules(tok):
    sp = tok._tgt
    assert (sp.pad_id(), sp.unk_id(), sp.bos_id(), sp.eos_id()) == (PAD_ID, UNK_ID, BOS_ID, EOS_ID)
    ids = tok.encode_tgt("Two men play football.")
    assert BOS_ID not in ids and EOS_ID not in ids
    noisy = [BOS_ID, *ids, EOS_ID, *tok.encode_tgt("garbage after eos"), PAD_ID]
    assert tok.decode_tgt(noisy) == tok.decode_tgt(ids) == "Two men play football."
    assert tok.decode_tgt(torch.tensor(noisy)) == "Two men play football."
    assert len(tok.tgt_pieces(ids)) == len(ids)
    assert tok.src_pieces("Der Hund", eos=True)[-1] == "</s>"
    assert tok.joint and tok.src_vocab_size == tok.tgt_vocab_size <= SMALL.vocab_size


def test_cache_is_reused_and_keyed_by_content(tmp_path):
    messages: list[str] = []
    first = load_or_train(SMALL, tmp_path, "tiny", "de", "en", DE, EN, log=messages.append)
    second = load_or_train(SMALL, tmp_path, "tiny", "de", "en", DE, EN, log=messages.append)
    assert any("reusing" in m for m in messages)
    assert first.state_dict()["src_model"].equal(second.state_dict()["src_model"])
    load_or_train(SMALL, tmp_path, "tiny", "de", "en", DE[:-1], EN[:-1], log=quiet)
    keys = sorted(p.name for p in (tmp_path / "spm").iterdir())
    assert len(keys) == 2 and all(k.startswith("tiny.de-en.unigram120.joint.") for k in keys)


def test_state_dict_survives_torch_save_with_weights_only(tok):
    buf = io.BytesIO()
    torch.save({"tokenizer": tok.state_dict()}, buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)["tokenizer"]
    assert state["src_model"].dtype == torch.uint8
    again = Tokenizer.from_state_dict(state)
    assert again.joint
    assert again.encode_src(DE[-1]) == tok.encode_src(DE[-1])


def test_separate_bpe_vocabularies_round_trip_through_state(tmp_path):
    cfg = TokenizerConfig(type="bpe", vocab_size=100, joint=False)
    tok = load_or_train(cfg, tmp_path, "tiny", "de", "en", DE, EN, log=quiet)
    assert not tok.joint
    buf = io.BytesIO()
    torch.save(tok.state_dict(), buf)
    buf.seek(0)
    again = Tokenizer.from_state_dict(torch.load(buf, weights_only=True))
    assert not again.joint
    text = "Two men play football in the park."
    assert again.decode_tgt(again.encode_tgt(text)) == text
    assert again.encode_src("Zwei Männer") == tok.encode_src("Zwei Männer")
