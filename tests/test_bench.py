"""The benchmark's library: every variant's textbook counterpart and named configurations
are registry data, and the step it times is the trainer's, with the training defaults."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from nmt import PAD_ID
from nmt.bench.training import model_config, textbook_step, trainer_step
from nmt.data.batch import Batch
from nmt.errors import ConfigError
from nmt.models import VARIANTS, build_model
from nmt.models.registry import CONFIGURATIONS, configuration, with_configurations
from nmt.training.config import TrainConfig
from nmt.training.loss import smoothed_cross_entropy
from nmt.training.step import TrainStep


class Tok:
    src_vocab_size = tgt_vocab_size = 20


def batch() -> Batch:
    """Three right-padded pairs: sources of 5, 3 and 5 pieces, targets of 6, 4 and 6."""
    g = torch.Generator().manual_seed(0)
    src_lengths, tgt_lengths = torch.tensor([5, 3, 5]), torch.tensor([6, 4, 6])
    src = torch.randint(4, 20, (3, 5), generator=g)
    tgt_in, tgt_out = torch.randint(4, 20, (2, 3, 6), generator=g)
    src[1, 3:] = tgt_in[1, 4:] = tgt_out[1, 4:] = PAD_ID
    return Batch(src=src, src_mask=src != PAD_ID, src_lengths=src_lengths, tgt_in=tgt_in,
                 tgt_out=tgt_out, tgt_lengths=tgt_lengths, ids=torch.arange(3))  # fmt: skip


@pytest.mark.parametrize("name", with_configurations())
def test_each_variant_and_configuration_trains_its_textbook_model_through_trainstep(name):
    tiny = dict(configuration(name)[0].tiny)
    step, params = textbook_step(name, Tok, torch.device("cpu"), "fp32", tiny)
    assert isinstance(step, TrainStep) and params > 0
    before = [p.detach().clone() for p in step.model.parameters()]
    result = step([batch()])
    assert torch.isfinite(result.loss) and result.tgt_tokens == 16 and result.src_tokens == 13
    assert any(not torch.equal(a, b) for a, b in zip(before, step.model.parameters(), strict=True))
    assert step.clip == TrainConfig().clip_grad_norm


def test_the_timed_step_is_trainsteps_with_the_training_defaults():
    model = build_model(model_config("transformer", VARIANTS["transformer"].tiny), 20, 20)
    opt = torch.optim.AdamW(model.parameters())
    step = trainer_step(model, model, opt, torch.device("cpu"), "fp32")
    logits = torch.randn(2, 3, 20)
    tgt = torch.tensor([[5, 6, PAD_ID], [7, 8, 9]])
    expected = smoothed_cross_entropy(logits.flatten(0, 1), tgt.flatten(),
                                      smoothing=TrainConfig().label_smoothing,
                                      ignore_index=PAD_ID)  # fmt: skip
    assert torch.allclose(step.loss_fn(logits, tgt), expected)
    assert step.clip == TrainConfig().clip_grad_norm and step.scheduler is None


def test_configurations_change_only_keys_of_their_variant():
    for name, (base, settings) in CONFIGURATIONS.items():
        keys = {f.name for f in dataclasses.fields(VARIANTS[base].config)}
        assert base in VARIANTS and settings and set(settings) <= keys, name
        assert model_config(name, {"d_model": 8}) == model_config(base, {}) | settings
    names = with_configurations()
    assert names.index("luong-nofeed") == names.index("luong") + 1
    assert model_config("luong-nofeed", {})["input_feeding"] is False
    with pytest.raises(ConfigError, match="neither a variant nor a configuration"):
        configuration("lstm")


def test_every_variant_names_its_textbook_model():
    for v in VARIANTS.values():
        assert callable(v.textbook) and v.textbook_name


def test_the_scale_corpus_joins_one_to_three_mirrored_pairs(corpora_mirror, tmp_path):
    import os

    from nmt.bench.scale import _tree_rss_mb, make_corpus

    info = make_corpus(tmp_path / "c", 300, 1, str(corpora_mirror))
    de = (tmp_path / "c" / "big.de").read_text().splitlines()
    en = (tmp_path / "c" / "big.en").read_text().splitlines()
    assert len(de) == len(en) == info["pairs"] == 300 and info["pool_pairs"] > 50_000
    assert 12 < info["src_words_mean"] < 40  # one to three sentences of 10-20 words
    assert (tmp_path / "c" / "test.de").read_text().count("\n") == 1000  # Multi30k's test
    assert _tree_rss_mb(os.getpid())[0] > 10  # this process, resident


def test_the_scale_report_states_each_goal_beside_its_figure():
    from nmt.bench.scale import report

    run = {"peak_rss_mb": 1800.0, "peak_rss_all_mb": 3500.0, "first_update_s": 5.2, "steps": 30}
    r = {"command": "python scripts/bench_scale.py", "cpu": "Intel Xeon (AMX)", "cores": 2,
         "corpus": {"pairs": 4_500_000, "seed": 1, "pool_pairs": 55_743, "src_words_mean": 25.1,
                    "bytes": 1.3e9},
         "prepare": {"seconds": 600, "pairs": 4_499_000, "pairs_per_s": 7498, "tokens": 2.8e8,
                     "disk_bytes": 6.0e8, "bytes_per_token": 2.143, "vocab": 8000,
                     "again_seconds": 3.2},
         "memory": {"large": run, "multi30k": {**run, "peak_rss_mb": 1750.0},
                    "small": {**run, "peak_rss_mb": 1790.0}, "large_ddp2": run,
                    "large_over_multi30k": 1.029, "large_over_small": 1.006},
         "speed": [{"prepared": True, "tokens_per_s": 9000, "first_update_s": 3.0, "steps": 100},
                   {"prepared": False, "tokens_per_s": 8900, "first_update_s": 5.0,
                    "steps": 100}],
         "speed_prepared_over_memory": 1.011}  # fmt: skip
    text = report(r)
    assert "Intel Xeon (AMX), 2 cores" in text and "**2.14 bytes a token**" in text
    assert "opens the prepared split\ninstead: 3.2 s" in text
    assert "pairs):\n**1.006** (goal: within 10%)" in text and "Multi30k" in text
    assert "| 4,500,000 pairs, 2 DDP ranks (gloo) | 1,800 a rank (3,500) | 5.2 |" in text
    assert "Prepared over in memory: **1.011** (goal: no slower)" in text


def test_make_bench_keeps_the_engines_section_of_benchmark_md(tmp_path):
    from nmt.bench.cli import write_keeping_sections

    md = tmp_path / "BENCHMARK.md"
    md.write_text("## Translation engines side by side\n\nct2 table\n")  # written first
    write_keeping_sections(md, "# Benchmark\n\ntraining table\n")
    assert md.read_text() == (
        "# Benchmark\n\ntraining table\n## Translation engines side by side\n\nct2 table\n"
    )
