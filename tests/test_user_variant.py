"""A sixth variant from outside the package: its module (model, config, registry entry) and
its YAML, and nothing else, make it train, compare and serve like the five."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.runs import BIN, QUIET, TINY_DATA

#: a throwaway attention-free model: the mean of the source embeddings starts a GRU decoder
MODULE = '''
"""Bag of words: the decoder sees the mean of the source embeddings, nothing else."""
from dataclasses import dataclass

import torch
from torch import nn

from nmt.models.base import EncoderDecoder
from nmt.models.registry import Variant, register


@dataclass
class BagConfig:
    name: str = "bag"
    emb_dim: int = 16
    hidden_size: int = 32

    def method(self) -> list[str]:
        return ["mean of the source embeddings"]

    def sizes(self) -> str:
        return f"emb {self.emb_dim}, hidden {self.hidden_size}"


class Bag(EncoderDecoder):
    variant = "bag"
    source_state = ()

    def __init__(self, cfg: BagConfig, src_vocab: int, tgt_vocab: int) -> None:
        super().__init__()
        self.src_emb = nn.Embedding(src_vocab, cfg.emb_dim)
        self.tgt_emb = nn.Embedding(tgt_vocab, cfg.emb_dim)
        self.bridge = nn.Linear(cfg.emb_dim, cfg.hidden_size)
        self.cell = nn.GRUCell(cfg.emb_dim, cfg.hidden_size)
        self.out = nn.Linear(cfg.hidden_size, tgt_vocab)

    def encode(self, src, src_mask):
        emb = self.src_emb(src) * src_mask.unsqueeze(-1)  # (B, S, E)
        mean = emb.sum(1) / src_mask.sum(1, keepdim=True).clamp(min=1)  # (B, E)
        return {"h": torch.tanh(self.bridge(mean))}  # (B, H)

    def decode_step(self, prev_tokens, state):
        h = self.cell(self.tgt_emb(prev_tokens), state["h"])
        return self.out(h).float().log_softmax(-1), {"h": h}, None

    def forward(self, src, src_mask, tgt_in, *, need_attention=False):
        state, logits = self.encode(src, src_mask), []
        for t in range(tgt_in.size(1)):
            h = self.cell(self.tgt_emb(tgt_in[:, t]), state["h"])
            state = {"h": h}
            logits.append(self.out(h))
        return torch.stack(logits, 1), None  # (B, T, V)


register(Variant("bag", BagConfig, Bag, "bag of source embeddings, no attention",
                 schedule="constant", lr=3e-3, attention=False))
'''

YAML = """\
# the bag-of-words variant: its sizes
defaults:
  - bag_schema
  - _self_

name: bag
emb_dim: 16
hidden_size: 32
"""


@pytest.fixture
def user_env(env, tmp_path) -> tuple[dict[str, str], list[str]]:
    """The environment and overrides that add the variant: its module on PYTHONPATH and in
    $NMT_USER_MODULES, its YAML in a folder on Hydra's search path."""
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "nmt_bag.py").write_text(textwrap.dedent(MODULE))
    (tmp_path / "conf" / "model").mkdir(parents=True)
    (tmp_path / "conf" / "model" / "bag.yaml").write_text(YAML)
    path = os.pathsep.join(filter(None, [str(tmp_path / "plugins"), env.get("PYTHONPATH")]))
    user = {**env, "NMT_USER_MODULES": "nmt_bag", "PYTHONPATH": path}
    return user, [f"hydra.searchpath=[file://{tmp_path / 'conf'}]"]


def run(cmd: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, **kwargs)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_a_variant_from_outside_trains_compares_and_serves(user_env, tmp_path, trained):
    """Beside the session's tiny Transformer (``trained``: the same data and search)."""
    env, search = user_env
    listed = run([sys.executable, "-m", "nmt.models"], env).stdout.strip().split(",")
    assert listed[-1] == "bag" and len(listed) == 6
    bag = tmp_path / "runs" / "bag"
    run([str(BIN / "nmt-train"), f"hydra.run.dir={bag}", "model=bag", *search, *TINY_DATA,
         *QUIET, "train.max_steps=8", "train.eval_every=4"], env)  # fmt: skip
    results = json.loads((bag / "results.json").read_text())
    assert results["variant"] == "bag" and results["steps"] == 8
    assert results["model_config"] == {"name": "bag", "emb_dim": 16, "hidden_size": 32}
    config = (bag / "config.yaml").read_text()
    assert "scheduler: constant" in config and "lr: 0.003" in config  # its registry defaults
    out = tmp_path / "report"
    run([str(BIN / "nmt-compare"), str(bag), str(trained), "--out", str(out), "--sentences",
         "0"], env)  # fmt: skip
    report = (out / "report.md").read_text()
    assert "| bag (mean of the source embeddings) |" in report and "| transformer |" in report
    rows = (out / "results.csv").read_text().splitlines()
    assert any(r.startswith("bag (mean of the source embeddings),6709,max_steps,8,")
               for r in rows[1:]), rows  # fmt: skip
    served = run(
        [sys.executable, "-c", textwrap.dedent(f"""
            import json
            from fastapi.testclient import TestClient
            from nmt.serve.app import create_app
            from nmt.serve.models import load_models
            client = TestClient(create_app(load_models([{str(bag)!r}], "cpu")))
            models = client.get("/models").json()["models"]
            answer = client.post("/translate", json={{"text": "a b c"}}).json()
            print(json.dumps({{"models": models, "answer": answer}}))
        """)],
        env,
    )  # fmt: skip
    payload = json.loads(served.stdout.strip().splitlines()[-1])
    (model,) = payload["models"]
    assert model["id"] == "bag" and model["attention"] is None
    assert model["description"] == "bag of source embeddings, no attention"
    assert "bag" in json.dumps(payload["answer"])


def test_a_variant_whose_summary_breaks_the_contract_is_refused():
    from dataclasses import dataclass

    from nmt.errors import ConfigError
    from nmt.models.registry import VARIANTS, Variant, register

    @dataclass
    class Loose:
        name: str = "loose"

        def method(self) -> str:  # a str, not a list: reports would spell it letter by letter
            return "loose"

        def sizes(self) -> str:
            return ""

    class Model:
        variant = "loose"

    with pytest.raises(ConfigError, match="method\\(\\) must return a list of str"):
        register(Variant("loose", Loose, Model, "x", schedule="constant", lr=1e-3,
                         attention=False))  # fmt: skip
    assert "loose" not in VARIANTS


def test_a_user_module_that_fails_to_import_is_named_in_one_line(env):
    bad = {**env, "NMT_USER_MODULES": "no_such_nmt_plugin"}
    proc = subprocess.run([sys.executable, "-m", "nmt.models"], env=bad, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert proc.returncode != 0 and "no_such_nmt_plugin" in proc.stderr
    assert "NMT_USER_MODULES" in proc.stderr
