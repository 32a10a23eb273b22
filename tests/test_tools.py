"""The tools used after training, through their console scripts: ``nmt-evaluate`` on any
test set given as files, ``nmt-translate`` streaming files, ``nmt-average`` and
``train.keep_last``, fine-tuning with ``train.init_from``."""

from __future__ import annotations

import gzip
import json
import random
import subprocess
from pathlib import Path

import pytest
import torch

from nmt.runs.average import same
from nmt.runs.checkpoint import load_checkpoint, save_checkpoint
from tests.runs import BIN, QUIET, TINY_DATA, TINY_TRANSFORMER, nmt_train


def run(*args: str, env, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / args[0]), *args[1:]], env=env, capture_output=True,
                          text=True, **kwargs)  # fmt: skip


def copy_lines(n: int, seed: int = 0) -> list[str]:
    """Sentences of the tiny copy task (symbols a-h, 2-6 long)."""
    rng = random.Random(seed)
    return [" ".join(rng.choice("abcdefgh") for _ in range(rng.randint(2, 6))) for _ in range(n)]


def test_evaluate_scores_a_test_set_given_as_files(trained: Path, env, tmp_path):
    src = copy_lines(40)
    (tmp_path / "t.src.gz").write_bytes(gzip.compress("".join(f"{s}\n" for s in src).encode()))
    (tmp_path / "t.ref1").write_text("".join(f"{s}\n" for s in src))
    (tmp_path / "t.ref2").write_text("".join(f"{s} a\n" for s in src))
    out = tmp_path / "files.json"
    refs = [str(tmp_path / f"t.ref{k}") for k in (1, 2)]
    proc = run("nmt-evaluate", str(trained / "checkpoints" / "best.pt"), "--src",
               str(tmp_path / "t.src.gz"), "--ref", refs[0], "--ref", refs[1],
               "--out", str(out), "--bootstrap", "100", env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["sentences"] == 40 and report["refs"] == [
        str(tmp_path / f"t.ref{k}") for k in (1, 2)
    ]
    assert report["bleu_signature"].startswith("nrefs:2|bs:100")
    assert report["bleu"] > 60 and report["bleu_by_length"]
    assert (
        "t.src" in proc.stdout and f"{report['bleu']:.2f} ± {report['bleu_ci']:.2f}" in proc.stdout
    )
    assert len(out.with_suffix(".txt").read_text().splitlines()) == 40


def test_evaluate_refuses_misaligned_or_missing_files_in_one_line(trained: Path, env, tmp_path):
    best = str(trained / "checkpoints" / "best.pt")
    (tmp_path / "s").write_text("a b\nc d\n")
    (tmp_path / "r").write_text("a b\n")
    proc = run(
        "nmt-evaluate", best, "--src", str(tmp_path / "s"), "--ref", str(tmp_path / "r"), env=env
    )
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "has 2 lines" in proc.stderr and str(tmp_path / "r") in proc.stderr
    proc = run(
        "nmt-evaluate", best, "--src", str(tmp_path / "s"), "--ref", str(tmp_path / "nope"), env=env
    )
    assert proc.returncode == 2 and "nope: file not found" in proc.stderr
    proc = run("nmt-evaluate", best, "--src", str(tmp_path / "s"), env=env)
    assert proc.returncode == 2 and "--src needs at least one --ref" in proc.stderr


def test_translate_streams_a_file_in_input_order_with_a_progress_bar(trained: Path, env, tmp_path):
    best = str(trained / "checkpoints" / "best.pt")
    lines = copy_lines(50, seed=1)
    lines[7], lines[20] = "", "   "
    raw = "".join(f"{s}\n" for s in lines).encode()
    raw = raw.replace(b"\n\n", b"\n\xff\xfe\n", 1)  # line 8 is not UTF-8 either
    (tmp_path / "in.gz").write_bytes(gzip.compress(raw))
    out = tmp_path / "out.txt"
    proc = run("nmt-translate", best, "-i", str(tmp_path / "in.gz"), "-o", str(out),
               "--buffer", "7", "--beam", "1", env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = out.read_text(encoding="utf-8").split("\n")[:-1]
    assert len(got) == 50 and got[7] == "" and got[20] == ""
    assert "input line 8 is not valid UTF-8" in proc.stderr
    # buffered, sorted and batched, it gives what one sentence at a time gives
    kept = [i for i in range(50) if i not in (7, 20)]
    one = run("nmt-translate", best, "--beam", "1", *[lines[i] for i in kept], env=env, check=True)
    assert [got[i] for i in kept] == one.stdout.splitlines()
    assert "50/50" in proc.stderr and "sent/s" in proc.stderr  # the bar: count and rate
    assert "50 line(s) translated" in proc.stderr


def test_translate_reports_a_missing_input_file_in_one_line(trained: Path, env, tmp_path):
    proc = run("nmt-translate", str(trained / "checkpoints" / "best.pt"), "-i",
               str(tmp_path / "absent.txt"), env=env)  # fmt: skip
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "absent.txt" in proc.stderr and "Traceback" not in proc.stderr


def test_keep_last_and_average_give_a_checkpoint_every_command_reads(env, tmp_path):
    run_dir = tmp_path / "kept"
    nmt_train(env, run_dir, *TINY_DATA, *TINY_TRANSFORMER, *QUIET, "train.max_steps=60",
              "train.eval_every=20", "train.keep_last=2", "data.synthetic.n_test=8")  # fmt: skip
    kept = sorted(p.name for p in (run_dir / "checkpoints").glob("step_*.pt"))
    assert kept == ["step_40.pt", "step_60.pt"]  # step_20.pt went when step_60.pt came
    out = tmp_path / "avg.pt"
    proc = run("nmt-average", "--last", "2", str(run_dir), "-o", str(out), env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    a, b = (load_checkpoint(run_dir / "checkpoints" / name) for name in kept)
    avg = load_checkpoint(out)
    for key, value in avg["model"].items():
        if value.is_floating_point():
            assert torch.allclose(value, (a["model"][key] + b["model"][key]) / 2), key
    assert avg["averaged_from"][-1].endswith("step_60.pt")
    assert same(avg["tokenizer"], b["tokenizer"])
    assert "optimizer" not in avg
    proc = run("nmt-translate", str(out), "a b c", env=env)
    assert proc.returncode == 0 and proc.stdout.count("\n") == 1, proc.stderr[-2000:]
    # checkpoints of different models are refused in one line
    other = dict(b, model_config=b["model_config"] | {"d_model": 64})
    save_checkpoint(other, tmp_path / "other.pt")
    proc = run("nmt-average", str(out), str(tmp_path / "other.pt"), "-o", str(tmp_path / "x.pt"),
               env=env)  # fmt: skip
    assert proc.returncode == 2 and "model_config differs" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "x.pt").exists()
    proc = run("nmt-average", "--last", "3", str(run_dir), "-o", str(tmp_path / "y.pt"), env=env)
    assert proc.returncode == 2 and "train.keep_last=3" in proc.stderr
    # the same update twice (last.pt is step_60.pt here) is averaged, and said
    ckpts = run_dir / "checkpoints"
    proc = run("nmt-average", str(ckpts / "step_60.pt"), str(ckpts / "last.pt"),
               "-o", str(tmp_path / "z.pt"), env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "are the same update (60): it counts 2 times" in proc.stderr
    assert "holds 1 distinct update(s)" in proc.stderr


def test_init_from_fine_tunes_with_the_checkpoints_model_and_tokenizer(trained, env, tmp_path):
    best = trained / "checkpoints" / "best.pt"
    # another task, another tokenizer setting: the checkpoint's model and tokenizer are kept
    new = [*TINY_DATA, "data.synthetic.task=reverse", "data.tokenizer.vocab_size=20",
           "data.synthetic.n_test=8", *QUIET, "train.eval_every=10"]  # fmt: skip
    run_dir = tmp_path / "tuned"
    proc = nmt_train(env, run_dir, *new, "train.max_steps=10", f"train.init_from={best}")
    assert "initialised from" in proc.stdout and "unknown pieces" in proc.stdout
    start, tuned = load_checkpoint(best), load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert same(tuned["tokenizer"], start["tokenizer"])
    assert tuned["model_config"] == start["model_config"]
    assert tuned["step"] == 10  # a fresh optimiser and schedule: counted from 0
    # starting from the weights: its first validation is far above a fresh model's
    first = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[0])
    fresh_dir = tmp_path / "fresh"
    nmt_train(env, fresh_dir, *new, *TINY_TRANSFORMER, "train.max_steps=10")
    fresh = json.loads((fresh_dir / "metrics.jsonl").read_text().splitlines()[0])
    assert first["valid_loss"] < fresh["valid_loss"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model=bahdanau", "holds a transformer model, the command line asks for model=bahdanau"),
        ("model.d_model=64", "its model has model.d_model="),
        ("data.src=fr", "translates src→tgt, the data is fr→tgt"),
    ],
)
def test_init_from_refuses_what_does_not_fit_in_one_line(trained, env, tmp_path, override, message):
    best = trained / "checkpoints" / "best.pt"
    proc = nmt_train(env, tmp_path / "bad", *TINY_DATA, "train.max_steps=2", override,
                     f"train.init_from={best}", check=False)  # fmt: skip
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr


def test_nbest_lines_are_explained(trained, env):
    proc = run("nmt-translate", str(trained / "checkpoints" / "best.pt"), "--nbest", "2",
               "--threads", "1", "a b c", "d e", env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [line.split("\t") for line in proc.stdout.splitlines()]
    assert [(c[0], c[1]) for c in lines] == [("0", "0"), ("0", "1"), ("1", "0"), ("1", "1")]
    assert float(lines[0][2]) >= float(lines[1][2]) and lines[0][3] == "a b c"
    assert "--nbest 2: tab-separated input line (from 0), rank (0 = best), score" in proc.stderr
