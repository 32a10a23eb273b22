"""The run directory's records: old runs load, damaged checkpoints are refused, a failed
write says so in one line and loses nothing."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from nmt.errors import CheckpointError, WriteError
from nmt.runs import checkpoint as ckpt_io
from nmt.runs.checkpoint import load_checkpoint, load_translator, save_checkpoint
from nmt.runs.records import RESULTS_KEYS, RESULTS_VERSION, Validation
from nmt.runs.run_dir import RunDir
from tests.runs import BIN

#: a run directory as release 0.1.0 wrote it (tiny Bahdanau, synthetic copy task, 6
#: updates, validations at 3 and 6): results.json without record_version or split names,
#: config.yaml with the "variant's default" placeholders, checkpoints without checksum
OLD_RUN = Path(__file__).parent / "fixtures" / "run_0.1.0"


@pytest.fixture
def old_run(tmp_path) -> Path:
    run = tmp_path / "old"
    shutil.copytree(OLD_RUN, run)
    return run


def test_a_run_of_the_previous_release_reads_as_today(old_run):
    run = RunDir(old_run)
    results = run.read_results()
    assert results["record_version"] == RESULTS_VERSION and results["variant"] == "bahdanau"
    test = results["test"]["test"]
    assert test["split"] == "test"  # the synthetic corpus's test split is called test
    assert results["decode"]["beam"] == 2 and "precision" in results["decode"]
    hyps = run.read_hypotheses(test["hypotheses"])
    assert len(hyps) == 8
    validations = run.validations()
    assert [v.step for v in validations] == [3, 6] and not any(v.final for v in validations)
    assert validations[0].valid_bleu == 0.53 and validations[1].train_tgt_tokens == 2014
    config = run.read_config()  # the placeholders of 0.1.0 read as the values the run used
    assert config["model"]["name"] == "bahdanau"
    assert config["train"]["lr"] == 1e-3 and config["train"]["scheduler"] == "plateau"
    assert "lr: 0.0" in run.config_path.read_text()  # the file itself is left as it was
    assert run.test_bleu()[2] == "test"
    for name in ("best.pt", "last.pt"):
        ckpt = run.load_checkpoint(name)  # version 1: no checksum, still loads
        assert ckpt["version"] == 1 and "checksum" not in ckpt
    last = run.load_checkpoint("last.pt")
    assert last["train_config"]["scheduler"] == "plateau"  # "auto" resolved by migration
    assert last["clock"]["train_seconds"] > 0 and last["trainer"]["processes"] == 1
    translator = load_translator(run.best)
    assert translator.model.variant == "bahdanau"
    assert isinstance(translator.translate_text(["a b c"], progress=False)[0], str)


def test_a_run_of_the_previous_release_resumes(env, old_run):
    """Its last.pt continues training under today's code (the resolved lr and schedule
    match its placeholders) and finishes with today's records."""
    overrides = (old_run / ".hydra" / "overrides.yaml").read_text().split("\n")
    args = [o.removeprefix("- ") for o in overrides if o.startswith("- ")]
    args = [a for a in args if not a.startswith("train.max_steps")]
    (old_run / "results.json").unlink()  # a finished run: resume it as an interrupted one
    proc = subprocess.run(
        [str(BIN / "nmt-train"), f"hydra.run.dir={old_run}", *args, "train.max_steps=9",
         "train.resume=true"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    written = json.loads((old_run / "results.json").read_text())
    assert list(written) == list(RESULTS_KEYS)  # today's record, in its documented order
    assert written["test"]["test"]["split"] == "test" and written["record_version"] == 2
    results = RunDir(old_run).read_results()
    assert results["steps"] == 9 and results["processes"] == 2
    assert [v.step for v in RunDir(old_run).validations()] == [3, 6, 9]
    assert load_checkpoint(old_run / "checkpoints" / "last.pt")["version"] == ckpt_io.VERSION


def _payload() -> dict:
    torch.manual_seed(0)
    return {
        "model": {"w": torch.randn(64, 64), "b": torch.zeros(64, dtype=torch.bfloat16)},
        "model_config": {"name": "seq2seq"},
        "tokenizer": {"src": b"\x00sentencepiece" * 50},
        "data": {"name": "synthetic"},
        "step": 3,
    }


def test_a_checkpoint_with_one_flipped_byte_is_refused_in_one_line(tmp_path):
    path = save_checkpoint(_payload(), tmp_path / "best.pt")
    assert load_checkpoint(path)["step"] == 3
    data = bytearray(path.read_bytes())
    damaged = 0
    for offset in range(len(data) // 4, 3 * len(data) // 4, len(data) // 16):
        bad = tmp_path / f"bad{offset}.pt"
        copy = bytearray(data)
        copy[offset] ^= 0xFF
        bad.write_bytes(bytes(copy))
        with pytest.raises(CheckpointError) as e:
            load_checkpoint(bad)
        message = str(e.value)
        assert "\n" not in message and str(bad) in message
        damaged += "damaged" in message
    assert damaged >= 4  # flips inside the tensors' bytes: read, but their checksum differs


def test_the_checksum_covers_every_part_of_the_payload():
    base = ckpt_io.content_digest(_payload())
    assert base == ckpt_io.content_digest(_payload())  # canonical: the same content agrees
    for change in (
        lambda p: p["model"]["w"].view(-1)[100].add_(1e-3),
        lambda p: p["model"]["b"].view(-1)[0].fill_(1.0),
        lambda p: p.__setitem__("tokenizer", {"src": b"\x01" + p["tokenizer"]["src"][1:]}),
        lambda p: p.__setitem__("step", 4),
        lambda p: p["model_config"].__setitem__("name", "luong"),
    ):
        p = _payload()
        change(p)
        assert ckpt_io.content_digest(p) != base


def test_a_full_disk_fails_in_one_line_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    path = save_checkpoint(_payload(), tmp_path / "last.pt")
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.f, name)

    monkeypatch.setattr(os, "fdopen", lambda *a, **k: Full(real_fdopen(*a, **k)))
    payload = _payload() | {"step": 4}
    with pytest.raises(WriteError) as e:
        save_checkpoint(payload, path)
    message = str(e.value)
    assert "\n" not in message and str(path) in message and "No space left" in message
    assert "MB" in message and "intact" in message
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 3  # the previous file, untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]  # no partial file


def test_nmt_train_on_a_file_size_limit_ends_in_one_line(env, tmp_path):
    """A disk that cannot take the checkpoint (here: RLIMIT_FSIZE below its size) ends the
    run with one error line naming the file and the space it needed, no traceback."""
    import resource
    import signal

    from tests.runs import QUIET, TINY_DATA, TINY_TRANSFORMER

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write instead of a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (150_000, 150_000))

    # the tokenizer first, without the limit (its files are cached in the data folder)
    cmd = [str(BIN / "nmt-train"), *TINY_DATA, *TINY_TRANSFORMER, *QUIET,
           "train.max_steps=2", "train.eval_every=2"]  # fmt: skip
    subprocess.run([*cmd, f"hydra.run.dir={tmp_path / 'warm'}"], env=env, check=True,
                   capture_output=True, timeout=300)  # fmt: skip
    proc = subprocess.run([*cmd, f"hydra.run.dir={tmp_path / 'r'}"], env=env, text=True,
                          capture_output=True, timeout=300, preexec_fn=limit)  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "best.pt" in errors[0] and "MB" in errors[0] and "intact" in errors[0]
    leftovers = [p.name for p in (tmp_path / "r" / "checkpoints").iterdir()]
    assert all(not name.endswith(".tmp") for name in leftovers), leftovers


def test_validation_records_round_trip_and_tolerate_older_lines(tmp_path):
    run = RunDir(tmp_path)
    run.append_validation(Validation(step=2, epoch=0, valid_bleu=1.5, valid_loss=3.0))
    run.append_validation(Validation(step=3, epoch=0, valid_bleu=2.0, final=True))
    with open(run.metrics_path, "a") as f:
        f.write('{"step": 4, "valid_bleu": 2.5, "a_key_of_a_later_release": 1}\n{"step": 5, "va')
    records = run.validations()
    assert [(v.step, v.final) for v in records] == [(2, False), (3, True), (4, False)]
    assert '"final"' not in run.metrics_path.read_text().splitlines()[0]


def test_splits_are_named_as_users_know_them():
    from nmt.data.config import DataConfig, split_name

    multi30k = DataConfig()
    assert split_name(multi30k, "test") == "test_2016_flickr"
    assert split_name(multi30k, "valid") == "val"
    assert split_name(multi30k, "test_2017_flickr") == "test_2017_flickr"
    files = DataConfig(name="files", train="c/train", valid="c/dev", test="corpus/newstest2014")
    assert split_name(files, "test") == "newstest2014" and split_name(files, "valid") == "dev"


def test_a_finished_run_names_its_test_split_in_results_log_and_tensorboard(trained):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    results = json.loads((trained / "results.json").read_text())
    name = results["test"]["test"]["split"]
    assert name == "test" and results["record_version"] == RESULTS_VERSION
    events = EventAccumulator(str(RunDir(trained).tensorboard))
    events.Reload()
    tags = events.Tags()["scalars"]
    assert f"test/{name}/bleu" in tags and f"test/{name}/chrf" in tags
    assert f"{name}: BLEU" in (trained / "train.log").read_text()
