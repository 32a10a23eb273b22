"""``nmt-export ct2``: a Transformer checkpoint as a CTranslate2 model that translates as the
PyTorch search does (identical greedy outputs), wherever a checkpoint is accepted."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.runs import BIN, QUIET, TINY_DATA, nmt_train
from tests.tiny import TINY_MODELS

pytest.importorskip("ctranslate2")

SOURCES = [
    "a b c", "h g f e d", "c", "a a b b c c", "e f g h a b", "d e", "b a", "g g g",
    "a b c d e f", "h", "f e", "c d c d", "", "b c d e f g",
]  # fmt: skip


def run_cli(env, tool: str, *args: str | Path, timeout: int = 300):
    return subprocess.run([str(BIN / tool), *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


def test_the_export_holds_the_model_its_tokenizer_and_a_manifest(exported: Path, trained: Path):
    import hashlib

    assert (exported / "model.bin").is_file() and (exported / "joint.model").is_file()
    manifest = json.loads((exported / "nmt_export.json").read_text())
    best = trained / "checkpoints" / "best.pt"
    assert manifest["checkpoint_sha256"] == hashlib.sha256(best.read_bytes()).hexdigest()
    assert (
        manifest["quantization"] == "float32" and manifest["model_config"]["name"] == "transformer"
    )
    results = json.loads((trained / "results.json").read_text())
    assert manifest["test"]["bleu"] == results["test"]["test"]["bleu"]


def test_greedy_and_beam_outputs_are_the_pytorch_searchs(exported: Path, trained: Path):
    """float32: every greedy output identical (the CI check of faithfulness), and every beam
    search's n best too, ranked by GNMT's length penalty with the PyTorch search's scores."""
    from nmt.export.load import load_translator
    from nmt.system.device import cpu_bf16_units

    torch_tr = load_translator(trained / "checkpoints" / "best.pt")
    ct2_tr = load_translator(exported, threads=1)
    assert ct2_tr.engine == "ct2"
    greedy = torch_tr.decoding.replace(beam=1)
    want = torch_tr.translate_text(SOURCES, decoding=greedy)
    assert ct2_tr.translate_text(SOURCES, decoding=greedy) == want
    assert want[12] == "" and any(want)
    # the output limit a * source + b is the PyTorch search's: a tight one cuts alike
    tight = greedy.replace(max_len_a=0.0, max_len_b=3)
    cut = ct2_tr.translate_text(SOURCES, decoding=tight)
    assert cut == torch_tr.translate_text(SOURCES, decoding=tight)
    assert all(len(c.split()) <= 2 for c in cut)
    # a limit a * source + b with a decimal a, computed in float32 as the search does
    odd = greedy.replace(max_len_a=0.7, max_len_b=1)
    assert ct2_tr.translate_text(SOURCES, decoding=odd) == torch_tr.translate_text(
        SOURCES, decoding=odd
    )
    # both encode alike (EOS appended), and an input of no piece is an empty translation
    assert ct2_tr.encode(["a b"]) == torch_tr.encode(["a b"])
    beam = torch_tr.decoding.replace(beam=3, length_penalty=1.0)
    for alpha in (1.0, 0.6, 0.0):
        beam = beam.replace(length_penalty=alpha)
        want_n = torch_tr.translate(SOURCES, decoding=beam, nbest=3)
        got_n = ct2_tr.translate(SOURCES, decoding=beam, nbest=3)
        for src, want, got in zip(SOURCES, want_n, got_n, strict=True):
            assert got[0].tokens == want[0].tokens, (alpha, src)
            assert got[0].score == pytest.approx(want[0].score, abs=1e-4), (alpha, src)
            same = [h.tokens for h in got] == [h.tokens for h in want] and [
                h.score for h in got
            ] == pytest.approx([h.score for h in want], abs=1e-4)
            if not same and "AMX" in cpu_bf16_units():
                # known, open: on an Intel Xeon with AMX the two engines' n-best lists part
                # below the best (rank 3: -2.8744 against -2.8727 at alpha 1.0); they agree
                # on an AMD EPYC, and the best and every greedy output agree on both
                pytest.xfail(f"n-best below the best differs on this AMX CPU ({alpha}, {src})")
            assert same, (alpha, src, [(h.tokens, h.score) for h in got], want)
    assert len(got_n[0]) == 3 and got_n[0][0].score >= got_n[0][1].score >= got_n[0][2].score


