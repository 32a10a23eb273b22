"""End to end on the synthetic corpus, through the real console scripts.

One tiny Transformer run is shared (module fixture); the other tests train
for tens of steps. Everything runs on the CPU in a temporary data folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from nmt.models import VARIANTS
from nmt.runs.checkpoint import load_checkpoint, save_checkpoint
from tests.runs import BIN, QUIET, TINY_BAHDANAU, TINY_DATA, TINY_TRANSFORMER, nmt_train
from tests.tiny import TINY_MODELS


def test_end_to_end_run_writes_everything(trained: Path):
    for name in (
        "config.yaml",
        "metrics.jsonl",
        "results.json",
        "checkpoints/best.pt",
        "checkpoints/last.pt",
    ):
        assert (trained / name).is_file(), name
    results = json.loads((trained / "results.json").read_text())
    assert results["variant"] == "transformer"
    assert results["steps"] == 300
    assert results["parameters"] > 0 and results["train_tgt_tokens_per_s"] > 0
    test = results["test"]["test"]
    # the copy task is learnt: chance BLEU on 8 random symbols is near 0
    assert test["bleu"] > 60, test
    assert test["bleu_signature"].startswith("nrefs:1|bs:1000|seed:12345|case:mixed")
    assert test["bleu_by_length"] and all(b["bleu_ci"] is not None for b in test["bleu_by_length"])
    lo, hi = test["bleu_ci95"]
    assert lo <= test["bleu"] <= hi and test["chrf_ci"] >= 0 and test["bootstrap"] == 1000
    lines = [json.loads(x) for x in (trained / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [100, 200, 300]
    # how it stopped, what it used, how it decoded
    assert results["stop_reason"] == "max_steps" and "train.max_steps" in results["stop_detail"]
    assert results["processes"] == 1 and results["budget"]["max_steps"] == 300
    assert results["machines"] == [results["device"]] and results["device"].startswith("cpu: ")
    assert results["train_tgt_tokens"] == lines[-1]["train_tgt_tokens"] > 0
    assert 0 < results["train_seconds"] <= results["wall_seconds"]
    assert results["decode"] == {
        "beam": 2, "length_penalty": 0.6, "max_len_a": 1.5, "max_len_b": 10,
        "batch_tokens": 6000, "precision": results["precision"],
    }  # fmt: skip
    assert len(results["tokenizer"]) == 64  # the SentencePiece model's sha256
    # everything the run printed is in its train.log, a line per event, not per redraw
    log = (trained / "train.log").read_text(encoding="utf-8")
    for needle in ("parameters on", "step 300: valid loss", "train (max_steps): 100%",
                   "stopped by max_steps", "best valid BLEU", "sacreBLEU: nrefs:1"):  # fmt: skip
        assert needle in log, needle
    assert "\r" not in log and log.count("train (max_steps)") == 1


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_registered_variant_trains_and_translates_from_the_cli(env, tmp_path, name):
    run = tmp_path / name
    nmt_train(env, run, *TINY_DATA, *TINY_MODELS[name], *QUIET, "train.max_steps=12",
              "train.eval_every=12", "data.synthetic.n_test=8")  # fmt: skip
    results = json.loads((run / "results.json").read_text())
    assert results["variant"] == name and results["steps"] == 12
    assert results["model_config"]["name"] == name
    out = subprocess.run(
        [str(BIN / "nmt-translate"), str(run / "checkpoints" / "best.pt"), "--beam", "2"],
        input="a b\nc\n",
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert len(out.stdout.splitlines()) == 2


def test_results_bleu_equals_the_sacrebleu_command_line(trained: Path, env):
    results = json.loads((trained / "results.json").read_text())
    hyps = trained / results["test"]["test"]["hypotheses"]
    from nmt.data.config import SyntheticConfig
    from nmt.data.synthetic import generate

    cfg = SyntheticConfig(task="copy", vocab=8, min_len=2, max_len=6, n_test=60)
    ref = trained / "ref.txt"
    ref.write_text("".join(t + "\n" for t in generate(cfg, "test").tgt))

    def cli(*args: str) -> str:
        cmd = [str(BIN / "sacrebleu"), str(ref), "-i", str(hyps), "-w", "2", *args]
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout

    test = results["test"]["test"]
    assert float(cli("-b").strip()) == pytest.approx(test["bleu"], abs=0.01)
    # the 95% interval is sacreBLEU's own bootstrap (sacrebleu --confidence)
    confidence = json.loads(cli("--confidence"))
    assert confidence["confidence_var"] == pytest.approx(test["bleu_ci"], abs=0.01)
    assert confidence["confidence_mean"] == pytest.approx(test["bleu_mean"], abs=0.01)


def test_tensorboard_events_hold_the_scalars(trained: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(trained / "tb"), size_guidance={"images": 0})
    acc.Reload()
    tags = acc.Tags()
    for tag in (
        "train/loss",
        "train/lr",
        "train/grad_norm",
        "train/tokens_per_s",
        "valid/loss",
        "valid/ppl",
        "valid/bleu",
        "valid/chrf",
    ):
        assert tag in tags["scalars"], tag
    assert "valid/attention" in tags["images"]
    assert any("valid/samples" in t for t in tags["tensors"])
    assert len(acc.Scalars("valid/bleu")) == 3


def test_translate_with_arguments_pipe_and_empty_line(trained: Path, env):
    best = trained / "checkpoints" / "best.pt"
    args = subprocess.run(
        [str(BIN / "nmt-translate"), str(best), "a b c", "d e"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert args.stdout.splitlines() == ["a b c", "d e"]
    piped = subprocess.run(
        [str(BIN / "nmt-translate"), str(best), "--beam", "3"],
        input="b a d\n\nc c\n",
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert piped.stdout.splitlines() == ["b a d", "", "c c"]
    nbest = subprocess.run(
        [str(BIN / "nmt-translate"), str(best), "--nbest", "2", "a b"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [line.split("\t") for line in nbest.stdout.splitlines()]
    assert [r[:2] for r in rows] == [["0", "0"], ["0", "1"]]


def test_translate_prompts_on_a_terminal_until_ctrl_d(trained: Path, env):
    master, slave = os.openpty()  # stdin is a terminal: the interactive prompt
    proc = subprocess.Popen(
        [str(BIN / "nmt-translate"), str(trained / "checkpoints" / "best.pt")],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    os.close(slave)
    os.write(master, b"a b c\n")
    os.write(master, b"\x04")  # Ctrl-D at the start of a line: end of input
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        os.close(master)
    assert proc.returncode == 0, err[-2000:]
    assert "Ctrl-D to quit" in err
    assert [part.strip() for part in out.split("> ")] == ["", "a b c", ""]  # prompt, answer


def test_translate_truncates_overlong_input_with_a_warning(trained: Path, env, tmp_path):
    best = trained / "checkpoints" / "best.pt"
    png = tmp_path / "attn.png"
    proc = subprocess.run(
        [
            str(BIN / "nmt-translate"),
            str(best),
            "--max-input-tokens",
            "4",
            "--attention-png",
            str(png),
            "a b c d e f g h",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "truncated" in proc.stderr
    assert proc.stdout.strip()
    assert png.stat().st_size > 0


def test_translate_gives_every_input_line_an_output_line(trained: Path, env):
    best = trained / "checkpoints" / "best.pt"
    data = b"a b c\n\xff\xfe broken \xc3\n\n" + b" ".join([b"d"] * 5000) + b"\nb c a\n"
    proc = subprocess.run(
        [str(BIN / "nmt-translate"), str(best)], env=env, input=data, capture_output=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout.decode("utf-8").split("\n")[:-1]
    assert len(out) == 5  # one per input line, the good ones translated
    assert out[0].strip() and out[4].strip() and out[1] == "" and out[2] == ""
    err = proc.stderr.decode("utf-8")
    assert "input line 2 is not valid UTF-8" in err and "Traceback" not in err
    assert "truncated" in err  # the 5,000-word line, cut to the input limit


@pytest.mark.parametrize("kind", ["missing", "truncated", "foreign"])
def test_translate_bad_checkpoint_is_one_clear_error(trained: Path, env, tmp_path, kind):
    path = tmp_path / f"{kind}.pt"
    if kind == "truncated":
        data = (trained / "checkpoints" / "best.pt").read_bytes()
        path.write_bytes(data[: len(data) // 3])
    elif kind == "foreign":
        torch.save({"weights": torch.ones(2)}, path)
    proc = subprocess.run(
        [str(BIN / "nmt-translate"), str(path), "a b"], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and str(path) in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_evaluate_prints_a_table_and_writes_json(trained: Path, env, tmp_path):
    out = tmp_path / "eval.json"
    proc = subprocess.run(
        [
            str(BIN / "nmt-evaluate"),
            str(trained / "checkpoints" / "best.pt"),
            "--split",
            "test",
            "--beam",
            "2",
            "--out",
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(out.read_text())
    assert "BLEU" in proc.stdout and report["sentences"] == 60
    assert report["bleu"] > 60
    # every score with its 95% interval, in the table and the JSON
    assert f"{report['bleu']:.2f} ± {report['bleu_ci']:.2f}" in proc.stdout
    assert "95% confidence interval" in proc.stdout and report["bootstrap"] == 1000
    assert all(b["bleu_ci"] is not None for b in report["bleu_by_length"])
    assert report["decode"]["beam"] == 2 and report["decode"]["precision"] == "fp32"
    assert "decoded: beam 2, " in proc.stdout and "precision fp32" in proc.stdout


def test_evaluate_and_translate_decode_under_bf16_when_asked(trained: Path, env, tmp_path):
    best = str(trained / "checkpoints" / "best.pt")
    out = tmp_path / "bf16.json"
    proc = subprocess.run([str(BIN / "nmt-evaluate"), best, "--precision", "bf16", "--beam", "1",
                           "--bootstrap", "0", "--out", str(out)],
                          env=env, capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["decode"]["precision"] == "bf16" and report["bleu"] > 60
    proc = subprocess.run([str(BIN / "nmt-translate"), best, "--precision", "bf16", "a b c"],
                          env=env, capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0 and len(proc.stdout.splitlines()) == 1, proc.stderr[-2000:]
    proc = subprocess.run([str(BIN / "nmt-translate"), best, "--precision", "fp16", "a"],
                          env=env, capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 2 and "--precision: invalid choice: 'fp16'" in proc.stderr


@pytest.mark.parametrize(
    ("n_train", "accum", "steps"),
    [(1500, 1, 8), (200, 1, 9), (200, 2, 5)],  # within an epoch; across epoch ends; accumulation
)
def test_resume_gives_the_same_weights_as_training_straight(env, tmp_path, n_train, accum, steps):
    common = [
        *TINY_DATA, *TINY_BAHDANAU, *QUIET, "train.eval_every=0", "model.dropout=0.2",
        f"data.synthetic.n_train={n_train}", f"train.accum_steps={accum}",
    ]  # fmt: skip
    nmt_train(env, tmp_path / "straight", *common, f"train.max_steps={2 * steps}")
    nmt_train(env, tmp_path / "split", *common, f"train.max_steps={steps}")
    nmt_train(env, tmp_path / "split", *common, f"train.max_steps={2 * steps}", "train.resume=true")
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")
    assert a["step"] == b["step"] == 2 * steps
    assert a["sampler"] == b["sampler"]
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    sa, sb = a["optimizer"]["state"], b["optimizer"]["state"]
    for p in sa:
        assert torch.equal(sa[p]["exp_avg"], sb[p]["exp_avg"])
    assert a["scheduler"] == b["scheduler"]
    assert a["trainer"]["bad_evals"] == b["trainer"]["bad_evals"]


def test_validating_more_often_changes_no_training_step(env, tmp_path):
    """Validation draws no random numbers and touches no training state, so a run validated
    every 3 updates ends with the weights of one validated only at its epochs' ends (the
    Transformer's schedule does not depend on validation; dropout on, so the RNG counts)."""
    common = [*TINY_DATA, *TINY_TRANSFORMER, *QUIET, "model.dropout=0.2", "train.max_steps=12",
              "data.synthetic.n_train=2000"]  # fmt: skip
    nmt_train(env, tmp_path / "rare", *common, "train.eval_every=0")
    nmt_train(env, tmp_path / "often", *common, "train.eval_every=3")
    evals = (tmp_path / "often" / "metrics.jsonl").read_text().splitlines()
    assert len(evals) > len((tmp_path / "rare" / "metrics.jsonl").read_text().splitlines())
    a = load_checkpoint(tmp_path / "rare" / "checkpoints" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "often" / "checkpoints" / "last.pt")["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def results_of(run: Path) -> dict:
    return json.loads((run / "results.json").read_text())


def test_a_resumed_runs_time_budget_continues_where_it_stopped(env, tmp_path):
    """N minutes of training cut in two equal N minutes straight, within a step."""
    common = [
        *TINY_DATA, *TINY_BAHDANAU, *QUIET, "train.eval_every=0", "train.max_epochs=10000",
        "train.threads=1", "train.patience=0",
    ]  # fmt: skip
    budget = 6.0  # seconds
    nmt_train(env, tmp_path / "straight", *common, f"train.max_minutes={budget / 60}")
    nmt_train(env, tmp_path / "split", *common, f"train.max_minutes={budget / 120}")
    first = results_of(tmp_path / "split")
    nmt_train(
        env, tmp_path / "split", *common, f"train.max_minutes={budget / 60}", "train.resume=true"
    )
    straight, split = results_of(tmp_path / "straight"), results_of(tmp_path / "split")
    step = straight["train_seconds"] / straight["steps"]  # seconds per update
    tolerance = max(0.25, 3 * step) + 0.05  # one (slow) update, and rounding to 0.1 s
    assert budget / 2 <= first["train_seconds"] <= budget / 2 + tolerance
    for r in (straight, split):
        assert r["stop_reason"] == "max_minutes"
        assert budget <= r["train_seconds"] <= budget + tolerance, r["train_seconds"]
    assert split["processes"] == 2 and straight["processes"] == 1
    assert split["stops"] == ["max_minutes", "max_minutes"] and straight["stops"] == ["max_minutes"]
    assert split["steps"] > first["steps"]
    # the wall time covers both processes: at least the first one's and the second's training
    assert split["wall_seconds"] >= first["wall_seconds"] + (budget / 2) - 0.1
    assert split["train_tgt_tokens"] > first["train_tgt_tokens"]


def test_validation_time_is_not_training_time(env, tmp_path):
    run = tmp_path / "slow_eval"
    nmt_train(
        env, run, *TINY_DATA, *TINY_BAHDANAU, *QUIET, "train.max_epochs=10000",
        "train.max_minutes=0.05", "train.eval_every=5", "train.eval_beam=8", "train.patience=0",
        "data.synthetic.n_valid=400", "train.threads=1",
    )  # fmt: skip
    r = results_of(run)
    evals = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert r["stop_reason"] == "max_minutes" and len(evals) >= 3
    assert 3.0 <= r["train_seconds"] <= 3.5, r
    # the validations took time that the budget did not count
    assert r["wall_seconds"] >= r["train_seconds"] + 1.0, r
    assert all(e["train_seconds"] <= r["train_seconds"] for e in evals)


def test_a_target_token_budget_ends_the_run_and_resumes_exactly(env, tmp_path):
    common = [*TINY_DATA, *TINY_BAHDANAU, *QUIET, "train.eval_every=0", "model.dropout=0.2"]
    nmt_train(env, tmp_path / "straight", *common, "train.max_target_tokens=6000")
    nmt_train(env, tmp_path / "split", *common, "train.max_target_tokens=3000")
    nmt_train(env, tmp_path / "split", *common, "train.max_target_tokens=6000", "train.resume=true")
    a, b = results_of(tmp_path / "straight"), results_of(tmp_path / "split")
    assert a["stop_reason"] == b["stop_reason"] == "max_target_tokens"
    # the progress bar runs to 100% of the budget that ends the run
    assert "train (max_target_tokens): 100%" in (tmp_path / "straight" / "train.log").read_text()
    # it stops at the first update that reaches the cap: at most one batch (400 tokens) over
    assert 6000 <= a["train_tgt_tokens"] < 6000 + 400
    assert (a["steps"], a["train_tgt_tokens"]) == (b["steps"], b["train_tgt_tokens"])
    wa = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")["model"]
    wb = load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")["model"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_the_validation_a_budget_adds_off_the_schedule_is_marked_final(env, tmp_path):
    """A budget that ends training between two scheduled validations adds one more, marked
    ``"final"`` in metrics.jsonl; nmt-compare's curve leaves it out, also for older runs
    without the mark (its step is off the ``eval_every`` grid). At a scheduled step there
    is no extra validation."""
    from nmt.compare.rundir import load_run

    common = [*TINY_DATA, *TINY_BAHDANAU, *QUIET, "train.eval_every=4"]
    for steps, finals in ((10, [False, False, True]), (8, [False, False])):
        run = tmp_path / f"steps{steps}"
        nmt_train(env, run, *common, f"train.max_steps={steps}")
        evals = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
        assert [e.get("final", False) for e in evals] == finals
        assert [m["step"] for m in load_run(run).scheduled_metrics] == [4, 8]
    old = tmp_path / "steps10"  # as written before the mark
    lines = [json.loads(x) for x in (old / "metrics.jsonl").read_text().splitlines()]
    unmarked = [{k: v for k, v in e.items() if k != "final"} for e in lines]
    (old / "metrics.jsonl").write_text("".join(json.dumps(e) + "\n" for e in unmarked))
    assert [m["step"] for m in load_run(old).scheduled_metrics] == [4, 8]


def test_early_stopping_on_the_validation_loss(env, tmp_path):
    """train.early_stopping_metric=loss: best.pt is the validation of the lowest loss (not of
    the best BLEU), patience counts validations without a lower loss, the plateau schedule
    decays when the loss stalls, and a run split in two resumes exactly."""
    common = [  # 100 pairs, a high rate: the loss stalls and rises within 300 updates
        *TINY_DATA, *TINY_BAHDANAU, *QUIET, "train.eval_every=6", "train.patience=3",
        "train.early_stopping_metric=loss", "train.plateau_patience=0", "train.lr=0.01",
        "data.synthetic.n_train=100", "train.max_epochs=1000", "train.max_steps=300",
        "model.dropout=0.2",
    ]  # fmt: skip
    run = tmp_path / "loss"
    nmt_train(env, run, *common)
    r = results_of(run)
    evals = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [e["valid_loss"] for e in evals]
    lowest = losses.index(min(losses))
    assert r["early_stopping_metric"] == "loss"
    assert r["best_step"] == evals[lowest]["step"]
    assert r["best_valid_bleu"] == evals[lowest]["valid_bleu"]
    bleus = [e["valid_bleu"] for e in evals]  # this setup tells the two metrics apart
    assert bleus.index(max(bleus)) != lowest
    if r["stop_reason"] == "patience":  # three validations after the lowest loss, none lower
        assert len(evals) == lowest + 4
    else:  # not stopped early: then the lowest loss is among the last three
        assert r["stop_reason"] == "max_steps" and lowest >= len(evals) - 3
    # the plateau schedule follows the loss: the rate was halved at each validation that was
    # not 1e-4 below the lowest loss so far (plateau patience 0)
    best_loss, cuts = float("inf"), 0
    for loss in losses:
        if loss < best_loss * (1 - 1e-4):
            best_loss = loss
        else:
            cuts += 1
    assert cuts > 0 and evals[-1]["lr"] == pytest.approx(max(1e-5, 0.01 * 0.5**cuts))
    best = load_checkpoint(run / "checkpoints" / "best.pt")
    assert best["step"] == r["best_step"]
    # resumed half-way, it continues exactly as the run that went straight through
    half = evals[len(evals) // 2]["step"]
    nmt_train(env, tmp_path / "split", *common[:-2], f"train.max_steps={half}", "model.dropout=0.2")
    nmt_train(env, tmp_path / "split", *common, "train.resume=true")
    assert results_of(tmp_path / "split")["best_step"] == r["best_step"]
    assert results_of(tmp_path / "split")["steps"] == r["steps"]
    # the metric is part of the update rule: a run on the loss is not continued on BLEU
    on_bleu = [x for x in common if not x.startswith(("train.early_stop", "train.max_steps"))]
    on_bleu += ["train.resume=true", "train.max_steps=200", "train.early_stopping_metric=bleu"]
    proc = nmt_train(env, tmp_path / "split", *on_bleu, check=False)
    assert (
        proc.returncode == 2 and "train.early_stopping_metric was 'loss', now 'bleu'" in proc.stderr
    )


def test_a_checkpoint_from_before_the_stopping_metric_resumes_on_bleu(env, tmp_path):
    """A last.pt written before train.early_stopping_metric existed (BLEU counters only)
    continues exactly on BLEU, and refuses the loss with a one-line error."""
    common = [*TINY_DATA, *TINY_BAHDANAU, *QUIET, "train.eval_every=2", "train.patience=50"]
    nmt_train(env, tmp_path / "straight", *common, "train.max_steps=8")
    nmt_train(env, tmp_path / "old", *common, "train.max_steps=4")
    last = tmp_path / "old" / "checkpoints" / "last.pt"
    ckpt = load_checkpoint(last)
    ckpt["trainer"].pop("best_score")  # the counters as the older format kept them
    ckpt["trainer"]["patience_bleu"] = ckpt["trainer"].pop("patience_score")
    del ckpt["train_config"]["early_stopping_metric"]
    save_checkpoint({k: v for k, v in ckpt.items() if k not in ("format", "version")}, last)
    proc = nmt_train(
        env, tmp_path / "old", *common, "train.max_steps=8", "train.resume=true",
        "train.early_stopping_metric=loss", check=False,
    )  # fmt: skip
    assert (
        proc.returncode == 2 and "train.early_stopping_metric was 'bleu', now 'loss'" in proc.stderr
    )
    nmt_train(env, tmp_path / "old", *common, "train.max_steps=8", "train.resume=true")
    old, straight = results_of(tmp_path / "old"), results_of(tmp_path / "straight")
    for key in ("steps", "best_step", "best_valid_bleu", "early_stopping_metric"):
        assert old[key] == straight[key], key


def test_resume_refuses_a_changed_setting(env, tmp_path):
    common = [*TINY_DATA, *TINY_BAHDANAU, *QUIET, "train.eval_every=0"]
    nmt_train(env, tmp_path / "r", *common, "train.max_steps=4")
    proc = nmt_train(
        env, tmp_path / "r", *common, "train.max_steps=8", "train.resume=true",
        "train.seed=2", check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and "train.seed was 1, now 2" in proc.stderr
    proc = nmt_train(
        env, tmp_path / "other", *common,
        f"train.resume={tmp_path / 'r' / 'checkpoints' / 'last.pt'}", "train.max_steps=8",
    )  # fmt: skip
    assert load_checkpoint(tmp_path / "other" / "checkpoints" / "last.pt")["step"] == 8
    proc = nmt_train(
        env, tmp_path / "r", *common,
        f"train.resume={tmp_path / 'other' / 'checkpoints' / 'last.pt'}", check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and "already holds another run" in proc.stderr


def test_epochs_shorter_than_the_accumulation_still_update(env, tmp_path):
    run = tmp_path / "short"
    nmt_train(
        env, run, *TINY_DATA, *TINY_BAHDANAU, *QUIET, "data.synthetic.n_train=40",
        "train.accum_steps=50", "train.max_steps=3", "train.eval_every=0",
    )  # fmt: skip
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    assert ckpt["step"] == 3 and ckpt["epoch"] == 3  # one (short) update per epoch


def test_gradient_accumulation_counts_updates_not_batches(env, tmp_path):
    run = tmp_path / "accum"
    nmt_train(
        env, run, *TINY_DATA, *TINY_BAHDANAU, *QUIET,
        "train.accum_steps=3", "train.max_steps=6", "train.eval_every=0",
    )  # fmt: skip
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    assert ckpt["step"] == 6
    assert ckpt["epoch"] == 0 and ckpt["sampler"]["position"] == 18  # 3 batches per update


def test_existing_run_is_not_overwritten(env, trained: Path):
    proc = nmt_train(env, trained, *TINY_DATA, *TINY_TRANSFORMER, check=False)
    assert proc.returncode == 2
    assert "already holds a run" in proc.stderr and "train.resume=true" in proc.stderr


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("train.max_step=3", "max_step"),
        ("model=rnn", "seq2seq"),
        ("model.score=foo", "score"),
        ("train.log_every=0", "train.log_every=0 must be at least 1"),
        ("train.early_stopping_metric=ppl", "train.early_stopping_metric='ppl' is not valid"),
    ],
)
def test_bad_config_fails_at_start_up_naming_the_key(env, tmp_path, override, needle):
    extra = ["model=luong"] if override.startswith("model.score") else []
    proc = nmt_train(env, tmp_path / "bad", *TINY_DATA, *extra, override, check=False)
    assert proc.returncode != 0
    assert needle in proc.stderr
    assert "tokenizer" not in proc.stdout  # refused before any data work
    assert not (tmp_path / "bad" / "checkpoints").exists()


def train_in_background(
    env, run: Path, args: list[str], until: Path, multirun: bool = False, **popen
) -> subprocess.Popen:
    """Start a long nmt-train into ``run`` (a sweep: ``multirun``, its folder in ``args``)
    and wait (two minutes at most) for ``until``."""
    sweep = ["-m"] if multirun else []
    proc = subprocess.Popen(
        [str(BIN / "nmt-train"), *sweep, f"hydra.run.dir={run}", *args, "train.max_steps=100000"],
        env=env,
        **popen,
    )
    deadline = time.time() + 120
    while time.time() < deadline and not until.exists() and proc.poll() is None:
        time.sleep(0.2)
    if not until.exists():
        code = proc.poll()
        proc.kill()
        proc.wait()
        raise AssertionError(f"nmt-train wrote no {until.name} in 2 minutes (exit code {code})")
    return proc


def test_sigterm_saves_a_checkpoint_and_resume_continues(env, tmp_path):
    run = tmp_path / "term"
    args = [*TINY_DATA, *TINY_BAHDANAU, *QUIET, "train.eval_every=0"]
    proc = train_in_background(  # until the first epoch's validation
        env, run, args, run / "metrics.jsonl", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]  # as the shell reports it
    assert "interrupted" in out
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    step = ckpt["step"]
    assert step > 0
    nmt_train(env, run, *args, f"train.max_steps={step + 5}", "train.resume=true")
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == step + 5
    results = json.loads((run / "results.json").read_text())
    assert results["steps"] == step + 5
    assert results["stops"] == ["signal", "max_steps"] and results["processes"] == 2


def test_sigterm_stops_a_sweep_at_the_interrupted_run(env, tmp_path):
    """A signal ends the whole sweep, not only its current run: the next job never starts
    (it would be killed in its turn, its half-made folder left behind)."""
    sweep = tmp_path / "sweep"
    args = ["train.lr=0.001,0.002", *TINY_DATA, *TINY_BAHDANAU, *QUIET,
            "train.eval_every=0", f"hydra.sweep.dir={sweep}",
            "hydra.sweep.subdir=${hydra.job.num}_lr${train.lr}"]  # fmt: skip
    proc = train_in_background(  # until the first job's first validation
        env, sweep, args, sweep / "0_lr0.001" / "metrics.jsonl", multirun=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert "interrupted" in out
    assert (sweep / "0_lr0.001" / "checkpoints" / "last.pt").is_file()
    assert not (sweep / "1_lr0.002").exists()


def test_resume_auto_starts_continues_or_leaves_a_finished_run(env, tmp_path):
    """What an interrupted sweep re-run with train.resume=auto does in each run directory."""
    run = tmp_path / "auto"
    args = [*TINY_DATA, *TINY_BAHDANAU, *QUIET, "train.eval_every=10", "train.resume=auto"]
    nmt_train(env, run, *args, "train.max_steps=10")  # nothing there: a fresh start
    first = (run / "results.json").read_text()
    assert json.loads(first)["steps"] == 10
    proc = nmt_train(env, run, *args, "train.max_steps=20")  # finished: left as it is
    assert "finished already" in proc.stdout
    assert (run / "results.json").read_text() == first
    (run / "results.json").unlink()  # as if killed after its last checkpoint
    nmt_train(env, run, *args, "train.max_steps=20")
    results = json.loads((run / "results.json").read_text())
    assert results["steps"] == 20 and results["processes"] == 2


def test_a_run_directory_takes_one_training_at_a_time(env, tmp_path):
    run = tmp_path / "busy"
    args = [*TINY_DATA, *TINY_BAHDANAU, *QUIET, "train.eval_every=5"]
    first = train_in_background(
        env, run, args, run / "checkpoints" / "last.pt",
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        second = nmt_train(env, run, *args, "train.max_steps=10", check=False)
        assert second.returncode == 2, second.stderr[-2000:]
        assert second.stderr.startswith("error: ") and len(second.stderr.splitlines()) == 1
        assert f"is in use by process {first.pid}" in second.stderr
        assert first.poll() is None  # the first one trains on
    finally:
        first.kill()  # SIGKILL: no clean-up, the lock file stays behind
        first.wait()
    assert (run / ".lock").is_file()
    step = load_checkpoint(run / "checkpoints" / "last.pt")["step"]
    third = nmt_train(env, run, *args, f"train.max_steps={step + 3}", "train.resume=true")
    assert f"left by process {first.pid}" in third.stdout  # the stale lock is taken over
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == step + 3
    assert not (run / ".lock").exists()  # released at the end


def test_nan_loss_stops_with_a_clear_message(env, tmp_path):
    proc = nmt_train(
        env,
        tmp_path / "nan",
        *TINY_DATA,
        *TINY_BAHDANAU,
        *QUIET,
        "train.max_steps=40",
        "train.lr=inf",
        "train.scheduler=constant",
        check=False,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "NaN" in proc.stderr


def test_ddp_with_two_gloo_processes_only_rank0_writes(env, tmp_path):
    run = tmp_path / "ddp"
    cmd = [
        str(BIN / "torchrun"),
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "nmt.cli.train",
        f"hydra.run.dir={run}",
        *TINY_DATA,
        *TINY_BAHDANAU,
        *QUIET,
        "train.max_steps=20",
        "train.eval_every=10",
        "train.threads=1",
    ]
    tmp = tmp_path / "tmp"  # rank 1's scratch folder for Hydra's log goes here
    tmp.mkdir()
    env = {**env, "TMPDIR": str(tmp)}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not list(tmp.glob("nmt-rank*")), "rank 1's scratch folder was left behind"
    results = json.loads((run / "results.json").read_text())
    assert results["world_size"] == 2 and results["steps"] == 20
    # throughput counts both ranks' tokens: more per update than one rank's 400-token budget
    mean_tokens_per_update = results["train_tgt_tokens"] / 20
    assert 400 < mean_tokens_per_update <= 2 * 400, results["train_tgt_tokens"]
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2  # one writer: rank 0
    assert proc.stdout.count("run directory:") == 1


def test_translator_batches_within_its_budget_in_input_order(trained: Path, monkeypatch):
    import nmt.translation.translator
    from nmt.runs.checkpoint import load_translator

    translator = load_translator(trained / "checkpoints" / "best.pt")
    assert translator.decoding.beam == 2  # the run's own settings (decode.beam=2)
    sentences = ["a b c d e f", "b", "", "c a", "d d d", "a b c d", "e"]
    batches: list[int] = []
    search = nmt.translation.translator.search

    def counting(model, src, src_mask, decoding, **kwargs):
        batches.append(src.size(0))
        assert src.size(0) * src.size(1) * decoding.beam <= max(decoding.batch_tokens, 64)
        return search(model, src, src_mask, decoding, **kwargs)

    monkeypatch.setattr(nmt.translation.translator, "search", counting)
    one = translator.translate_text(sentences)
    assert batches == [6]  # the blank line is not searched
    batches.clear()
    small = translator.translate_text(sentences, decoding=translator.decoding.replace(
        batch_tokens=16))  # fmt: skip
    assert len(batches) > 2 and sum(batches) == 6
    assert small == one and one[2] == ""
