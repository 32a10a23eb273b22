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