def test_translate_evaluate_and_compute_types_take_the_export(env, exported: Path, trained):
    best = trained / "checkpoints" / "best.pt"
    a = run_cli(env, "nmt-translate", best, "--beam", "1", "--threads", "1", *SOURCES[:4])
    b = run_cli(env, "nmt-translate", exported, "--beam", "1", "--threads", "1", *SOURCES[:4])
    assert a.returncode == 0 and b.returncode == 0, a.stderr[-2000:] + b.stderr[-2000:]
    assert a.stdout == b.stdout and a.stdout.strip()
    # --engine ct2 exports a checkpoint on the fly; int8 computes and translates
    c = run_cli(env, "nmt-translate", best, "--engine", "ct2", "--compute-type", "int8",
                "--beam", "1", *SOURCES[:4])  # fmt: skip
    assert c.returncode == 0, c.stderr[-2000:]
    assert len(c.stdout.splitlines()) == 4
    # a CTranslate2 setting on the PyTorch search, or an export on it, is one line
    bad = run_cli(env, "nmt-translate", best, "--compute-type", "int8", "a")
    assert "--compute-type int8: a CTranslate2 setting; add --engine ct2" in bad.stderr
    bad = run_cli(env, "nmt-translate", exported, "--engine", "torch", "a")
    assert "translates with --engine ct2" in bad.stderr
    ev = run_cli(env, "nmt-evaluate", exported, "--beam", "1", "--bootstrap", "0")
    assert ev.returncode == 0, ev.stderr[-2000:]
    report = next((exported / "eval").glob("*.ct2-float32.beam1.json"))
    scores = json.loads(report.read_text())
    torch_ev = run_cli(env, "nmt-evaluate", best, "--beam", "1", "--bootstrap", "0",
                       "--out", exported.parent / "torch.json")  # fmt: skip
    assert torch_ev.returncode == 0, torch_ev.stderr[-2000:]
    assert scores["bleu"] == json.loads((exported.parent / "torch.json").read_text())["bleu"]
    assert scores["decode"]["precision"] == "ct2 float32"


def test_what_ctranslate2_cannot_express_is_refused_in_one_line(env, tmp_path, exported, trained):
    pooled = tmp_path / "pooled"
    nmt_train(env, pooled, *TINY_DATA, *TINY_MODELS["transformer_pooled"], *QUIET,
              "train.max_steps=5", "train.eval_every=5", "data.synthetic.n_test=4")  # fmt: skip
    proc = run_cli(env, "nmt-export", "ct2", pooled / "checkpoints" / "best.pt", tmp_path / "x")
    assert proc.returncode == 2
    assert "a transformer_pooled model cannot be exported to CTranslate2" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "x").exists()
    again = run_cli(env, "nmt-export", "ct2", trained / "checkpoints" / "best.pt", exported)
    assert again.returncode == 2 and "exists and is not empty" in again.stderr
    # --force replaces an earlier export, never another folder (a run directory, say)
    other = run_cli(env, "nmt-export", "ct2", trained / "checkpoints" / "best.pt", trained,
                    "--force")  # fmt: skip
    assert other.returncode == 2 and "replaces an earlier export only" in other.stderr
    assert (trained / "checkpoints" / "best.pt").is_file()
    quant = run_cli(env, "nmt-export", "ct2", trained / "checkpoints" / "best.pt",
                    tmp_path / "q", "--quantization", "int8")  # fmt: skip
    assert quant.returncode == 0, quant.stderr[-2000:]
    assert (tmp_path / "q" / "model.bin").stat().st_size < (exported / "model.bin").stat().st_size


def test_nmt_serve_serves_an_export_with_its_one_attention_map(exported: Path, trained: Path):
    from fastapi.testclient import TestClient

    from nmt.serve.app import Limits, create_app
    from nmt.serve.models import load_models

    models = load_models([str(exported), str(trained)], "cpu", threads=1)
    client = TestClient(create_app(models, Limits(max_sentences=4, max_chars=50)))
    listed = {m["id"]: m for m in client.get("/models").json()["models"]}
    assert listed["transformer"]["engine"] == "ct2" and listed["transformer-2"]["engine"] == "torch"
    assert listed["transformer"]["attention"] == {"layers": 1, "heads": 1}
    assert listed["transformer"]["bleu"] == listed["transformer-2"]["bleu"]
    r = client.post("/translate", json={"text": "a b c", "attention": True, "beam": 1})
    assert r.status_code == 200, r.text
    out = {x["model"]: x["translations"][0] for x in r.json()["results"]}
    assert out["transformer"]["text"] == out["transformer-2"]["text"]
    att = out["transformer"]["attention"]
    assert len(att["weights"]) == 1 and len(att["weights"][0]) == 1
    assert len(att["weights"][0][0]) == len(att["target"])
    assert all(len(row) == len(att["source"]) for row in att["weights"][0][0])


