"""nmt-compare on tiny finished runs, the experiment presets, and the length buckets.

Three tiny runs (Transformer, Bahdanau, seq2seq; 80 steps each on a synthetic copy
task) are trained once per module and compared once; the error cases copy a run
and break it.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sacrebleu
import yaml
from omegaconf import OmegaConf

from nmt.compare.attention import pick_sentences
from nmt.compare.lengths import (
    common_buckets,
    count_per_bucket,
    exact_match,
    exact_match_per_bucket,
    length_ratio_per_bucket,
)
from nmt.compare.rundir import Run, expand_run_dirs, load_run
from nmt.data.config import as_data_config
from nmt.data.prepare import read_text
from nmt.models import VARIANTS, describe_variant
from tests.tiny import TINY_MODELS

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parent.parent
CONFIGS = REPO / "nmt" / "configs"
EXPERIMENTS = [
    "bottleneck",
    "iwslt14",
    "multi30k_cpu",
    "multi30k_gpu",
    "multi30k_joined",
    "wmt14_gpu",
    "wmt_news",
]
MODELS = list(VARIANTS)

TINY_DATA = [
    "data=synthetic",
    "data.synthetic.task=copy",
    "data.synthetic.vocab=8",
    "data.synthetic.min_len=2",
    "data.synthetic.max_len=14",
    "data.synthetic.n_train=1500",
    "data.synthetic.n_valid=60",
    "data.synthetic.n_test=120",
    "data.tokenizer.vocab_size=24",
    "data.max_tokens=400",
]
TINY_TRAIN = [
    "train.max_steps=80",
    "train.eval_every=40",
    "train.keep_last=2",
    "train.log_every=10",
    "decode.beam=2",
    "train.warmup_steps=50",
    "train.lr=3e-3",
    "train.threads=1",
]


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    data = tmp_path_factory.mktemp("data")
    return {**os.environ, "NMT_DATA_DIR": str(data), "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def runs(env, tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("runs")
    dirs = []
    for i, name in enumerate(("transformer", "bahdanau", "seq2seq")):
        model = TINY_MODELS[name]
        run = root / f"{i}_{name}"
        cmd = [str(BIN / "nmt-train"), f"hydra.run.dir={run}", *TINY_DATA, *TINY_TRAIN, *model]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        dirs.append(run)
    return dirs


def nmt_compare(env, *args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "nmt-compare"), *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def compared(env, runs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("compare") / "out"
    proc = nmt_compare(env, *runs, "--out", out, "--command", "make compare", "--note", "tiny")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_table_has_one_row_per_run_with_every_column(compared: Path, runs):
    rows = list(csv.DictReader((compared / "results.csv").open(encoding="utf-8")))
    assert [r["variant"] for r in rows] == ["transformer", "bahdanau", "seq2seq"]
    for row, run in zip(rows, runs, strict=True):
        results = json.loads((run / "results.json").read_text())
        test = results["test"]["test"]
        assert int(row["parameters"]) == results["parameters"]
        assert int(row["steps"]) == 80
        assert float(row["test_bleu"]) == test["bleu"]
        assert float(row["test_chrf"]) == test["chrf"]
        assert float(row["test_bleu_lc"]) == test["bleu_lc"]
        assert row["bleu_signature"].startswith("nrefs:1|bs:1000|seed:12345|case:mixed")
        assert float(row["train_tgt_tokens_per_s"]) > 0 and row["device"].startswith("cpu")
        assert row["best_valid_bleu"] and row["wall_seconds"]
        hyps = (run / test["hypotheses"]).read_text().splitlines()
        from nmt.data.config import SyntheticConfig
        from nmt.data.synthetic import generate

        refs = generate(
            SyntheticConfig(task="copy", vocab=8, min_len=2, max_len=14, n_test=120), "test"
        )
        assert float(row["exact_match"]) == exact_match(hyps, refs.tgt)


def test_report_states_the_metric_buckets_and_runs(compared: Path, runs):
    report = (compared / "report.md").read_text(encoding="utf-8")
    assert "| Variant |" in report and "Exact match %" in report
    assert "sacreBLEU on detokenized, cased output" in report and "lowercased" in report
    assert "at least 50 sentences" in report
    assert "seq2seq: no heat map" in report
    for run in runs:
        assert str(run) in report
    assert "nmt-train data=synthetic" in report  # the runs' commands
    run_md = (compared / "RUN.md").read_text(encoding="utf-8")
    assert "make compare" in run_md and "cores" in run_md and "note: tiny" in run_md


def test_figures_exist_for_attentive_variants_only(compared: Path):
    names = {p.name for p in compared.glob("*.png")}
    assert {"bleu_by_length.png", "accuracy_by_length.png", "valid_bleu.png"} <= names
    for k in (1, 2, 3):
        assert f"attention_bahdanau_{k}.png" in names
        assert f"attention_transformer_{k}.png" in names
        assert f"attention_transformer_{k}_heads.png" in names
    assert not any(n.startswith("attention_seq2seq") for n in names)
    assert not any(n.startswith("attention_bahdanau") and "heads" in n for n in names)
    for name in names:
        assert (compared / name).stat().st_size > 1000, name


def test_tensorboard_holds_the_table_and_figures(compared: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert list((compared / "tb").glob("events.out.tfevents.*"))
    acc = EventAccumulator(str(compared / "tb"), size_guidance={"images": 0, "tensors": 0})
    acc.Reload()
    tags = acc.Tags()
    assert "comparison/bleu_by_length" in tags["images"]
    assert "attention/transformer_1_heads" in tags["images"]
    assert any("comparison/results" in t for t in tags["tensors"])


def make_sweep(tmp_path: Path, runs: list[Path]) -> Path:
    """A Hydra sweep folder holding copies of ``runs``."""
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "multirun.yaml").write_text("{}\n")
    for run in runs:
        shutil.copytree(run, sweep / run.name)
    return sweep


def test_a_sweep_folder_stands_for_its_runs_and_reruns_replace_the_output(env, runs, tmp_path):
    sweep = make_sweep(tmp_path, runs[:2])
    out = tmp_path / "out"
    out.mkdir()
    (out / "attention_old_1.png").write_bytes(b"stale")
    proc = nmt_compare(env, sweep, "--out", out, "--sentences", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not (out / "attention_old_1.png").exists()
    assert (out / "attention_transformer_1.png").is_file()
    rows = list(csv.DictReader((out / "results.csv").open(encoding="utf-8")))
    assert len(rows) == 2


def test_a_sweep_folder_skips_a_failed_job_with_a_warning(env, runs, tmp_path):
    sweep = make_sweep(tmp_path, runs[:2])
    failed = sweep / "2_luong"  # a job that crashed: config, no results
    failed.mkdir()
    shutil.copy(runs[0] / "config.yaml", failed / "config.yaml")
    proc = nmt_compare(env, sweep, "--out", tmp_path / "out", "--sentences", "0")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"skipping {failed}: no results.json" in proc.stderr
    rows = list(csv.DictReader((tmp_path / "out" / "results.csv").open(encoding="utf-8")))
    assert [r["variant"] for r in rows] == ["transformer", "bahdanau"]


def test_sweep_jobs_come_in_job_order(tmp_path):
    sweep = tmp_path / "sweep"
    (sweep / ".submitit").mkdir(parents=True)
    (sweep / "multirun.yaml").write_text("{}\n")
    for name in ("10_b", "2_a", "1_c"):
        (sweep / name).mkdir()
        (sweep / name / "results.json").write_text("{}")
    assert [p.name for p in expand_run_dirs([sweep])] == ["1_c", "2_a", "10_b"]


def test_runs_with_the_same_folder_name_stay_apart(env, runs, tmp_path):
    a, b = tmp_path / "sweep_a" / runs[0].name, tmp_path / "sweep_b" / runs[0].name
    shutil.copytree(runs[0], a)
    shutil.copytree(runs[0], b)
    cfg = OmegaConf.load(b / "config.yaml")  # another setting: two variants, two heat maps
    cfg.train.lr = 0.002
    OmegaConf.save(cfg, b / "config.yaml")
    out = tmp_path / "out"
    proc = nmt_compare(env, a, b, "--out", out, "--sentences", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = list(csv.DictReader((out / "results.csv").open(encoding="utf-8")))
    labels = [r["variant"] for r in rows]
    assert len(set(labels)) == 2, labels
    maps = sorted(p.name for p in out.glob("attention_*_1.png"))
    assert len(maps) == 2 and "sweep_a" in maps[0] and "sweep_b" in maps[1], maps
    report = (out / "report.md").read_text(encoding="utf-8")
    assert all(f"| {label} |" in report for label in labels)


def test_a_run_without_its_checkpoint_is_compared_without_heat_maps(env, runs, tmp_path):
    slim = tmp_path / "1_bahdanau"
    shutil.copytree(runs[1], slim)
    (slim / "checkpoints" / "best.pt").unlink()
    out = tmp_path / "out"
    proc = nmt_compare(env, runs[0], slim, "--out", out, "--sentences", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "best.pt: missing" in proc.stdout + proc.stderr
    assert not list(out.glob("attention_bahdanau*.png"))
    assert (out / "attention_transformer_1.png").is_file()
    assert "best checkpoint (checkpoints/best.pt) is gone" in (out / "report.md").read_text()


def test_heat_maps_come_from_the_first_seed_that_kept_its_checkpoint(env, runs, tmp_path):
    kept = tmp_path / "1_bahdanau_seed1"  # seed 1 kept without weights, seed 2 with them
    shutil.copytree(runs[1], kept)
    shutil.rmtree(kept / "checkpoints")
    seed2 = tmp_path / "2_bahdanau_seed2"
    shutil.copytree(runs[1], seed2)
    cfg = OmegaConf.load(seed2 / "config.yaml")
    cfg.train.seed = int(cfg.train.seed) + 1
    OmegaConf.save(cfg, seed2 / "config.yaml")
    results = json.loads((seed2 / "results.json").read_text(encoding="utf-8"))
    results.pop("seed", None)
    (seed2 / "results.json").write_text(json.dumps(results), encoding="utf-8")
    out = tmp_path / "out"
    proc = nmt_compare(env, kept, seed2, "--out", out, "--sentences", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = list(csv.DictReader((out / "variants.csv").open(encoding="utf-8")))
    assert len(rows) == 1, rows  # two seeds of one variant
    seed = int(cfg.train.seed)
    assert sorted(p.name for p in out.glob("attention_*.png")) == [
        f"attention_bahdanau_seed{seed}_1.png"
    ]
    assert "is gone" not in (out / "report.md").read_text(encoding="utf-8")


def test_relative_corpus_paths_are_read_from_the_folder_the_run_ran_in(tmp_path, monkeypatch):
    monkeypatch.delenv("NMT_DATA_DIR", raising=False)
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    data = {"name": "files", "src": "de", "tgt": "en", "train": "corpus/train",
            "valid": "corpus/dev", "test": "corpus/test", "extra_tests": ["corpus/t2", "/abs/t3"],
            "root": "data"}  # fmt: skip
    (run / "config.yaml").write_text(yaml.safe_dump({"data": data}))
    (run / ".hydra" / "hydra.yaml").write_text(
        yaml.safe_dump({"hydra": {"runtime": {"cwd": "/proj"}}})
    )
    (run / "results.json").write_text(json.dumps({"variant": "seq2seq", "test": {"test": {}}}))
    got = load_run(run).data_config
    assert got["test"] == "/proj/corpus/test" and got["train"] == "/proj/corpus/train"
    assert got["extra_tests"] == ["/proj/corpus/t2", "/abs/t3"]
    assert got["root"] == "/proj/data"


def test_a_runs_command_is_quoted_and_uses_torchrun_for_several_processes(tmp_path):
    overrides = ["model=luong", "data.test=my corpus/test"]
    single = Run(tmp_path, {"world_size": 1}, {}, overrides=overrides)
    assert single.command == "nmt-train model=luong 'data.test=my corpus/test'"
    ddp = Run(tmp_path, {"world_size": 2}, {}, overrides=overrides[:1])
    assert ddp.command == "torchrun --nproc_per_node=2 -m nmt.cli.train model=luong"


def _one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.startswith("error: ")
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    for needle in needles:
        assert needle in proc.stderr


def test_runs_on_different_test_sets_are_refused(env, runs, tmp_path):
    other = tmp_path / "reverse"
    shutil.copytree(runs[1], other)
    cfg = OmegaConf.load(other / "config.yaml")
    cfg.data.synthetic.task = "reverse"
    OmegaConf.save(cfg, other / "config.yaml")
    proc = nmt_compare(env, runs[0], other, "--out", tmp_path / "out")
    _one_line_error(proc, str(runs[0]), str(other), "synthetic.task")
    assert not (tmp_path / "out").exists()


def test_an_unfinished_run_is_refused(env, runs, tmp_path):
    unfinished = tmp_path / "unfinished"
    shutil.copytree(runs[0], unfinished)
    (unfinished / "results.json").unlink()
    proc = nmt_compare(env, runs[1], unfinished, "--out", tmp_path / "out")
    _one_line_error(proc, str(unfinished), "results.json", "unfinished")


def test_a_missing_directory_is_refused(env, tmp_path):
    proc = nmt_compare(env, tmp_path / "nope", "--out", tmp_path / "out")
    _one_line_error(proc, str(tmp_path / "nope"))


def test_a_run_directory_is_not_an_output_folder(env, runs):
    proc = nmt_compare(env, runs[0], "--out", runs[1])
    _one_line_error(proc, str(runs[1]), "run directory")
    assert (runs[1] / "tb").is_dir()


def edit_results(run: Path, **changes) -> None:
    path = run / "results.json"
    results = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            results.pop(key, None)
        elif isinstance(value, dict):
            results[key] = {**results.get(key, {}), **value}
        else:
            results[key] = value
    path.write_text(json.dumps(results))


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"decode": {"beam": 5}}, "beam (decode.beam): 2 vs 5"),
        ({"decode": {"length_penalty": 1.0}}, "length penalty"),
        ({"decode": {"max_len_b": 50}}, "length limit b"),
        ({"decode": {"precision": "other"}}, "decode precision"),
        ({"tokenizer": "0" * 64}, "tokenizer"),
    ],
)
def test_runs_decoded_differently_are_refused(env, runs, tmp_path, change, needle):
    other = tmp_path / "other"
    shutil.copytree(runs[1], other)
    if "precision" in change.get("decode", {}):  # the precision the first run did not use
        first = json.loads((runs[0] / "results.json").read_text())["decode"]["precision"]
        change = {"decode": {"precision": "fp32" if first == "bf16" else "bf16"}}
    edit_results(other, **change)
    proc = nmt_compare(env, runs[0], other, "--out", tmp_path / "out")
    _one_line_error(proc, str(runs[0]), str(other), needle, "--allow-mismatch")
    assert not (tmp_path / "out").exists()


def test_allow_mismatch_compares_and_marks_every_difference(env, runs, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(runs[1], other)
    edit_results(other, decode={"beam": 5, "length_penalty": 1.0})
    out = tmp_path / "out"
    proc = nmt_compare(env, runs[0], other, "--out", out, "--sentences", "0", "--allow-mismatch")
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "Decoded differently" in report
    assert "beam (decode.beam) — transformer: `2`; bahdanau: `5`" in report
    assert "length penalty (decode.length_penalty) — transformer: `0.6`; bahdanau: `1.0`" in report
    assert "(≠ beam, length penalty)" in report  # in the table's Decoding column
    rows = list(csv.DictReader((out / "results.csv").open(encoding="utf-8")))
    assert [r["beam"] for r in rows] == ["2", "5"]


def test_a_run_from_before_the_decode_record_is_read_from_its_config(env, runs, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(runs[1], old)
    edit_results(old, decode=None, tokenizer=None)
    proc = nmt_compare(env, runs[0], old, "--out", tmp_path / "out", "--sentences", "0")
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_report_has_intervals_significance_and_how_runs_stopped(compared: Path, runs):
    report = (compared / "report.md").read_text(encoding="utf-8")
    assert "Test BLEU (95% CI)" in report and "Exact match % (95% CI)" in report
    for run in runs:
        test = json.loads((run / "results.json").read_text())["test"]["test"]
        assert f"{test['bleu']:.2f} ± {test['bleu_ci']:.2f}" in report
    assert "| Stopped by |" in report and "| max_steps |" in report
    assert "## Significance" in report and "| A \\ B | bahdanau | seq2seq |" in report
    assert "### Reading" in report and "paired bootstrap" in report
    rows = list(csv.DictReader((compared / "results.csv").open(encoding="utf-8")))
    for row in rows:
        low, high = float(row["test_bleu_low"]), float(row["test_bleu_high"])
        assert low <= float(row["test_bleu"]) <= high
        assert row["stop_reason"] == "max_steps" and int(row["train_tgt_tokens"]) > 0
        assert float(row["exact_match_low"]) <= float(row["exact_match"])
        records = [json.loads(line) for line in (Path(row["run"]) / "metrics.jsonl").open()]
        losses = [r["valid_loss"] for r in records if "valid_loss" in r]
        best = max(r["valid_bleu"] for r in records if "valid_bleu" in r)
        at_best = next(r["valid_loss"] for r in records if r.get("valid_bleu") == best)
        assert float(row["valid_loss_at_best_bleu"]) == pytest.approx(at_best)
        assert float(row["valid_loss_last"]) == pytest.approx(losses[-1])
        assert float(row["valid_loss_lowest"]) == pytest.approx(min(losses))
    tests = list(csv.DictReader((compared / "significance.csv").open(encoding="utf-8")))
    pairs = {(t["a"], t["b"]) for t in tests}
    assert pairs == {("transformer", "bahdanau"), ("transformer", "seq2seq"),
                     ("bahdanau", "seq2seq")}  # fmt: skip
    assert all(0 < float(t["p"]) <= 1 for t in tests)
    assert {t["bucket"] for t in tests} > {"all"}  # and every length bucket


def test_seeds_of_one_variant_are_grouped(env, runs, tmp_path):
    seed2 = tmp_path / "3_seq2seq_seed2"
    cmd = [str(BIN / "nmt-train"), f"hydra.run.dir={seed2}", *TINY_DATA, *TINY_TRAIN,
           *TINY_MODELS["seq2seq"], "train.seed=2"]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "out"
    proc = nmt_compare(env, runs[1], runs[2], seed2, "--out", out, "--sentences", "0")
    assert proc.returncode == 0, proc.stderr[-3000:]
    groups = list(csv.DictReader((out / "variants.csv").open(encoding="utf-8")))
    assert [(g["variant"], g["seeds"]) for g in groups] == [("bahdanau", "1"), ("seq2seq", "1, 2")]
    bleus = [json.loads((r / "results.json").read_text())["test"]["test"]["bleu"]
             for r in (runs[2], seed2)]  # fmt: skip
    import statistics

    assert float(groups[1]["test_bleu_mean"]) == pytest.approx(statistics.fmean(bleus), abs=1e-3)
    assert float(groups[1]["test_bleu_sd"]) == pytest.approx(statistics.stdev(bleus), abs=1e-3)
    assert groups[0]["test_bleu_sd"] == ""  # one seed: no spread
    # the mean's 95% interval over seeds and sentences holds both seeds' training noise
    low, high = float(groups[1]["test_bleu_low"]), float(groups[1]["test_bleu_high"])
    assert low <= statistics.fmean(bleus) <= high and groups[0]["test_bleu_low"] == ""
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "## Variants over seeds" in report and "seq2seq, seed 2" in report
    mean, sd = float(groups[1]["test_bleu_mean"]), float(groups[1]["test_bleu_sd"])
    assert f"{mean:.2f} ({low:.2f}–{high:.2f}); sd {sd:.2f}" in report
    assert f"{mean:.2f} ± {sd:.2f}" not in report  # "±" is never a spread over seeds
    # the test of the two variants pairs the runs of equal seed (seed 1 only)
    tests = list(csv.DictReader((out / "significance.csv").open(encoding="utf-8")))
    assert {t["pairing"] for t in tests} == {"1"}
    # scripts/verify_results.py recomputes the derived tables from the kept hypotheses too:
    # the mean's interval over seeds, every trend statistic, each reach, the paired scores
    script = [
        sys.executable,
        str(Path(__file__).resolve().parent.parent / "scripts" / "verify_results.py"),
    ]
    ok = subprocess.run([*script, str(out)], env=env, capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stdout[-2000:] + ok.stderr[-2000:]
    assert "cells of its derived tables recomputed" in ok.stdout and ", 0 mismatch(es)" in ok.stdout
    edits = {
        "variants.csv": ("seq2seq", "test_bleu_low", "variants.csv, seq2seq, test_bleu_low"),
        "trend.csv": ("bahdanau", "did_high", "trend.csv, bahdanau − seq2seq, did_high"),
        "reach.csv": ("seq2seq, seed 2", "short_bucket_score", "short_bucket_score"),
        "significance.csv": ("bahdanau", "bleu_b", "significance.csv, bahdanau / seq2seq"),
    }
    for name, (first, key, said) in edits.items():
        changed = tmp_path / f"changed_{name}"
        shutil.copytree(out, changed)
        rows = list(csv.DictReader((changed / name).open(encoding="utf-8")))
        row = next(r for r in rows if first in r.values())
        row[key] = str(float(row[key]) + 0.5)
        with (changed / name).open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        bad = subprocess.run([*script, str(changed)], env=env, capture_output=True, text=True,
                             timeout=300)  # fmt: skip
        assert bad.returncode == 1 and said in bad.stderr, (name, bad.stderr[-2000:])


# ------------------------------------------------------------------ presets


def test_every_preset_is_composed_below():
    assert sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml")) == EXPERIMENTS


@pytest.mark.parametrize("experiment", EXPERIMENTS)
@pytest.mark.parametrize("model", MODELS)
def test_every_preset_composes_with_every_model(experiment: str, model: str):
    from hydra import compose, initialize_config_dir

    from nmt.cli.train import check_preset_sizes, config_dirs
    from nmt.models import build_model
    from nmt.training.config import register_configs

    register_configs()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(
            "config",
            overrides=[f"model={model}", f"experiment={experiment}"],
            return_hydra_config=True,
        )
    assert cfg.model.name == model
    # the preset's own size file for this variant exists, is found, and sets every size
    choices, dirs = cfg.hydra.runtime.choices, config_dirs(cfg.hydra)
    assert choices["experiment"] == experiment and str(CONFIGS) in map(str, dirs)
    check_preset_sizes(choices, dirs)
    sizes = OmegaConf.load(CONFIGS / "experiment" / "model" / experiment / f"{model}.yaml")
    for key, value in sizes.items():
        assert cfg.model[key] == value, key
    built = build_model(OmegaConf.to_container(cfg.model, resolve=True), 100, 100)
    assert built.variant == model and built.num_parameters() > 0
    # the preset's recipe for this variant, when it has one, sets lr and says how: tuned on
    # validation, or a rate the preset pins (the Transformer's earlier default), not tuned
    recipe = CONFIGS / "experiment" / "recipe" / experiment / f"{model}.yaml"
    if recipe.is_file():
        tuned = OmegaConf.load(recipe)
        assert cfg.train.lr == tuned.lr > 0 and cfg.train.recipe == tuned.recipe
        if cfg.train.recipe.startswith("not tuned: "):
            assert model == "transformer" and cfg.train.lr == 7e-4
        else:
            assert "validation BLEU" in cfg.train.recipe
    else:
        assert cfg.train.recipe == ""
    expected_corpus = {
        "bottleneck": "synthetic",
        "wmt_news": "wmt_news",
        "wmt14_gpu": "wmt14",
        "iwslt14": "iwslt14",
    }
    assert cfg.data.name == expected_corpus.get(experiment, "multi30k")
    if experiment == "bottleneck":  # the per-variant sizes file applies
        key, value = ("d_model", 128) if "d_model" in cfg.model else ("hidden_size", 256)
        assert cfg.model[key] == value
        assert cfg.data.synthetic.task == "reverse" and cfg.train.max_target_tokens > 0
        # every variant on equal terms: no regularisation, one schedule, run to convergence
        assert cfg.model.dropout == 0 and cfg.train.label_smoothing == 0
        assert cfg.train.scheduler == "warmup_plateau" and cfg.train.patience > 0
    if experiment == "wmt_news":  # BLEU by length reaches past 40 words
        assert max(cfg.data.length_edges) >= 40
    # a budget that does not depend on the machine: tokens, or convergence (patience)
    assert cfg.train.max_minutes == 0
    assert cfg.train.max_target_tokens > 0 or cfg.train.patience > 0


def test_command_line_model_keys_override_the_preset_sizes():
    from hydra import compose, initialize_config_dir

    from nmt.training.config import register_configs

    register_configs()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(
            "config",
            overrides=["model=bahdanau", "experiment=bottleneck", "model.hidden_size=64"],
        )
        plain = compose("config", overrides=["model=bahdanau"])
    assert cfg.model.hidden_size == 64 and cfg.model.attention_dim == 128
    assert plain.model.hidden_size == 512  # no preset: the model defaults


def test_every_preset_key_is_commented():
    files = sorted((CONFIGS / "experiment").rglob("*.yaml"))
    assert len(files) >= len(EXPERIMENTS)
    for path in files:
        text = path.read_text(encoding="utf-8")
        yaml.safe_load(text)
        for line in text.splitlines():
            if re.match(r"^\s*[A-Za-z_]\w*:\s*[^\s#]", line):  # a key with a value
                assert "#" in line, f"{path.name}: {line!r} has no comment"
        if path.parent.name == "experiment":
            assert text.startswith("# @package _global_"), path.name


def test_make_capacity_sweeps_each_family_and_reports_reach_by_size(env, tmp_path):
    """The capacity sweep, end to end on a tiny task: every size of every family trains
    into one folder of its own (a variant may come back at another size later in the list),
    and one comparison reports each configuration's reach."""
    args = " ".join([*TINY_DATA, "train.max_steps=20", "train.eval_every=10", "decode.beam=1",
                     "train.threads=1", "model.emb_dim=8"])  # fmt: skip
    families = " ".join(["seq2seq:model.hidden_size=8", "bahdanau:model.hidden_size=8",
                         "seq2seq:model.hidden_size=16"])  # fmt: skip
    out = tmp_path / "out"
    proc = subprocess.run(
        ["make", "capacity", "experiment=bottleneck", f"CAPACITY_FAMILIES={families}",
         f"CAPACITY_RUNS={tmp_path / 'runs'}", f"CAPACITY_OUT={out}", f"ARGS={args}",
         "COMPARE_RESAMPLES=200"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (top,) = (tmp_path / "runs").iterdir()
    assert sorted(p.name for p in top.iterdir()) == [
        "bahdanau_hidden_size8", "seq2seq_hidden_size16", "seq2seq_hidden_size8"]  # fmt: skip
    reach = list(csv.DictReader((out / "reach.csv").open(encoding="utf-8")))
    assert len(reach) == 3 and len({r["variant"] for r in reach}) == 3  # one per size
    assert any("hidden_size=16" in r["variant"] for r in reach)
    run_md = (out / "RUN.md").read_text(encoding="utf-8")
    assert "model.hidden_size=16 experiment=bottleneck" in run_md


def test_make_compare_uses_a_fresh_sweep_folder():
    out = subprocess.run(
        ["make", "-n", "compare", "experiment=wmt_news", "ARGS=x=1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "experiment=wmt_news" in out and f"model={','.join(VARIANTS)}" in out
    assert 'hydra.sweep.dir="$sweep" $resume x=1' in out
    assert 'sweep="runs/compare_wmt_news/$(date' in out
    assert "nmt-compare" in out and '--out "docs/results/wmt_news"' in out
    assert "--resamples 10000" in out  # the report's paired tests, fine enough for BH
    assert "train.seed" not in out
    seeded = subprocess.run(
        ["make", "-n", "compare", "SEEDS=1,2,3"], cwd=REPO, capture_output=True, text=True
    ).stdout
    assert 'seeds="train.seed=1,2,3"' in seeded and "nmt-train -m $seeds model=" in seeded
    resumed = subprocess.run(
        ["make", "-n", "compare", "RESUME=runs/compare_x/2026-01-01_00-00-00"], cwd=REPO,
        capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert 'resume="train.resume=auto"' in resumed
    assert 'sweep="runs/compare_x/2026-01-01_00-00-00"' in resumed
    assert "RESUME=runs/compare_x/2026-01-01_00-00-00" in resumed  # named in RUN.md's note


# ------------------------------------------------------------------ helpers


def test_buckets_hold_enough_sentences_and_cover_every_length():
    lengths = [n for n in range(5, 61) for _ in range(18)]  # 1008 sentences
    b = common_buckets(lengths)
    assert b.min_count == 101  # 10% of the set, above 50
    assert sum(b.counts) == len(lengths) and min(b.counts) >= 101
    assert all(b.index(n) >= 0 for n in lengths)
    assert b.labels[0] == "5–10" and b.labels[-1].endswith("60")
    small = common_buckets([3, 4, 5], min_count=50)
    assert small.counts == [3] and small.labels == ["3–5"]


def test_exact_match_by_bucket():
    lengths = [1, 1, 2, 2]
    b = common_buckets(lengths, min_count=2)
    assert exact_match_per_bucket(lengths, ["a", "b", "c", "x"], ["a", "x", "c", "d"], b) == [
        50.0,
        50.0,
    ]


def test_length_ratio_per_bucket_and_training_pairs_per_bucket():
    lengths = [2, 3, 6, 7]
    b = common_buckets(lengths, min_count=2, edges=[4])
    refs = [["a b", "c d e", "f g h i j k", "l m n o p q r s"]]
    hyps = ["a b", "c d e", "f g h", "l m n o"]  # the long two cut to half
    assert length_ratio_per_bucket(lengths, hyps, refs, b) == [1.0, 0.5]
    # with two references, the closer one to each hypothesis counts (BLEU's r)
    two = [refs[0], ["a b", "c d e", "f g h x", "l m n o y"]]
    assert length_ratio_per_bucket(lengths, hyps, two, b) == [1.0, round(7 / 9, 4)]
    # every training length lands in a bucket, the open ends included
    assert count_per_bucket([1, 4, 5, 500, 2], b) == [3, 2]


def test_sentences_are_picked_deterministically_in_the_length_range():
    sources = [" ".join("a" * (i % 40 + 1)) for i in range(200)]
    picks = pick_sentences(sources, k=3)
    assert picks == pick_sentences(list(sources), k=3) and len(picks) == 3
    assert all(10 <= len(sources[i].split()) <= 25 for i in picks)
    assert pick_sentences(["a b", "c"], k=3) == [0, 1]


def test_luong_settings_name_the_variant():
    assert describe_variant({"name": "luong", "score": "dot", "input_feeding": False}) == (
        "luong (dot, no input feeding)"
    )
    assert describe_variant({"name": "bahdanau", "rnn_type": "gru"}) == "bahdanau"


def test_report_scores_the_average_of_the_last_checkpoints_against_the_best(compared, runs):
    report = (compared / "report.md").read_text(encoding="utf-8")
    assert "## Checkpoint averaging" in report and "last 2 validated checkpoints" in report
    with open(compared / "averaging.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(runs) and {r["averaged_steps"] for r in rows} == {"40 80"}
    for row in rows:
        assert 0 < float(row["p_value"]) <= 1 and float(row["averaged_bleu_ci"]) >= 0
        assert (
            abs(float(row["averaged_bleu"]) - float(row["best_bleu"]) - float(row["delta"])) < 1e-3
        )
    for run in runs:  # kept beside the run, with the updates it averages
        meta = json.loads((run / "eval" / "average_last2.test.beam2.json").read_text())
        assert meta["steps"] == [40, 80]
        hyps = (run / "eval" / "average_last2.test.beam2.txt").read_text().splitlines()
        assert len(hyps) == 120


def test_the_average_of_copies_of_the_best_checkpoint_scores_as_the_best(env, runs, tmp_path):
    """The averaged model is decoded as the run's test scores were: averaging N copies of
    best.pt gives its hypotheses back (and the stale averaged output is not reused)."""
    run = tmp_path / "run"
    shutil.copytree(runs[0], run)
    for step in (run / "checkpoints").glob("step_*.pt"):
        shutil.copy(run / "checkpoints" / "best.pt", step)
    out = tmp_path / "out"
    proc = nmt_compare(env, run, "--out", out, "--sentences", "0", "--average-last", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out / "averaging.csv", encoding="utf-8") as f:
        (row,) = csv.DictReader(f)
    assert row["averaged_bleu"] == row["best_bleu"] and float(row["delta"]) == 0
    averaged = (run / "eval" / "average_last2.test.beam2.txt").read_text().splitlines()
    assert averaged == Run.hypotheses(load_run(run))
    proc = nmt_compare(env, run, "--out", tmp_path / "none", "--average-last", "0")
    assert proc.returncode == 0 and not (tmp_path / "none" / "averaging.csv").exists()


def test_length_edges_cut_the_buckets_and_extra_tests_get_their_own_table(env, runs, tmp_path):
    copies = []
    for run in runs[:2]:  # each with a second test split, as results.json records it
        copy = tmp_path / run.name
        shutil.copytree(run, copy)
        results = json.loads((copy / "results.json").read_text())
        results["test"]["test2"] = results["test"]["test"]
        (copy / "results.json").write_text(json.dumps(results))
        copies.append(copy)
    out = tmp_path / "out"
    args = ["--out", out, "--sentences", "0", "--average-last", "0"]
    proc = nmt_compare(env, *copies, *args, "--edges", "5,9", "--min-count", "10")
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "cut at 5, 9 words (`--edges`)" in report
    body = report.split("\n## BLEU by source length\n")[1]
    main, extra = body.split("\n### BLEU by source length")
    extra = extra.split("\n## ")[0]  # up to the next section
    rows = re.findall(r"^\| (\d+(?:–\d+)?) \| (\d+) \|", main, re.M)
    assert [label for label, _ in rows[:3]] == ["2–5", "6–9", "10–14"]
    assert sum(int(n) for _, n in rows[:3]) == 120
    assert extra.startswith(": `test2`")
    recorded = json.loads((copies[0] / "results.json").read_text())["test"]["test2"]
    extra_rows = re.findall(r"^\| (\S+) \| (\d+) \| ([\d.]+)", extra, re.M)
    assert [(r[0], int(r[1])) for r in extra_rows] == [  # written as the main table writes them
        (b["label"].replace("-", "–"), b["n"]) for b in recorded["bleu_by_length"]
    ]
    proc = nmt_compare(env, *copies, *args, "--edges", "9,5")
    assert proc.returncode == 2 and "increasing positive integers" in proc.stderr


def test_extra_test_splits_get_their_own_paired_tests(env, tmp_path):
    """A run's extra test split (here the test set with every 2 pairs joined) is tested
    pair by pair like the test split: a matrix in the report, rows in significance.csv."""
    dirs = []
    for name in ("transformer", "seq2seq"):
        run = tmp_path / name
        nmt_train_run = [str(BIN / "nmt-train"), f"hydra.run.dir={run}", *TINY_DATA, *TINY_TRAIN,
                         *TINY_MODELS[name], "data.extra_tests=[test.join2]"]  # fmt: skip
        proc = subprocess.run(nmt_train_run, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        dirs.append(run)
    out = tmp_path / "out"
    proc = nmt_compare(env, *dirs, "--out", out, "--sentences", "0", "--average-last", "0")
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = (out / "report.md").read_text(encoding="utf-8")
    section = report.split("\n### On `test.join2`\n")[1].split("\n## ")[0]
    assert re.search(r"^\| transformer \| [+-]\d+\.\d\d \(p [<\d.]+\)", section, re.M), section
    rows = list(csv.DictReader((out / "significance.csv").open(encoding="utf-8")))
    joined = [r for r in rows if r["split"] == "test.join2"]
    assert [(r["a"], r["b"], r["bucket"]) for r in joined] == [("transformer", "seq2seq", "all")]
    results = [json.loads((d / "results.json").read_text())["test"]["test.join2"] for d in dirs]
    assert float(joined[0]["bleu_a"]) == pytest.approx(results[0]["bleu"], abs=0.01)
    assert float(joined[0]["bleu_b"]) == pytest.approx(results[1]["bleu"], abs=0.01)
    assert {r["split"] for r in rows} == {"test", "test.join2"}
    # each run's output length on every split, as sacreBLEU measured it
    lengths = report.split("\n## Output length\n")[1].split("\n## ")[0]
    for d, res in zip(dirs, results, strict=True):
        ratio = float(re.search(r"ratio = ([0-9.]+)", res["bleu_detail"]).group(1))
        assert res["length_ratio"] == pytest.approx(ratio, abs=0.001)
        row = rf"^\| {d.name} \| [0-9.]+ \([0-9.]+\) \| {res['length_ratio']:.3f} "
        assert re.search(row, lengths, re.M), lengths
        precisions = "/".join(f"{x:.1f}" for x in res["bleu_precisions"])
        assert re.search(rf"^\| {d.name} \| [0-9./]+ \| {precisions} \|$", lengths, re.M), lengths
    table = {r["variant"]: r for r in csv.DictReader((out / "results.csv").open(encoding="utf-8"))}
    joined_ratio = float(table["seq2seq"]["test.join2_length_ratio"])
    assert joined_ratio == pytest.approx(results[1]["length_ratio"])
    # and per source-length bucket, on every split, beside the training pairs of that length
    texts, _ = read_text(as_data_config(load_run(dirs[0]).data_config))
    rows = list(csv.DictReader((out / "length_ratio_by_length.csv").open(encoding="utf-8")))
    assert {r["split"] for r in rows} == {"test", "test.join2"}
    section = report.split("\n### Output length by source length\n")[1].split("\n## ")[0]
    train_lengths = [len(s.split()) for s in texts["train"].src]
    for split, role in (("test", "test"), ("test.join2", "test.join2")):
        text = texts[role]
        lengths = [len(s.split()) for s in text.src]
        mine = [r for r in rows if r["split"] == split]
        assert sum(int(r["sentences"]) for r in mine) == len(text.src) * len(dirs)
        assert sum(int(r["training_pairs"]) for r in mine) == len(train_lengths) * len(dirs)
        for d in dirs:
            hyps = (d / "hyps" / f"{split}.beam2.txt").read_text(encoding="utf-8").splitlines()
            for r in (r for r in mine if r["run"] == d.name):
                lo, _, hi = r["bucket"].partition("–")
                inside = [i for i, n in enumerate(lengths) if int(lo) <= n <= int(hi or lo)]
                assert len(inside) == int(r["sentences"])
                refs = [[ref[i] for i in inside] for ref in text.refs]
                got = sacrebleu.corpus_bleu([hyps[i] for i in inside], refs)
                ratio = got.sys_len / got.ref_len
                assert float(r["length_ratio"]) == pytest.approx(ratio, abs=1e-4)
                cells = rf"^\| {r['bucket']} \| {r['sentences']} \| {r['training_pairs']} \|"
                assert re.search(cells, section.split(f"`{split}`:")[1], re.M), section


def _run_with_curve(stop: str, curve: list[tuple[float, float]]) -> Run:
    """A run whose validations had these (BLEU, loss) and that ``stop`` ended."""
    metrics = [{"step": 100 * i, "valid_bleu": b, "valid_loss": loss}
               for i, (b, loss) in enumerate(curve, 1)]  # fmt: skip
    run = Run(Path("r"), {"stop_reason": stop}, {}, metrics)
    run.label = stop
    return run


def test_run_md_names_each_machine_a_resumed_run_trained_on():
    from nmt.compare.render_runs import where_trained

    a, b = "cpu: AMD EPYC (AVX512-BF16)", "cpu: Intel Xeon (AMX, AVX512-BF16)"
    assert where_trained({"device": a, "machines": [a], "processes": 1}) == a
    assert where_trained({"device": a, "machines": [a, a], "processes": 2}) == a
    assert where_trained({"device": "cpu (x86_64)"}) == "cpu (x86_64)"  # older results.json
    mixed = {"device": a, "machines": [a, b, b, a], "processes": 4}
    assert where_trained(mixed) == f"{a} (process 1), {b} (processes 2-3), {a} (process 4)"
    # a checkpoint from before the record: only the later processes are named, numbered right
    assert where_trained({"device": b, "machines": [a, b], "processes": 3}) == (
        f"{a} (process 2), {b} (process 3)"
    )


def test_absolute_paths_inside_the_working_folder_are_written_relative(env, runs):
    """Run folders and --out given as absolute paths inside the working folder appear
    relative in every written file: a committed report carries no machine's paths."""
    base = runs[0].parent.parent  # holds the runs' folder and the output
    out = base / "abs_out"
    proc = subprocess.run(
        [str(BIN / "nmt-compare"), *map(str, runs), "--out", str(out), "--sentences", "0",
         "--average-last", "0"],
        env=env, capture_output=True, text=True, timeout=300, cwd=base,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ("report.md", "RUN.md", "results.csv", "variants.csv", "significance.csv"):
        text = (out / name).read_text(encoding="utf-8")
        assert str(base) not in text, name
    assert f"`{runs[0].relative_to(base)}`" in (out / "RUN.md").read_text(encoding="utf-8")


def test_the_report_says_how_many_processes_trained_a_run_and_what_ended_each():
    from nmt.compare.render_runs import processes_line

    assert processes_line({"processes": 1, "stops": ["patience"]}) == "1 process"
    resumed = {"processes": 3, "stops": ["signal", "signal", "max_target_tokens"]}
    assert processes_line(resumed) == "3 processes, ended by signal, signal, max_target_tokens"
    assert processes_line({"processes": 2}) == "2 processes"  # older results.json


def test_convergence_notes_name_runs_stopped_mid_curve_by_budget_or_by_a_flat_bleu():
    from types import SimpleNamespace

    from nmt.compare.convergence import (
        flat_at_cap,
        judge_convergence,
        loss_still_falling,
        still_improving,
    )
    from nmt.compare.render_markdown import convergence_lines

    # patience on a BLEU at its noise level while the loss still falls: flagged, with the
    # loss at the best BLEU (the first of two equal) and at the last validation
    flat = _run_with_curve("patience", [(0.5, 4.9), (0.8, 4.7), (0.7, 4.6), (0.8, 4.55)])
    assert loss_still_falling(flat) == (4.7, 4.55)
    assert flat.validation_losses() == (4.7, 4.55, 4.55)
    # a loss that still creeps down, by less than 1%: not flagged
    creep = _run_with_curve("patience", [(0.5, 4.6), (0.8, 4.563), (0.7, 4.55), (0.8, 4.545)])
    assert loss_still_falling(creep) is None
    # patience after overfitting (the loss rose again): converged, not flagged
    done = _run_with_curve("patience", [(20.0, 2.1), (25.0, 1.9), (24.5, 2.0), (24.0, 2.05)])
    assert loss_still_falling(done) is None and still_improving(done) is None
    # a budget that ends a rising curve: flagged as not converged, not as loss-falling
    cut = _run_with_curve("max_target_tokens", [(10.0, 3.0), (15.0, 2.5), (18.0, 2.3)])
    assert still_improving(cut) == "+3.00" and loss_still_falling(cut) is None
    # ... with its slope at the cap where the validations counted tokens (BLEU per 1M)
    for i, m in enumerate(cut.metrics):
        m["train_tgt_tokens"] = 2_000_000 * (i + 1)
    assert still_improving(cut) == "+3.00; +2.00 BLEU per 1M tokens at the cap"
    judged = judge_convergence([flat, done, cut])
    text = "\n".join(convergence_lines(SimpleNamespace(convergence=judged)))
    assert "**Not converged.**" in text
    assert "max_target_tokens (+3.00; +2.00 BLEU per 1M tokens at the cap)" in text
    from nmt.compare.render_tables import RESULT_COLUMNS, _cell

    bleu = next(col for col in RESULT_COLUMNS if col.key == "test_bleu")
    row = {"test_bleu": 20.0, "test_bleu_ci": 1.0}
    assert _cell(bleu, {**row, "lower_bound": True}) == f"≥ {_cell(bleu, row)}"  # a lower bound
    # runs that stop on the loss are judged by the loss: cut by the cap while it fell is
    # "not converged" even with a flat BLEU; patience on the loss is not second-guessed
    on_loss = [(0.5, 4.9), (0.8, 4.7), (0.7, 4.6), (0.6, 4.55)]
    cut_loss = _run_with_curve("max_target_tokens", on_loss)
    cut_loss.results["early_stopping_metric"] = "loss"
    assert still_improving(cut_loss) == "loss -1.09%"
    assert still_improving(_run_with_curve("max_target_tokens", on_loss)) is None  # on BLEU
    flat_loss = _run_with_curve("patience", [*on_loss[:-1], (0.8, 4.55)])
    flat_loss.results["early_stopping_metric"] = "loss"
    assert loss_still_falling(flat_loss) is None and still_improving(flat_loss) is None
    stalled = _run_with_curve("max_target_tokens", [*on_loss[:-1], (0.9, 4.6)])
    stalled.results["early_stopping_metric"] = "loss"
    assert still_improving(stalled) is None
    # the extra validation a budget adds mid-epoch is no point of the curve: a rising curve
    # whose last, partial-epoch validation fell back a little is still not converged
    # (marked "final", or in older runs: in the same epoch as the scheduled one before it)
    tail = _run_with_curve("max_target_tokens", [*on_loss, (0.6, 4.56)])
    tail.results["early_stopping_metric"] = "loss"
    tail.metrics[-1]["final"] = True
    assert still_improving(tail) == "loss -1.09%"
    for i, m in enumerate(tail.metrics):
        m.pop("final", None)
        m["epoch"] = min(i + 1, len(on_loss))  # the last two in one epoch
    assert still_improving(tail) == "loss -1.09%"
    tail.metrics[-1]["epoch"] += 1  # a scheduled validation after all: it decides
    assert still_improving(tail) is None
    assert "patience (4.700 → 4.550)" in text and text.count("patience (") == 1
    assert convergence_lines(SimpleNamespace(convergence=judge_convergence([done]))) == []
    # a budget that ends a flat curve before patience decided: named, with where its best
    # lies and the slope of its last validations, read as a (close) lower bound
    plateau = _run_with_curve("max_target_tokens", [(28.0, 2.3), (30.2, 2.2), (29.9, 2.2)])
    for i, m in enumerate(plateau.metrics):
        m["train_tgt_tokens"] = 1_000_000 * (i + 1)
    assert still_improving(plateau) is None
    assert (
        flat_at_cap(plateau)
        == "best 30.20, 1 validation before the cap; +0.95 BLEU per 1M tokens over the last 3"
    )
    assert flat_at_cap(cut) is None and flat_at_cap(done) is None  # rising; patience
    text = "\n".join(
        convergence_lines(SimpleNamespace(convergence=judge_convergence([plateau, done])))
    )
    assert "**Stopped by a budget on a flat curve**" in text and "lower bound" in text


def test_each_attentive_variant_gets_a_trend_test_against_the_fixed_vector_one(
    env, compared: Path, runs, monkeypatch
):
    """trend.csv: one row per (attentive, fixed-vector) pair; its gaps are the variants'
    BLEU per length bucket as sacreBLEU scores them from the runs' hypotheses."""
    from sacrebleu.metrics import BLEU

    from nmt.compare.lengths import common_buckets, source_lengths
    from nmt.compare.rundir import load_run
    from nmt.compare.trend import bh_qvalues
    from nmt.data.config import as_data_config
    from nmt.data.prepare import read_text

    rows = list(csv.DictReader((compared / "trend.csv").open(encoding="utf-8")))
    assert [(r["attentive"], r["fixed"]) for r in rows] == [
        ("transformer", "seq2seq"),
        ("bahdanau", "seq2seq"),
    ]
    monkeypatch.setenv("NMT_DATA_DIR", env["NMT_DATA_DIR"])
    loaded = {load_run(r).variant: load_run(r) for r in runs}
    test = read_text(as_data_config(loaded["seq2seq"].data_config), log=lambda *a: None)[0]
    test = test["test"]
    lengths = source_lengths(test.src)
    buckets = common_buckets(lengths, None, None).groups(lengths)

    def bleu(variant: str, idx: list[int]) -> float:
        hyps = loaded[variant].hypotheses()
        refs = [[test.refs[0][i] for i in idx]]
        return BLEU().corpus_score([hyps[i] for i in idx], refs).score

    for r in rows:
        gaps = [bleu(r["attentive"], idx) - bleu(r["fixed"], idx) for idx in buckets]
        assert [float(g) for g in r["bucket_gaps"].split()] == pytest.approx(gaps, abs=1e-3)
        assert float(r["did"]) == pytest.approx(gaps[-1] - gaps[0], abs=1e-3)
        assert float(r["did_low"]) <= float(r["did"]) <= float(r["did_high"])
        assert 0 < float(r["did_p"]) <= 1 and r["resamples"] == "10000"
        lows, highs = (
            list(map(float, r[k].split())) for k in ("bucket_gap_lows", "bucket_gap_highs")
        )
        assert all(lo <= g <= hi for lo, g, hi in zip(lows, gaps, highs, strict=True))
    # Benjamini-Hochberg over the pairs: the DiDs one family, the slopes another
    for key in ("did", "slope"):
        q = bh_qvalues([float(r[f"{key}_p"]) for r in rows])
        assert [float(r[f"{key}_q_bh"]) for r in rows] == pytest.approx(q, abs=1e-5)
    report = (compared / "report.md").read_text()
    assert "## Does the gap grow with length? (trend test)" in report
    # q as p is written: never "q=0.000" (q >= p >= 1/(resamples + 1))
    assert "q=0.000" not in report and re.search(r", q(<0\.001|=[01]\.\d{3}) \|", report)
    # every run's reach, in the report and in reach.csv (BLEU on this copy task's buckets)
    assert "## Reach: the longest inputs each variant still gets right" in report
    reach = list(csv.DictReader((compared / "reach.csv").open(encoding="utf-8")))
    assert sorted(r["model"] for r in reach) == sorted(load_run(r).variant for r in runs)
    for r in reach:  # a length present in the test set, or none from a run scoring 0
        scored = float(r["short_bucket_score"]) > 0
        assert r["metric"] and (r["reach_words"] != "") == scored
        assert not scored or 0 <= int(r["reach_words"]) <= max(lengths)
    # each variant's recipe and how it was chosen: here, on the command line
    assert "## Recipes" in report
    assert (
        "| seq2seq | 0.003 | plateau | – | set on the command line (`train.warmup_steps=50 "
        "train.lr=3e-3`) |" in report
    )
    assert "| transformer − seq2seq | 1 / 1 |" in report


def test_significance_carries_benjamini_hochberg_q_values_per_family(compared: Path):
    """q = min over larger ranks of p * m / rank, within each family: one pair of variants
    across the buckets (one seed pairing), or all pairs on one split; the report counts
    what survives."""
    rows = list(csv.DictReader((compared / "significance.csv").open(encoding="utf-8")))
    families: dict[tuple, list[dict]] = {}
    for r in rows:
        key = (r["split"], r["pairing"], "all") if r["bucket"] == "all" else (
            r["split"], r["a"], r["b"], r["pairing"])  # fmt: skip
        assert r["family"] == ("pairs" if r["bucket"] == "all" else "buckets")
        families.setdefault(key, []).append(r)
    assert any(len(f) > 1 for f in families.values())
    for family in families.values():
        m = len(family)
        ranked = sorted(family, key=lambda r: float(r["p"]))
        for i, r in enumerate(ranked):
            q = min(1.0, min(float(s["p"]) * m / (j + 1) for j, s in enumerate(ranked) if j >= i))
            assert float(r["q_bh"]) == pytest.approx(q, abs=1e-3), r
            assert float(r["q_bh"]) >= float(r["p"]) - 1e-4
    held = sum(float(r["p"]) < 0.05 for r in rows)
    kept = sum(float(r["p"]) < 0.05 and float(r["q_bh"]) < 0.05 for r in rows)
    report = (compared / "report.md").read_text()
    assert f"of the {len(rows)} paired tests, {held} have p < 0.05 and {kept} of them" in report


def test_verdicts_hold_a_difference_only_where_its_q_value_does():
    """Three buckets at p = 0.01, 0.04, 0.5: raw, two differences hold; corrected over the
    pair's buckets (q = 0.03, 0.06, 0.5), one. The whole split's family is the pairs."""
    from nmt.compare.significance import PairTests, Significance, Verdict, corrected
    from nmt.compare.stats import Paired

    buckets = tuple(Verdict.of([Paired(20.0, 23.0, p)]) for p in (0.01, 0.04, 0.5))
    assert [v.holds for v in buckets] == [True, True, False]
    up, down = Verdict.of([Paired(20.0, 24.0, 0.02)]), Verdict.of([Paired(20.0, 19.0, 0.03)])
    pairs = (PairTests("seq2seq", "bahdanau", up, buckets), PairTests("seq2seq", "luong", down, ()))
    fixed = corrected(Significance(pairs, {"extra": {("seq2seq", "bahdanau"): up}}))
    assert fixed.corrected and not Significance(pairs, {}).corrected
    assert corrected(Significance((), {})).corrected  # one variant: nothing to test, yet
    assert [v.holds for v in fixed.pairs[0].by_bucket] == [True, False, False]
    assert [v.q[0] for v in fixed.pairs[0].by_bucket] == pytest.approx([0.03, 0.06, 0.5])
    assert [v.held for v in fixed.pairs[0].by_bucket] == [1, 0, 0]
    # all pairs on the test split: q = 0.03 for both (0.02 * 2 / 1 > 0.03 * 2 / 2)
    assert [p.overall.q[0] for p in fixed.pairs] == pytest.approx([0.03, 0.03])
    assert all(p.overall.holds for p in fixed.pairs)
    assert fixed.extra["extra"][("seq2seq", "bahdanau")].q == pytest.approx((0.02,))


def test_the_number_of_resamples_is_the_users(env, runs, tmp_path):
    out = tmp_path / "out"
    proc = nmt_compare(env, runs[0], runs[2], "--out", out, "--resamples", "2000",
                       "--trend-resamples", "300", "--sentences", "0")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = (out / "report.md").read_text()
    assert "sacreBLEU `--paired-bs`, 2000 resamples" in report and "300 resamples" in report
    trend = list(csv.DictReader((out / "trend.csv").open(encoding="utf-8")))
    assert [r["resamples"] for r in trend] == ["300"]
    assert all(float(r["did_p"]) >= 1 / 301 for r in trend)
    bad = nmt_compare(env, runs[0], runs[2], "--out", tmp_path / "x", "--resamples", "0")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "--resamples" in bad.stderr


def test_the_kept_hypotheses_recompute_every_score_and_a_changed_one_fails(
    env, compared: Path, runs, tmp_path
):
    """hyps/: every run's hypotheses of every test split, compressed, with a manifest
    naming the test data (no machine's paths); scripts/verify_results.py recomputes
    results.csv's BLEU and chrF from them with sacreBLEU, and fails on a changed line."""
    import gzip

    manifest = json.loads((compared / "hyps" / "manifest.json").read_text())
    assert [r["label"] for r in manifest["runs"]] == ["transformer", "bahdanau", "seq2seq"]
    assert "root" not in manifest["data"] and manifest["data"]["name"] == "synthetic"
    first = manifest["runs"][0]["files"]["test"]
    with gzip.open(compared / first, "rt", encoding="utf-8") as f:
        assert f.read().split("\n")[:-1] == (runs[0] / "hyps" / "test.beam2.txt").read_text(
            encoding="utf-8").split("\n")[:-1]  # fmt: skip
    script = [
        sys.executable,
        str(Path(__file__).resolve().parent.parent / "scripts" / "verify_results.py"),
    ]
    ok = subprocess.run([*script, str(compared)], env=env, capture_output=True, text=True,
                        timeout=300)  # fmt: skip
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert "6 scores of 3 runs recomputed, 0 mismatch(es)" in ok.stdout
    changed = tmp_path / "changed"
    shutil.copytree(compared, changed)
    with gzip.open(changed / first, "rt", encoding="utf-8") as f:
        lines = f.read().split("\n")[:-1]
    with gzip.open(changed / first, "wt", encoding="utf-8") as f:
        f.write("".join(("zzz zzz" if i < 20 else line) + "\n" for i, line in enumerate(lines)))
    bad = subprocess.run([*script, str(changed)], env=env, capture_output=True, text=True,
                         timeout=300)  # fmt: skip
    assert bad.returncode == 1 and "mismatch: " in bad.stderr
    assert "transformer on test: bleu" in bad.stderr
    # --all ROOT (make verify, in CI): every comparison under ROOT that keeps hypotheses;
    # one that keeps none is named as not recomputed
    (tmp_path / "older").mkdir()
    shutil.copy(compared / "results.csv", tmp_path / "older" / "results.csv")
    every = subprocess.run([*script, "--all", str(tmp_path)], env=env, capture_output=True,
                           text=True, timeout=300)  # fmt: skip
    assert every.returncode == 1 and "1 comparison(s) keep their hypotheses" in every.stdout
    assert f"{changed}: 6 scores of 3 runs recomputed, 2 mismatch(es)" in every.stdout  # BLEU, chrF
    assert "1 comparison(s) keep none and are not recomputed here: older" in every.stdout


def test_kept_runs_compare_again_without_their_weights(env, runs, compared: Path, tmp_path):
    """scripts/keep_runs.py keeps each run's records (hypotheses gzipped, no checkpoints);
    nmt-compare renders the same scores from them in a later session, and says which runs'
    heat maps it could not draw."""
    script = Path(__file__).resolve().parent.parent / "scripts" / "keep_runs.py"
    kept = tmp_path / "kept"
    proc = subprocess.run([sys.executable, str(script), *map(str, runs), "--to", str(kept)],
                          env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "3 run(s) kept" in proc.stdout
    for run in runs:
        assert not (kept / run.name / "checkpoints").exists()
        assert (kept / run.name / "hyps" / "test.beam2.txt.gz").is_file()
        assert (kept / run.name / ".hydra" / "overrides.yaml").is_file()
    again = subprocess.run([sys.executable, str(script), str(runs[0]), "--to", str(kept)],
                           env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert "0 run(s) kept" in again.stdout and "1 already there" in again.stdout
    from nmt.errors import ConfigError
    from nmt.runs.keep import keep_run

    with pytest.raises(ConfigError, match="holds another run's records"):
        keep_run(runs[2], kept / runs[1].name)  # never over another run's records
    out = tmp_path / "out"
    proc = nmt_compare(env, *(kept / r.name for r in runs), "--out", out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    now = {r["variant"]: r["test_bleu"] for r in csv.DictReader((out / "results.csv").open())}
    before = {
        r["variant"]: r["test_bleu"] for r in csv.DictReader((compared / "results.csv").open())
    }
    assert now == before
    assert "missing; no heat maps" in proc.stdout + proc.stderr
