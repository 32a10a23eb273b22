"""The scripts around the package, each run for real on tiny inputs: the install's torch
pick, the GPU check's wrapper, the fine-tuning recipe, the A/B of two revisions and the
README's screenshot of ``nmt-serve``."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_serve_browser import chromium

ROOT = Path(__file__).resolve().parents[1]


def executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def run(cmd: list[str], env: dict[str, str] | None = None, timeout: int = 300):
    return subprocess.run(
        cmd, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


# ---------------------------------------------------------------- scripts/torch_spec.py
@pytest.fixture
def torch_spec_env(tmp_path) -> dict[str, str]:
    """A PATH holding only ``python3`` (no nvidia-smi), and pip's find-links a folder of
    its own (no config file read)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    executable(bin_dir / "python3", f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    return {"PATH": str(bin_dir), "PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": str(wheels)}


def torch_spec(env: dict[str, str]) -> str:
    proc = run([sys.executable, "scripts/torch_spec.py"], env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_torch_spec_picks_the_newest_cpu_wheel_in_range_without_a_gpu(torch_spec_env):
    wheels = Path(torch_spec_env["PIP_FIND_LINKS"])
    assert torch_spec(torch_spec_env) == "torch>=2.3,<3"  # no wheel: the range
    for name in ("2.2.2", "2.4.1", "2.10.0", "3.0.0"):
        (wheels / f"torch-{name}+cpu-cp311-cp311-linux_x86_64.whl").touch()
    (wheels / "torch-2.11.0-cp311-cp311-linux_x86_64.whl").touch()  # a CUDA build
    assert torch_spec(torch_spec_env) == "torch==2.10.0"


def test_torch_spec_gives_the_range_where_there_is_an_nvidia_driver(torch_spec_env):
    bin_dir = Path(torch_spec_env["PATH"])
    executable(bin_dir / "nvidia-smi", "#!/bin/sh\nexit 0\n")
    wheels = Path(torch_spec_env["PIP_FIND_LINKS"])
    (wheels / "torch-2.4.1+cpu-cp311-cp311-linux_x86_64.whl").touch()
    assert torch_spec(torch_spec_env) == "torch>=2.3,<3"


# ---------------------------------------------------------------- scripts/gpu_check.sh
def test_gpu_check_sh_runs_gpu_check_py_from_the_checkout_into_its_out_dir(tmp_path):
    log = tmp_path / "args"
    fake = executable(
        tmp_path / "python",
        f'#!/bin/sh\nprintf "%s\\n" "$PWD" "$PYTHONPATH" "$@" > "{log}"\n',
    )
    cwd = tmp_path  # run from elsewhere: the script goes to the checkout itself
    for args, out in (([str(tmp_path / "out")], str(tmp_path / "out")),
                      ([], "docs/results/gpu")):  # fmt: skip
        proc = subprocess.run(
            ["bash", str(ROOT / "scripts" / "gpu_check.sh"), *args], cwd=cwd,
            env={**os.environ, "PYTHON": str(fake), "PYTHONPATH": "/elsewhere"},
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        pwd, pythonpath, *argv = log.read_text().splitlines()
        assert Path(pwd).resolve() == ROOT
        assert pythonpath.split(":")[0] == pwd and pythonpath.endswith(":/elsewhere")
        assert argv == ["scripts/gpu_check.py", "--out", out]


# ---------------------------------------------------------------- scripts/finetune_news.sh
def test_finetune_news_sh_needs_a_checkpoint_that_exists(tmp_path):
    proc = run(["bash", "scripts/finetune_news.sh"])
    assert proc.returncode == 2 and proc.stderr.startswith("usage: bash scripts/finetune_news.sh")
    proc = run(["bash", "scripts/finetune_news.sh", str(tmp_path / "none.pt"), str(tmp_path)])
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: checkpoint {tmp_path / 'none.pt'} not found"


def test_finetune_news_sh_exports_scores_then_fine_tunes(tmp_path):
    bin_dir, log = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    for tool in ("nmt-data", "nmt-evaluate", "nmt-train"):
        executable(bin_dir / tool, f'#!/bin/sh\necho "$(basename "$0") $*" >> "{log}"\n')
    ckpt, out, data = tmp_path / "best.pt", tmp_path / "out", tmp_path / "data"
    ckpt.write_bytes(b"")
    proc = run(
        ["bash", "scripts/finetune_news.sh", str(ckpt), str(out), "train.max_epochs=1"],
        {"BIN": str(bin_dir), "NMT_DATA_DIR": str(data)},
    )
    assert proc.returncode == 0, proc.stderr
    files = data / "finetune_news"
    calls = log.read_text().splitlines()
    assert calls[:3] == [
        f"nmt-data export wmt_news {split} {files / name} --root {data}"
        for split, name in (("train", "train"), ("newstest2013", "dev"),
                            ("newstest2014", "test"))
    ]  # fmt: skip
    assert calls[3] == (
        f"nmt-evaluate {ckpt} --src {files / 'test.de'} --ref {files / 'test.en'} "
        f"--out {out / 'before.json'} --beam 5"
    )
    train = calls[4].split()
    assert train[0] == "nmt-train" and f"train.init_from={ckpt}" in train
    assert f"data.train={files / 'train'}" in train and f"hydra.run.dir={out / 'run'}" in train
    assert train[-1] == "train.max_epochs=1" and len(calls) == 5  # the overrides come last


# ---------------------------------------------------------------- scripts/ab_train.py
def worktrees() -> str:
    return run(["git", "worktree", "list", "--porcelain"]).stdout


def test_ab_train_refuses_what_names_no_revision_before_anything_runs(tmp_path):
    before = worktrees()
    proc = run([sys.executable, "scripts/ab_train.py", "--a", "no-such-revision", "--b",
                "HEAD", "--out", str(tmp_path / "ab.json")])  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: 'no-such-revision' is not a git revision")
    proc = run([sys.executable, "scripts/ab_train.py", "--a", "HEAD", "--rounds", "0"])
    assert proc.returncode == 2 and "--rounds 0: at least 1" in proc.stderr
    assert worktrees() == before and not (tmp_path / "ab.json").exists()


def test_ab_train_alternates_tiny_runs_of_two_revisions(tmp_path):
    if run(["git", "rev-parse", "--is-inside-work-tree"]).returncode != 0:
        pytest.skip("not a git checkout")
    before = worktrees()
    out = tmp_path / "ab.json"
    overrides = [
        "data=synthetic", "data.synthetic.task=copy", "data.synthetic.vocab=8",
        "data.synthetic.min_len=2", "data.synthetic.max_len=6", "data.synthetic.n_train=200",
        "data.synthetic.n_valid=10", "data.synthetic.n_test=10", "data.tokenizer.vocab_size=24",
        "data.max_tokens=200", "data.extra_tests=[]",
        "model=seq2seq", "model.emb_dim=16", "model.hidden_size=32", "model.enc_layers=1",
        "train.max_steps=4", "decode.beam=1",
    ]  # fmt: skip
    proc = run(
        [sys.executable, "scripts/ab_train.py", "--a", "HEAD", "--b", "HEAD", "--rounds", "1",
         "--b-args", "train.max_steps=3", "--out", str(out), "--", *overrides],
        {"NMT_DATA_DIR": str(tmp_path / "data"), "TMPDIR": str(tmp_path)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    head = run(["git", "rev-parse", "HEAD"]).stdout.strip()
    assert result["commits"] == {"a": head, "b": head}
    assert [r["steps"] for r in result["runs"]["a"]] == [4]
    assert [r["steps"] for r in result["runs"]["b"]] == [3]  # --b-args: B's own override
    assert result["ratio_b_over_a"] > 0 and "B/A" in proc.stdout
    assert worktrees() == before  # the revisions' worktrees are gone


# ---------------------------------------------------------------- scripts/serve_screenshot.py
def test_serve_screenshot_checks_its_arguments_and_the_browser(tmp_path):
    proc = run([sys.executable, "scripts/serve_screenshot.py", "run"])
    assert proc.returncode == 2 and "--text" in proc.stderr
    proc = run([sys.executable, "scripts/serve_screenshot.py", "run", "--text", "a",
                "--size", "big"])  # fmt: skip
    assert proc.returncode == 2 and "--size big: give width,height" in proc.stderr
    # no chromium on this PATH: one line, before any server starts
    proc = run([sys.executable, "scripts/serve_screenshot.py", str(tmp_path), "--text", "a b",
                "--out", str(tmp_path / "x.png")], {"PATH": str(tmp_path)})  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "error: needs chromium and chromedriver on PATH (apt-get install chromium chromium-driver)"
    )
    assert not (tmp_path / "x.png").exists()


@pytest.mark.skipif(
    chromium() is None and os.environ.get("NMT_REQUIRE_BROWSER") != "1",
    reason="no chromium/chromedriver (apt-get install chromium chromium-driver)",
)
def test_serve_screenshot_saves_the_page_of_a_run(trained, env, tmp_path):
    out = tmp_path / "serve.png"
    proc = subprocess.run(
        [sys.executable, "scripts/serve_screenshot.py", str(trained), "--text", "a b c d",
         "--out", str(out), "--size", "800,600"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert out.read_bytes()[:4] == b"\x89PNG" and f"screenshot -> {out}" in proc.stdout