def test_bench_engines_sets_both_engines_side_by_side(env, trained: Path, tmp_path):
    """The benchmark script on a tiny model: every configuration in its own process, its
    outputs compared with the PyTorch fp32 search's, its table a section of BENCHMARK.md."""
    import sys

    src = tmp_path / "src.txt"
    src.write_text("".join(s + "\n" for s in SOURCES if s))
    bench = tmp_path / "BENCHMARK.md"
    bench.write_text(
        "# Benchmark\n\nthe training table\n\n## Translation engines side by side\n\nold\n"
    )
    script = Path(__file__).resolve().parents[1] / "scripts" / "bench_engines.py"
    proc = subprocess.run(
        [sys.executable, str(script), str(trained / "checkpoints" / "best.pt"), "--src", str(src),
         "--ref", str(src), "--sentences", "8", "--threads", "1", "--repeats", "2",
         "--configs", "torch:fp32,ct2:float32,ct2:float32+vmap,torch:fp32+vmap",
         "--out", str(tmp_path / "e.json"),
         "--markdown", str(bench)],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "e.json").read_text())
    rows = {(r["engine"], r["precision"]): r for r in result["rows"]}
    assert set(rows) == {("torch", "fp32"), ("ct2", "float32"), ("ct2", "float32+vmap"),
                         ("torch", "fp32+vmap")}  # fmt: skip
    assert rows["torch", "fp32+vmap"]["greedy"]["identical_to_torch_fp32"] == 1.0  # all kept
    ct2 = rows["ct2", "float32"]
    assert rows["ct2", "float32+vmap"]["beam5"]["sent_per_s"] > 0
    assert len(ct2["beam5"]["seconds_each"]) == 2 and result["repeats"] == 2
    assert result["vocab_map"]["pairs"] == 1500
    assert ct2["greedy"]["identical_to_torch_fp32"] == 1.0 and ct2["greedy"]["sent_per_s"] > 0
    assert ct2["peak_rss_mb"] > 0 and result["environment"]["cpu"]
    text = bench.read_text()
    assert text.startswith("# Benchmark\n\nthe training table\n") and "old" not in text
    assert text.count("## Translation engines side by side") == 1 and "| ct2 | float32 |" in text
    assert "| ct2 | float32+vmap |" in text
    assert "+vmap: a vocabulary map" in text


def test_bench_configs_name_their_options_and_refuse_others():
    from nmt.bench.engines import options

    assert options("ct2", "int8+vmap+workers=2") == {
        "engine": "ct2", "compute_type": "int8", "vocab_map": "auto", "workers": 2}  # fmt: skip
    assert options("torch", "bf16+vmap", "m.txt") == {
        "engine": "torch", "precision": "bf16", "vocab_map": "m.txt"}  # fmt: skip
    assert options("torch", "fp32")["vocab_map"] == "off"
    bad_ones = (("ct2", "int8+workers=0"), ("ct2", "int8+fast"), ("torch", "fp32+workers=2"))
    for engine, bad in bad_ones:
        with pytest.raises(SystemExit, match="--configs"):
            options(engine, bad)


def test_ctranslate2_workers_share_the_threads(exported: Path):
    from nmt.errors import CheckpointError
    from nmt.export.engine import CT2Translator

    two = CT2Translator(exported, threads=2, workers=2)
    assert two.translate_text(SOURCES[:3]) == CT2Translator(exported, threads=1).translate_text(
        SOURCES[:3]
    )
    with pytest.raises(CheckpointError, match="workers=3: from 1 to the threads"):
        CT2Translator(exported, threads=2, workers=3)


def test_profile_decode_splits_the_search_into_phases(env, trained: Path, tmp_path):
    """Where the PyTorch search's time goes, one sentence a batch and a full buffer: every
    phase's share, the steps, the top operators."""
    import sys

    src = tmp_path / "src.txt"
    src.write_text("".join(s + "\n" for s in SOURCES if s))
    script = Path(__file__).resolve().parents[1] / "scripts" / "profile_decode.py"
    proc = subprocess.run(
        [sys.executable, str(script), str(trained / "checkpoints" / "best.pt"), "--src",
         str(src), "--sentences", "6", "--threads", "1", "--out", str(tmp_path / "p.json")],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "p.json").read_text())
    one, full = result["modes"]
    assert one["name"] == "one sentence" and full["name"] == "full buffer"
    assert one["decoder_steps"] > full["decoder_steps"] > 0  # a batch a sentence: more steps
    for mode in (one, full):
        phases = mode["phases_seconds"]
        assert all(v >= 0 for v in phases.values()) and phases["decoder layers"] > 0
        assert sum(phases.values()) == pytest.approx(mode["seconds"], rel=1e-6)
        assert mode["top_ops"] and mode["top_ops"][0]["self_cpu_ms"] > 0
    assert "| one sentence |" in proc.stdout and "| full buffer |" in proc.stdout


