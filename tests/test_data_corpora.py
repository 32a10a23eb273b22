"""Corpora end to end: the real mirror, the catalogue's rules, synthetic, prepare_data."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from nmt.data.catalogue import CATALOGUE, check_pair, get_corpus
from nmt.data.config import DataConfig, SyntheticConfig, TokenizerConfig, as_data_config
from nmt.data.corpora import (
    Joining,
    ParallelText,
    group_sizes,
    join_consecutive,
    joined_split,
)
from nmt.data.prepare import prepare_data, read_text
from nmt.data.synthetic import generate
from nmt.errors import ConfigError, DataError

CONFIGS = Path(__file__).resolve().parent.parent / "nmt" / "configs" / "data"


def quiet(_: str) -> None:
    pass


def test_real_multi30k_from_the_mirror(corpora_mirror, tmp_path):
    cfg = DataConfig(
        root=str(tmp_path), mirror=str(corpora_mirror), extra_tests=["test_2017_flickr"]
    )
    text, _ = read_text(cfg, log=quiet)
    assert len(text["train"]) == 29000 and len(text["train"].tgt) == 29000
    assert (len(text["valid"]), len(text["test"]), len(text["test_2017_flickr"])) == (
        1014,
        1000,
        1000,
    )
    assert sorted(p.name for p in (tmp_path / "multi30k").iterdir()) == sorted(
        f"{s}.{lang}.gz"
        for s in ("train", "val", "test_2016_flickr", "test_2017_flickr")
        for lang in ("de", "en")
    )


def test_wmt_news_has_two_references_for_newstest2020(corpora_mirror, tmp_path):
    cfg = DataConfig(
        name="wmt_news",
        valid="newstest2013",
        test="newstest2014",
        extra_tests=["newstest2020"],
        root=str(tmp_path),
        mirror=str(corpora_mirror),
    )
    text, _ = read_text(cfg, log=quiet)
    assert len(text["train"]) == 26743 and len(text["test"]) == 3003
    refs = text["newstest2020"].refs
    assert len(refs) == 2 and refs[0] == text["newstest2020"].tgt and refs[1] != refs[0]
    assert len(refs[1]) == len(text["newstest2020"]) == 785


def test_tatoeba_splits_and_test_overlap_removal(corpora_mirror, tmp_path):
    messages: list[str] = []
    cfg = DataConfig(
        name="tatoeba",
        src="fr",
        tgt="en",
        valid="valid",
        test="test",
        root=str(tmp_path),
        mirror=str(corpora_mirror),
    )
    text, removed = read_text(cfg, log=messages.append)
    assert len(text["test"]) == 7026 and removed == {"test": 12681 - 7026}
    assert len(text["valid"]) == 2000 and len(text["train"]) + 2000 == 142787
    assert not set(text["valid"].tgt) & set(text["train"].tgt)  # English sides held out whole
    assert not set(text["test"].tgt) & set(text["train"].tgt + text["valid"].tgt)
    assert any("removed 5655" in m for m in messages)
    again, _ = read_text(cfg, log=quiet)
    assert again["valid"].src == text["valid"].src  # seeded


def test_unknown_pair_or_split_lists_what_exists():
    m30k = get_corpus("multi30k")
    with pytest.raises(DataError, match="languages: de, en, fr, cs"):
        check_pair(m30k, "de", "ja", ["train"])
    with pytest.raises(DataError, match="has languages de, en, fr only"):
        check_pair(m30k, "cs", "en", ["test_2017_flickr"])
    with pytest.raises(DataError, match="splits: train, val"):
        check_pair(m30k, "de", "en", ["dev"])
    with pytest.raises(DataError, match="known corpora: multi30k"):
        get_corpus("europarl")


def test_synthetic_is_deterministic_with_distinct_splits():
    cfg = SyntheticConfig(task="reverse", vocab=30, min_len=3, max_len=9, n_train=200, n_test=50)
    train = generate(cfg, "train")
    assert train.src == generate(cfg, "train").src
    assert train.src[:50] != generate(cfg, "test").src
    assert train.src != generate(SyntheticConfig(**{**vars(cfg), "seed": 9}), "train").src
    for s, t in zip(train.src, train.tgt, strict=True):
        assert t.split() == s.split()[::-1] and 3 <= len(s.split()) <= 9
    assert {w for s in train.src for w in s.split()} <= {f"w{i}" for i in range(30)}


@pytest.mark.parametrize("prepared", [True, False])
def test_prepare_data_filters_train_and_keeps_eval_whole(tmp_path, prepared):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    words = ["ab", "cd", "ef", "gh", "ij", "kl", "mn", "op"]
    train = [f"{words[i % 8]} {words[(i * 3) % 8]}\t{words[(i * 5) % 8]}" for i in range(300)]
    train += ["\tab", "ab " * 12 + "\tcd", "x" * 50 + "\tcd"]  # empty, long, too many chars
    (corpus / "train.tsv").write_text("\n".join(train) + "\n")
    (corpus / "dev.tsv").write_text("ab cd\tef\n\tef\n" + "ab " * 12 + "\tcd\n")
    cfg = DataConfig(
        name="files",
        src="de",
        tgt="en",
        train=str(corpus / "train"),
        valid=str(corpus / "dev"),
        test=str(corpus / "dev"),
        max_len=8,
        max_chars=40,
        max_tokens=200,
        root=str(tmp_path / "data"),
        tokenizer=TokenizerConfig(vocab_size=40),
        prepared=prepared,
    )
    data = prepare_data(cfg, log=quiet)
    r = data.reports["train"]
    assert (r.total, r.empty, r.too_long_chars, r.too_long_tokens, r.kept) == (303, 1, 1, 1, 300)
    kept = [line.split("\t")[1] for line in train[:300]]  # the targets of the kept pairs
    assert len(data.encoded["train"]) == 300
    assert ("train" in data.text) is not prepared  # a prepared train split is not held as text
    if not prepared:
        assert data.text["train"].tgt == kept
    assert len(data.encoded["valid"]) == len(data.text["valid"]) == 3
    assert data.reports["valid"].truncated == 1
    assert max(len(s) for s, _ in data.encoded["valid"]) == 9  # max_len + EOS
    sampler, collate = data.make_batches("train", shuffle=True, seed=3)
    for indices in sampler:
        batch = collate([data.encoded["train"][i] for i in indices])
        for row, i in enumerate(batch.ids.tolist()):
            n = int(batch.tgt_lengths[row]) - 1
            text = data.tokenizer.decode_tgt(batch.tgt_out[row, :n])
            assert text == kept[i]


def test_joined_splits_join_consecutive_pairs_and_every_reference():
    a, b, c = ([f"{x}{i}" for i in range(1, 6)] for x in "abc")
    text = ParallelText("t", a, b, [b, c])
    two = join_consecutive(text, 2, "t.join2")
    assert two.src == ["a1 a2", "a3 a4"] and two.tgt == ["b1 b2", "b3 b4"]  # a5 is dropped
    assert two.refs == [["b1 b2", "b3 b4"], ["c1 c2", "c3 c4"]] and two.name == "t.join2"
    assert join_consecutive(text, 3, "x").src == ["a1 a2 a3"]
    assert joined_split("test_2016_flickr.join3") == ("test_2016_flickr", Joining(3, 3))
    assert joined_split("newstest2014") == ("newstest2014", None)
    with pytest.raises(ConfigError, match="join2 or more"):
        joined_split("test.join1")


def test_random_groups_use_every_pair_once_in_order_with_sizes_in_range():
    a, b = [f"a{i}" for i in range(200)], [f"b{i}" for i in range(200)]
    base, joining = joined_split("train.join1-4")
    assert (base, joining) == ("train", Joining(1, 4))
    joined = joining.apply(ParallelText("train", a, b), "train.join1-4", seed=1)
    sizes = [len(s.split()) for s in joined.src]
    assert set(sizes) == {1, 2, 3, 4} and sum(sizes) == 200  # every pair, once
    assert " ".join(joined.src).split() == a and " ".join(joined.tgt).split() == b
    assert [len(t.split()) for t in joined.tgt] == sizes  # source and target joined alike
    again = joining.apply(ParallelText("train", a, b), "x", seed=1)
    other = joining.apply(ParallelText("train", a, b), "x", seed=2)
    assert again.src == joined.src and other.src != joined.src  # seeded by data.seed
    assert group_sizes(10, 2, 4, seed=1)[-1] >= 2  # a last group under the range is dropped
    for bad in ("t.join4-2", "t.join0-3", "t.join3-3"):
        with pytest.raises(ConfigError, match="1 <= a < b"):
            joined_split(bad)


def test_joinall_repeats_the_split_once_per_group_size():
    a, b, c = ([f"{x}{i}" for i in range(1, 7)] for x in "abc")
    base, joining = joined_split("test_2016_flickr.joinall1-3")
    assert base == "test_2016_flickr" and joining == Joining(1, 3, every=True)
    joined = joining.apply(ParallelText("t", a, b, [b, c]), "t.joinall1-3", seed=1)
    assert joined.src == [*a, "a1 a2", "a3 a4", "a5 a6", "a1 a2 a3", "a4 a5 a6"]
    assert joined.refs[1][6:] == ["c1 c2", "c3 c4", "c5 c6", "c1 c2 c3", "c4 c5 c6"]
    assert joined.tgt == joined.refs[0] and joined.name == "t.joinall1-3"


def test_joined_split_of_the_users_files(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "dev.tsv").write_text("".join(f"s{i}\tt{i}\n" for i in range(7)))
    cfg = DataConfig(name="files", src="de", tgt="en", train=str(corpus / "dev"),
                     valid=str(corpus / "dev"), test=str(corpus / "dev"),
                     extra_tests=[str(corpus / "dev.join3")])  # fmt: skip
    texts, _ = read_text(cfg, log=quiet)
    assert texts["dev.join3"].src == ["s0 s1 s2", "s3 s4 s5"] and len(texts["test"]) == 7


def test_multi30k_long_input_stress_splits(corpora_mirror, tmp_path):
    raw = OmegaConf.load(CONFIGS / "multi30k.yaml")
    cfg = as_data_config({**OmegaConf.to_container(raw), "root": str(tmp_path),
                          "mirror": str(corpora_mirror)})  # fmt: skip
    assert (
        "test_2016_flickr.join2" in cfg.extra_tests and "test_2016_flickr.join3" in cfg.extra_tests
    )
    text, _ = read_text(cfg, log=quiet)
    test, two, three = (
        text[k] for k in ("test", "test_2016_flickr.join2", "test_2016_flickr.join3")
    )
    assert (len(two), len(three)) == (500, 333)
    assert (
        two.src[0] == f"{test.src[0]} {test.src[1]}"
        and two.tgt[1] == f"{test.tgt[2]} {test.tgt[3]}"
    )
    words = sorted(len(s.split()) for s in three.src)
    assert words[len(words) // 2] >= 25 and words[-1] >= 45  # long inputs for a captions model


def test_multi30k_joined_preset_trains_validates_and_tests_on_joined_captions(
    corpora_mirror, tmp_path
):
    preset = OmegaConf.load(CONFIGS.parent / "experiment" / "multi30k_joined.yaml")
    raw = OmegaConf.merge(OmegaConf.load(CONFIGS / "multi30k.yaml"), preset.data)
    cfg = as_data_config({**OmegaConf.to_container(raw), "root": str(tmp_path),
                          "mirror": str(corpora_mirror)})  # fmt: skip
    text, _ = read_text(cfg, log=quiet)
    plain = as_data_config({**OmegaConf.to_container(OmegaConf.load(CONFIGS / "multi30k.yaml")),
                            "root": str(tmp_path), "mirror": str(corpora_mirror),
                            "extra_tests": []})  # fmt: skip
    single, _ = read_text(plain, log=quiet)
    for role in ("train", "valid"):
        assert " ".join(text[role].src).split() == " ".join(single[role].src).split()
        assert len(single[role]) / 4 < len(text[role]) < len(single[role]) / 2  # ~2.5 a group
    test = text["test"]
    assert test.name == "test_2016_flickr.joinall1-4" and len(test) == 1000 + 500 + 333 + 250
    assert test.src[:1000] == single["test"].src and test.tgt[1000] == " ".join(
        single["test"].tgt[:2]
    )
    words = [len(s.split()) for s in text["train"].src]
    assert min(words) < 8 and max(words) > 50  # single captions to four joined


@pytest.mark.parametrize("content", ["", "\t\n \t \n"])
def test_an_empty_training_split_names_the_split_and_its_file(tmp_path, content):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "train.tsv").write_text(content)
    (corpus / "dev.tsv").write_text("a\tb\n")
    cfg = DataConfig(name="files", src="de", tgt="en", train=str(corpus / "train"),
                     valid=str(corpus / "dev"), test=str(corpus / "dev"),
                     root=str(tmp_path / "data"))  # fmt: skip
    with pytest.raises(DataError, match=r"train split .*corpus/train\).* no usable pairs"):
        prepare_data(cfg, log=quiet)


def test_prepare_data_rejects_a_budget_below_max_len():
    with pytest.raises(ConfigError, match="max_tokens"):
        prepare_data(DataConfig(max_len=100, max_tokens=50), log=quiet)


@pytest.mark.parametrize("name", [*CATALOGUE, "files", "synthetic"])
def test_yaml_matches_schema_and_catalogue(name):
    raw = OmegaConf.load(CONFIGS / f"{name}.yaml")
    merged = OmegaConf.merge(OmegaConf.structured(DataConfig), raw)
    assert merged.name == name
    if name in CATALOGUE:
        corpus = CATALOGUE[name]
        cfg = as_data_config(raw)
        assert (cfg.src, cfg.tgt) == corpus.default_pair
        assert (cfg.train, cfg.valid, cfg.test) == corpus.default_splits
        assert tuple(cfg.extra_tests) == corpus.default_extra_tests
        assert cfg.max_len == corpus.default_max_len
    with pytest.raises(ConfigError, match="data config"):
        as_data_config({**OmegaConf.to_container(raw), "max_lenn": 3})
