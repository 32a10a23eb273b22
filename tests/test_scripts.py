"""The benchmark and the prepared GPU check run end to end on a CPU with a tiny budget."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nmt.bench import train_memory
from nmt.models import VARIANTS

ROOT = Path(__file__).resolve().parents[1]
TINY = ["d_model=32", "ff_dim=64", "heads=2", "hidden_size=32", "emb_dim=16", "attention_dim=32"]
TINY_MODELS = [arg for kv in TINY for arg in ("--model", kv)]


def run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "NMT_DATA_DIR": str(tmp_path / "data"),
        "PYTHONUNBUFFERED": "1",
        "TMPDIR": str(tmp),
    }
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


def test_bench_writes_json_and_markdown(tmp_path):
    out, md = tmp_path / "bench.json", tmp_path / "BENCH.md"
    proc = run(
        ["scripts/bench.py", "--data", "synthetic", "--warmup", "1", "--windows", "2",
         "--window-steps", "2", "--decode-sentences", "8", "--peak-n", "256",
         "--out", str(out), "--markdown", str(md), *TINY_MODELS],
        tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert [r["variant"] for r in result["variants"]] == [
        v for name in VARIANTS for v in ((name, "luong-nofeed") if name == "luong" else (name,))
    ]
    for r in result["variants"]:
        t = r["tgt_tokens_per_s"]
        assert 0 < t["min"] <= t["median"] <= t["max"]
        assert 0 < r["mfu"] < 1 and r["flops_per_step"] > 0
        assert r["decoding"]["greedy_sent_per_s"] > 0 and r["decoding"]["beam5_sent_per_s"] > 0
        assert r["decoding"]["precision"] == r["precision"]  # decoded as it trained
        # the textbook PyTorch model of its family, timed on the same batches
        b = r["baseline"]
        assert b["parameters"] > 0 and b["tgt_tokens_per_s"]["median"] > 0
        assert 0 < b["speedup"]["min"] <= b["speedup"]["median"] <= b["speedup"]["max"]
        # peak resident memory of this variant's training and of its translating
        assert r["peak_rss_mb"] > 0 and r["decoding"]["peak_rss_mb"] > 0
    assert result["matmul_peak_tflops"]["fp32"] > 0
    table = md.read_text()
    assert "| transformer |" in table and "nmt ÷ textbook" in table


def test_gpu_check_runs_every_stage_on_a_cpu(tmp_path):
    proc = run(["scripts/gpu_check.py", "--out", str(tmp_path / "out")], tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    report = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    assert report["mode"] == "tiny"
    for stage in ("environment", "cuda_paths", "throughput", "multi30k_transformer"):
        assert report[stage]["ok"], (stage, report[stage])
    assert report["cuda_paths"]["ddp"]["returncode"] == 0
    assert report["cuda_paths"]["ddp"]["world_size"] == 1
    assert report["cuda_paths"]["bf16_step"]["grads_finite"]
    assert report["multi30k_transformer"]["test"]["test"]["bleu"] >= 0
    assert not list((tmp_path / "tmp").glob("nmt-gpu-check-*")), "the temp runs were left behind"


def test_plot_curves_draws_runs_and_names_a_missing_one(tmp_path):
    for name, bleu in (("a", [1.0, 5.0]), ("b", [2.0, 6.0])):
        run_dir = tmp_path / name
        run_dir.mkdir()
        rows = [
            {"train_seconds": 60.0 * (i + 1), "valid_bleu": b, "valid_loss": 3.0 - i}
            for i, b in enumerate(bleu)
        ]
        (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "curves.png"
    proc = run(
        ["scripts/plot_curves.py", "--out", str(out), f"a={tmp_path / 'a'}", f"b={tmp_path / 'b'}"],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:4] == b"\x89PNG"
    proc = run(["scripts/plot_curves.py", "--out", str(out), f"c={tmp_path / 'c'}"], tmp_path)
    assert proc.returncode != 0 and "metrics.jsonl does not exist" in proc.stderr


def test_score_files_gives_intervals_and_paired_tests(tmp_path):
    refs = [f"sentence number {i} is here with words" for i in range(200)]
    src = [" ".join(["w"] * (3 + i % 20)) for i in range(200)]
    good = refs[:150] + ["nothing alike"] * 50
    bad = refs[:60] + ["nothing alike"] * 140
    for name, lines in {"ref": refs, "src": src, "good": good, "bad": bad}.items():
        (tmp_path / f"{name}.txt").write_text("".join(x + "\n" for x in lines))
    out = tmp_path / "sig"
    proc = run(
        ["scripts/score_files.py", "--ref", str(tmp_path / "ref.txt"), "--src",
         str(tmp_path / "src.txt"), f"bad={tmp_path / 'bad.txt'}",
         f"good={tmp_path / 'good.txt'}", f"same={tmp_path / 'bad.txt'}", "--out", str(out)],
        tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["scores"]["good"]["bleu"] > data["scores"]["bad"]["bleu"]
    assert data["scores"]["good"]["bleu_ci"] > 0
    tests = {(t["a"], t["b"]): t for t in data["tests"]}
    assert tests[("bad", "good")]["significant"] and tests[("bad", "good")]["p"] < 0.05
    assert tests[("bad", "same")]["p"] == 1.0 and not tests[("bad", "same")]["significant"]
    assert len(data["by_length"]["buckets"]) >= 1
    assert "| bad | good |" in out.with_suffix(".md").read_text()
    proc = run(["scripts/score_files.py", "--ref", str(tmp_path / "ref.txt"),
                f"x={tmp_path / 'src.txt'}", "oops"], tmp_path)  # fmt: skip
    assert proc.returncode == 2 and "NAME=HYPOTHESES_FILE" in proc.stderr


def test_bench_memory_samples_a_real_run_epoch_by_epoch(tmp_path):
    out = tmp_path / "memory.json"
    proc = run(
        ["scripts/bench_memory.py", "--out", str(out), "--interval", "0.2", "--tolerance", "5",
         "--", "data=synthetic", "data.synthetic.n_train=400", "data.synthetic.n_valid=20",
         "data.synthetic.n_test=10", "data.synthetic.max_len=8", "data.synthetic.vocab=8",
         "data.tokenizer.vocab_size=24",
         "data.max_tokens=300", "train.max_epochs=3", "decode.beam=1", "model=seq2seq",
         "model.emb_dim=16", "model.hidden_size=32", "model.enc_layers=1"],
        tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert [e["epoch"] for e in result["epochs"]] == [1, 2, 3]
    assert result["first_epoch_peak_mb"] > 50  # a Python process with torch loaded
    assert len(result["per_epoch_rss_mb"]) == 3
    assert result["later_epochs_peak_mb"] == max(
        e["high_mb"] for e in result["per_epoch_rss_mb"][1:]
    )
    assert result["ok"] is True and result["speed"]["steps"] > 0


def test_bench_memory_verdict_when_two_validations_fall_between_samples():
    # epochs 1 and 2 were both seen at 3.2 s: epoch 2's window holds no sample of its own
    result = {
        "samples": [(1.0, 400.0), (3.2, 525.5), (3.4, 530.0), (4.0, 520.0)],
        "epochs": [{"epoch": 1, "seconds": 3.2, "rss_mb": 525.5},
                   {"epoch": 2, "seconds": 3.2, "rss_mb": 525.5},
                   {"epoch": 3, "seconds": 3.4, "rss_mb": 530.0}],
    }  # fmt: skip
    v = train_memory.verdict(result, tolerance=0.1)
    assert [e["high_mb"] for e in v["per_epoch_rss_mb"]] == [525.5, 525.5, 530.0]
    assert v["epoch_over_epoch"] == [0.0, round(530.0 / 525.5 - 1, 4)]
    assert v["after_training_peak_mb"] == 520.0 and v["ok"] is True
    # a bound on the highest sample fails a run that never grew after its first epoch
    assert v["peak_mb"] == 530.0
    assert train_memory.verdict(result, tolerance=0.1, max_peak_mb=528.0)["ok"] is False
    assert train_memory.verdict(result, tolerance=0.1, max_peak_mb=530.0)["ok"] is True


def test_time_to_bleu_reads_the_first_validation_over_each_threshold(tmp_path):
    def make_run(name: str, seed: int, records: list[tuple[int, float, float]]) -> Path:
        run_dir = tmp_path / name
        run_dir.mkdir()
        (run_dir / "metrics.jsonl").write_text("".join(
            json.dumps({"step": s, "epoch": 1, "valid_bleu": b, "train_seconds": t}) + "\n"
            for s, b, t in records
        ))  # fmt: skip
        (run_dir / "results.json").write_text(
            json.dumps({"device": "cpu (x)", "precision": "bf16", "seed": seed})
        )
        return run_dir

    one = make_run("a", 1, [(100, 12.0, 60.0), (200, 31.5, 125.0), (300, 29.0, 190.0),
                            (400, 35.2, 250.0)])  # fmt: skip
    two = make_run("b", 2, [(100, 30.0, 90.0), (200, 33.0, 150.0)])
    out = tmp_path / "t.json"
    proc = run(["scripts/time_to_bleu.py", str(one), str(two), "--thresholds", "30,35,40",
                "--out", str(out)], tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    reached = result["runs"][0]["reached"]
    assert result["runs"][0]["seed"] == 1
    assert reached["30"]["step"] == 200 and reached["30"]["minutes"] == round(125 / 60, 2)
    assert reached["35"]["step"] == 400 and reached["40"] is None
    assert "never reached" in proc.stdout
    summary = result["summary"]
    assert summary["30"]["reached_in"] == 2 and summary["30"]["minutes"] == [2.08, 1.5]
    assert summary["30"]["min"] == 1.5 and summary["30"]["max"] == 2.08
    assert summary["30"]["mean"] == 1.79 and summary["30"]["sd"] == 0.41
    assert summary["35"]["reached_in"] == 1 and summary["35"]["sd"] is None
    assert summary["40"] == {"runs": 2, "reached_in": 0, "minutes": [], "mean": None, "sd": None,
                             "min": None, "max": None}  # fmt: skip
    assert "reached in 2 of 2 runs; minutes 1.79 (sd 0.41), range 1.5–2.1" in proc.stdout


def test_profile_step_splits_a_step_into_categories(tmp_path):
    out = tmp_path / "profile.json"
    proc = run(["scripts/profile_step.py", "--data", "synthetic", "--variants",
                "transformer,luong", "--steps", "2", "--max-tokens", "256", "--baseline",
                "--out", str(out)], tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(out.read_text())["variants"]
    assert [r["variant"] for r in rows] == ["transformer", "luong"]
    for r in rows:
        for row in (r, r["baseline"]):  # nmt's step and the textbook model's
            assert row["ms_per_step"] > 0 and abs(sum(row["shares"].values()) - 1) < 0.01
            assert row["shares"]["matmul"] > 0 and row["top_ops"]
        assert r["baseline"]["top_ops"] != r["top_ops"]  # a different model was profiled
        base_ms, nmt_ms = r["baseline"]["ms_per_step"], r["ms_per_step"]
        assert r["speedup"] == pytest.approx(base_ms / nmt_ms)
        assert r["speedup_bound"] == pytest.approx(base_ms / (nmt_ms * r["shares"]["matmul"]))
    assert "| transformer (" in proc.stdout and "| transformer, textbook (" in proc.stdout
    assert "at most" in proc.stdout


def test_ab_step_times_two_sides_on_the_same_batches(tmp_path):
    out = tmp_path / "ab.json"
    proc = run(["scripts/ab_step.py", "--data", "synthetic", "--variant", "transformer",
                "--a", "dropout=torch,optimizer=for", "--b", "dropout=nmt", "--warmup", "1",
                "--windows", "2", "--window-steps", "2", "--max-tokens", "256", "--out", str(out)],
               tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["sides"]["A"]["dropout"] == "torch" and result["sides"]["A"]["optimizer"] == "for"
    assert result["sides"]["B"] == {
        "optimizer": "fused",
        "compile": "false",
        "precision": result["sides"]["B"]["precision"],
        "dropout": "nmt",
    }
    assert len(result["tgt_tok_s"]["A"]) == len(result["tgt_tok_s"]["B"]) == 2
    assert result["allocator"] and result["cpu"] and "B/A" in proc.stdout
    bad = run(["scripts/ab_step.py", "--b", "optimiser=fused"], tmp_path)
    assert bad.returncode != 0 and "bad option 'optimiser=fused'" in bad.stderr


def test_training_batches_takes_the_first_n_and_wraps_around_the_epoch():
    """Every benchmark draws its batches with nmt.bench.training.training_batches."""
    from nmt.bench.training import training_batches

    class Data:
        def __init__(self, epoch: list[list[int]]) -> None:
            self.encoded = {"train": ["a", "b", "c", "d", "e"]}
            self.epoch, self.calls = epoch, []

        def make_batches(self, split, max_tokens, shuffle, seed):
            self.calls.append((split, max_tokens, shuffle, seed))
            return self.epoch, lambda items: "".join(items)

    data = Data([[0, 1], [2], [3, 4]])
    assert training_batches(data, 64, 2) == ["ab", "c"]
    assert training_batches(data, 64, 7) == ["ab", "c", "de", "ab", "c", "de", "ab"]
    assert data.calls[0] == ("train", 64, True, 1)
    with pytest.raises(ValueError, match="no batches"):
        training_batches(Data([]), 64, 1)
    with pytest.raises(ValueError, match="at least 1"):
        training_batches(data, 64, 0)


def test_bench_table_gives_each_precisions_decoding_speed_with_its_bleu():
    from nmt.bench.report import markdown

    row = {"variant": "transformer", "parameters": 9.6e6, "src_tokens_per_s": 3000.0,
           "tgt_tokens_per_s": {"min": 1.0, "median": 2.0, "max": 3.0}, "mfu": 0.4,
           "target_padding_fraction": 0.05, "peak_rss_mb": 900.0}  # fmt: skip
    trained = {"trained": True, "greedy_sent_per_s": 512.4, "greedy_bleu": 36.04,
               "beam5_sent_per_s": 151.0, "beam5_bleu": 37.5, "peak_rss_mb": 700.0}  # fmt: skip
    untrained = {"trained": False, "greedy_sent_per_s": 99.0, "beam5_sent_per_s": 20.0}
    result = {
        "environment": {"cpu": "x", "device": "cpu", "torch": "2", "threads": 2, "date": "d"},
        "matmul_peak_tflops": {"fp32": 0.2, "bf16": 0.4}, "data": "multi30k", "max_tokens": 4096,
        "command": "python scripts/bench.py", "json": "bench.json",
        "variants": [row | {"precision": "fp32", "decoding": trained},
                     row | {"precision": "bf16", "decoding": untrained}],
    }  # fmt: skip
    table = markdown(result)
    assert "| 512 (BLEU 36.0) | 151 (BLEU 37.5) | 900 / 700 |" in table
    assert "| 99 (untrained) | 20 (untrained) |" in table


def test_bench_loads_each_checkpoint_once_and_refuses_a_foreign_one(monkeypatch):
    import nmt.bench.cli as cli
    import nmt.bench.decoding as bench

    class Tok:  # the fingerprint is a property of nmt's Tokenizer, a string
        def __init__(self, fp: str) -> None:
            self.fingerprint = fp

    loaded = []

    class FakeTranslator:
        pass

    def fake_load_translator(path, device):
        loaded.append(path)
        t = FakeTranslator()
        t.tokenizer, t.model = Tok("other" if "foreign" in path else "ours"), f"model@{path}"
        return t

    monkeypatch.setattr(bench, "load_translator", fake_load_translator)
    from nmt.data.tokenizer import Tokenizer

    assert isinstance(Tokenizer.fingerprint, property)  # as the fake has it
    cpu = bench.torch.device("cpu")
    models = bench.load_trained({"luong": "a.pt", "transformer": "b.pt"},
                                ["luong", "transformer", "seq2seq"], cpu, Tok("ours"))  # fmt: skip
    assert models == {"luong": "model@a.pt", "transformer": "model@b.pt"} and loaded == [
        "a.pt",
        "b.pt",
    ]
    with pytest.raises(SystemExit, match="another SentencePiece model"):
        bench.load_trained({"luong": "foreign.pt"}, ["luong"], cpu, Tok("ours"))
    with pytest.raises(SystemExit, match="bahdanau is not among --variants"):
        bench.load_trained({"bahdanau": "a.pt"}, ["luong"], cpu, Tok("ours"))
    args = cli.parse_args(["--checkpoint", "luong=x.pt", "--model", "d_model=32"])
    assert args.checkpoints == {"luong": "x.pt"} and args.model_overrides == {"d_model": 32}
    for bad in (["--checkpoint", "x.pt"], ["--model", "d_model"], ["--model", "d_model=big"]):
        with pytest.raises(SystemExit):
            cli.parse_args(bad)
