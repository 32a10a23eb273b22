"""Shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def corpora_mirror() -> Path:
    """The read-only corpus mirror ($NMT_DATA_MIRROR or ../shared/corpora); skip without one."""
    for candidate in (os.environ.get("NMT_DATA_MIRROR"), REPO.parent / "shared" / "corpora"):
        if candidate and (Path(candidate) / "multi30k").is_dir():
            return Path(candidate)
    pytest.skip("no corpus mirror (set NMT_DATA_MIRROR)")


@pytest.fixture
def no_env_mirror(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests of the download path must not see the CI's NMT_DATA_MIRROR / URL override."""
    monkeypatch.delenv("NMT_DATA_MIRROR", raising=False)
    monkeypatch.delenv("NMT_DATA_URL_BASE", raising=False)


@pytest.fixture(scope="session")
def env(tmp_path_factory) -> dict[str, str]:
    """The environment of the console scripts: a temporary data folder."""
    data = tmp_path_factory.mktemp("data")
    return {**os.environ, "NMT_DATA_DIR": str(data), "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="session")
def trained(env, tmp_path_factory) -> Path:
    """One tiny Transformer trained on the copy task (300 updates), shared by the tests of
    the tools that read a run."""
    from tests.runs import QUIET, TINY_DATA, TINY_TRANSFORMER, nmt_train

    run = tmp_path_factory.mktemp("runs") / "copy"
    nmt_train(
        env, run, *TINY_DATA, *TINY_TRANSFORMER, *QUIET,
        "train.max_steps=300", "train.eval_every=100", "train.lr=3e-3",
    )  # fmt: skip
    return run


@pytest.fixture(scope="session")
def exported(env, trained: Path, tmp_path_factory) -> Path:
    """:func:`trained`'s best.pt exported by ``nmt-export ct2`` (float32)."""
    import subprocess
    import sys

    pytest.importorskip("ctranslate2")
    out = tmp_path_factory.mktemp("ct2") / "model"
    cmd = [str(Path(sys.executable).parent / "nmt-export"), "ct2",
           str(trained / "checkpoints" / "best.pt"), str(out)]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "exported" in proc.stdout and "the run's test BLEU" in proc.stdout
    return out
