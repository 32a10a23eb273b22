"""nmt works however it is installed: a wheel, installed into a fresh virtual environment,
trains from a folder outside the source tree with the configs it ships, and a user's own
config folder still composes with them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run(cmd: list, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


def test_a_wheel_installs_and_trains_outside_the_source_tree(tmp_path):
    dist = tmp_path / "dist"
    pip = [sys.executable, "-m", "pip"]
    # built from a copy of what the package is made of: a build/ folder left in the
    # checkout by an earlier build can hold files that no longer exist
    src = tmp_path / "src"
    shutil.copytree(REPO / "nmt", src / "nmt", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / name).exists():
            shutil.copy(REPO / name, src / name)
    run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", dist, src], timeout=300)
    (wheel,) = dist.glob("nmt-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for config in ("config.yaml", "train/default.yaml", "experiment/model/bottleneck/luong.yaml"):
        assert f"nmt/configs/{config}" in names, config

    # a fresh environment; its dependencies are borrowed from this one's site-packages as
    # a plain path (so this environment's editable nmt stays out of it)
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], timeout=120)
    python = venv / "bin" / "python"
    site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
                .stdout.strip())  # fmt: skip
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run([*pip, "--python", python, "install", "--no-deps", "-q", wheel], timeout=300)
    where = run([python, "-c", "import nmt; print(nmt.__file__)"], cwd=tmp_path).stdout
    assert where.startswith(str(site)), where

    # a user's own config folder beside the shipped ones (Hydra's --config-dir)
    mine = tmp_path / "my_configs" / "experiment"
    mine.mkdir(parents=True)
    (mine / "tiny.yaml").write_text(
        "# @package _global_\n"
        "defaults:\n  - override /data: synthetic\n"
        "data:\n  max_tokens: 400\n  tokenizer:\n    vocab_size: 24\n"
        "  synthetic: {task: copy, vocab: 8, min_len: 2, max_len: 6, n_train: 200,"
        " n_valid: 20, n_test: 20}\n"
        "train:\n  max_steps: 3\ndecode:\n  beam: 1\n"
    )
    # its sizes for the variant it trains, as every preset must give them
    (mine / "model" / "tiny").mkdir(parents=True)
    (mine / "model" / "tiny" / "seq2seq.yaml").write_text(
        "emb_dim: 16\nhidden_size: 32\nenc_layers: 1\n"
    )
    env = {**os.environ, "NMT_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": ""}
    command = [venv / "bin" / "nmt-train", "--config-dir", tmp_path / "my_configs",
               "experiment=tiny"]  # fmt: skip
    run([*command, "model=seq2seq", f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path, env=env,
        timeout=300)  # fmt: skip
    assert (tmp_path / "run" / "results.json").is_file()
    config = (tmp_path / "run" / "config.yaml").read_text()
    assert "max_steps: 3" in config and "hidden_size: 32" in config
    # a variant the preset gives no sizes for fails at start-up, naming the file to add
    proc = subprocess.run([str(c) for c in [*command, "model=luong"]], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    missing = mine / "model" / "tiny" / "luong.yaml"
    assert proc.returncode == 2 and f"{missing} is missing" in proc.stderr, proc.stderr[-2000:]