def test_a_vocabulary_map_limits_what_ctranslate2_scores(env, trained: Path, tmp_path):
    """``--vocab-map`` writes a map of the training corpus that the search then uses; with a
    map of one candidate every output is that piece, and ``vocab_map=False`` (the CLI's
    ``--vocab-map off``) scores the whole vocabulary again."""
    from nmt import BOS_ID, UNK_ID
    from nmt.export.load import load_translator

    best = trained / "checkpoints" / "best.pt"
    out = tmp_path / "vmap"
    proc = run_cli(env, "nmt-export", "ct2", best, out, "--vocab-map",
                   "--vocab-map-candidates", "5")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "vocabulary map:" in proc.stdout
    summary = json.loads((out / "nmt_export.json").read_text())["vocab_map"]
    assert summary["pairs"] == 1500 and summary["per_source"] == 5
    lines = (out / "vmap.txt").read_text().splitlines()
    assert lines[0].startswith("\t") and len(lines) > 1
    assert all(len(line.split("\t")[1].split()) <= 6 for line in lines[1:])  # 5 + itself
    torch_tr = load_translator(best)
    greedy = torch_tr.decoding.replace(beam=1)
    want = torch_tr.translate_text(SOURCES, decoding=greedy)
    # the copy task's map holds each piece's copy: the same outputs
    mapped = load_translator(out, threads=1)
    assert mapped.use_vmap and mapped.precision == "ct2 float32 + vocab map"
    assert mapped.translate_text(SOURCES, decoding=greedy) == want
    # one candidate (besides the special pieces CTranslate2 always keeps): only it comes out
    piece = torch_tr.tokenizer.tgt_pieces(torch_tr.tokenizer.encode_tgt("a"))[-1]
    (out / "vmap.txt").write_text(f"\t{piece}\n", encoding="utf-8")
    narrow = load_translator(out, threads=1)
    outputs = narrow.translate(SOURCES, decoding=greedy)
    assert any(o[0].tokens for o in outputs)
    kept = set(torch_tr.tokenizer.encode_tgt("a")) | {UNK_ID, BOS_ID}
    assert {t for o in outputs for t in o[0].tokens} <= kept
    whole = load_translator(out, threads=1, vocab_map=False)
    assert not whole.use_vmap and whole.translate_text(SOURCES, decoding=greedy) == want
    cli = run_cli(env, "nmt-translate", out, "--beam", "1", "--threads", "1",
                  "--vocab-map", "off", *SOURCES[:4])  # fmt: skip
    assert cli.returncode == 0 and cli.stdout.splitlines() == want[:4], cli.stderr[-2000:]
    # the same map as a file, for the PyTorch search; an export reads only its own
    made = run_cli(env, "nmt-export", "vmap", best, tmp_path / "map.txt")
    assert made.returncode == 0 and "vocabulary map:" in made.stdout, made.stderr[-2000:]
    cli = run_cli(env, "nmt-translate", best, "--beam", "1", "--threads", "1",
                  "--vocab-map", tmp_path / "map.txt", *SOURCES[:4])  # fmt: skip
    assert cli.returncode == 0 and cli.stdout.splitlines() == want[:4], cli.stderr[-2000:]
    bad = run_cli(env, "nmt-translate", out, "--vocab-map", tmp_path / "map.txt", "a")
    assert "CTranslate2 reads the map inside its export folder" in bad.stderr
    two = run_cli(env, "nmt-translate", out, "--beam", "1", "--threads", "2", "--workers", "2",
                  "--vocab-map", "off", *SOURCES[:4])  # fmt: skip
    assert two.returncode == 0 and two.stdout.splitlines() == want[:4], two.stderr[-2000:]
    bad = run_cli(env, "nmt-translate", best, "--workers", "2", "a")
    assert "--workers 2: a CTranslate2 setting" in bad.stderr
    bad = run_cli(env, "nmt-translate", best, "--vocab-map", "on", "a")
    assert "--vocab-map on: give auto, off or a map file" in bad.stderr
