"""The prepared training split: the same ids and batches as the in-memory path, made once,
read pair by pair, refused when damaged; the streaming reader reads as read_lines does."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from nmt.data.config import DataConfig, TokenizerConfig
from nmt.data.prepare import prepare_data
from nmt.data.store import TokenStore
from nmt.data.stream import iter_lines, iter_parallel
from nmt.data.validate import read_lines
from nmt.errors import DataError
from nmt.runs.checkpoint import load_checkpoint
from tests.runs import BIN, QUIET, TINY_BAHDANAU, TINY_DATA, nmt_train


def quiet(*_a, **_k) -> None:
    pass


def test_multi30k_prepared_gives_the_in_memory_ids_and_batches(corpora_mirror, tmp_path):
    """Same tokenizer, same ids for every training pair, same batches for any seed, epoch
    and shard: results made before the store (and runs resumed across it) are unchanged."""
    common = {"root": str(tmp_path), "mirror": str(corpora_mirror)}
    memory = prepare_data(DataConfig(**common, prepared=False), log=quiet)
    prepared = prepare_data(DataConfig(**common), log=quiet)
    assert prepared.tokenizer.fingerprint == memory.tokenizer.fingerprint
    store, examples = prepared.encoded["train"], memory.encoded["train"]
    assert isinstance(store, TokenStore) and len(store) == len(examples) == 29000
    assert store.dtype == np.uint16  # an 8k vocabulary: two bytes an id
    for i in range(len(examples)):
        assert tuple(store[i]) == tuple(examples[i]) and store[i].idx == i
    for shards in (1, 2):
        for shard in range(shards):
            a, _ = memory.make_batches("train", shuffle=True, seed=3, num_shards=shards,
                                       shard_id=shard)  # fmt: skip
            b, _ = prepared.make_batches("train", shuffle=True, seed=3, num_shards=shards,
                                         shard_id=shard)  # fmt: skip
            for epoch in (0, 7):
                a.set_epoch(epoch)
                b.set_epoch(epoch)
                assert list(a) == list(b)
    assert prepared.reports["train"].kept == memory.reports["train"].kept == 29000
    # bytes on disk: two a token plus four a pair of index
    tokens = store.meta["src_tokens"] + store.meta["tgt_tokens"]
    assert store.disk_bytes() <= 2.5 * tokens
    assert sum(store.source_words().values()) == 29000


def files_config(tmp_path, **extra) -> DataConfig:
    corpus = tmp_path / "corpus"
    corpus.mkdir(exist_ok=True)
    words = ["ab", "cd", "ef", "gh", "ij", "kl"]
    lines = [f"{words[i % 6]} {words[(i * 5) % 6]}\t{words[(i * 3) % 6]}" for i in range(400)]
    (corpus / "train.tsv").write_text("\n".join(lines) + "\n")
    (corpus / "dev.tsv").write_text("ab cd\tef\n")
    return DataConfig(name="files", src="de", tgt="en", train=str(corpus / "train"),
                      valid=str(corpus / "dev"), test=str(corpus / "dev"), max_tokens=200,
                      root=str(tmp_path / "data"), tokenizer=TokenizerConfig(vocab_size=30),
                      **extra)  # fmt: skip


def test_a_second_start_reuses_the_store_and_a_changed_corpus_gets_a_new_one(tmp_path):
    logs: list[str] = []
    cfg = files_config(tmp_path)
    first = prepare_data(cfg, log=logs.append).encoded["train"]
    assert any("prepared 400 training pairs" in line for line in logs)
    logs.clear()
    again = prepare_data(cfg, log=logs.append).encoded["train"]
    assert again.folder == first.folder and any("reusing the prepared" in m for m in logs)
    other = prepare_data(files_config(tmp_path, max_len=3), log=quiet).encoded["train"]
    assert other.folder != first.folder  # another filter: another store
    train = tmp_path / "corpus" / "train.tsv"
    train.write_text(train.read_text() + "ab ab\tcd cd\n")
    changed = prepare_data(cfg, log=quiet).encoded["train"]
    assert changed.folder != first.folder and len(changed) == 401


def test_a_damaged_store_is_refused_in_one_line(tmp_path):
    store = prepare_data(files_config(tmp_path), log=quiet).encoded["train"]
    tgt = store.folder / "tgt.bin"
    tgt.write_bytes(tgt.read_bytes()[:-4])
    with pytest.raises(DataError, match="token file is shorter than its index; delete"):
        TokenStore(store.folder)[len(store) - 1]
    (store.folder / "meta.json").unlink()
    with pytest.raises(DataError, match="not a complete prepared split"):
        TokenStore(store.folder)


def test_data_loader_workers_read_the_store(tmp_path):
    data = prepare_data(files_config(tmp_path), log=quiet)
    sampler, collate = data.make_batches("train", shuffle=True, seed=1)
    store = data.encoded["train"]
    in_process = [collate([store[i] for i in b]).src for b in sampler]
    sampler.load_state_dict({"epoch": 0, "position": 0})  # the same epoch again
    loader = torch.utils.data.DataLoader(store, batch_sampler=sampler, collate_fn=collate,
                                         num_workers=2)  # fmt: skip
    assert all(torch.equal(a, b.src) for a, b in zip(in_process, loader, strict=True))


def test_the_prepared_and_in_memory_paths_train_to_the_same_weights_and_bleu(env, tmp_path):
    common = [*TINY_DATA, *TINY_BAHDANAU, *QUIET, "train.max_steps=12", "model.dropout=0.2"]
    nmt_train(env, tmp_path / "memory", *common, "data.prepared=false")
    nmt_train(env, tmp_path / "store", *common)
    a = load_checkpoint(tmp_path / "memory" / "checkpoints" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "store" / "checkpoints" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    bleu = [json.loads((tmp_path / r / "results.json").read_text())["test"]["test"]["bleu"]
            for r in ("memory", "store")]  # fmt: skip
    assert bleu[0] == bleu[1]


def test_nmt_data_prepare_makes_the_store_nmt_train_then_reads(env, tmp_path):
    data = ["data=synthetic", "data.synthetic.n_train=300", "data.tokenizer.vocab_size=24",
            "data.synthetic.vocab=8", f"data.root={tmp_path / 'data'}"]  # fmt: skip
    proc = subprocess.run([str(BIN / "nmt-data"), "prepare", *data], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "300 training pairs" in proc.stdout and "bytes a token with the index" in proc.stdout
    (store,) = (tmp_path / "data" / "prepared").glob("synthetic.*")
    run = nmt_train(env, tmp_path / "run", *data, *TINY_BAHDANAU, *QUIET, "train.max_steps=2")
    assert f"reusing the prepared train split {store}" in run.stdout + run.stderr
    bad = subprocess.run([str(BIN / "nmt-data"), "prepare", "data.nope=1"], env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert bad.returncode != 0 and "nope" in bad.stderr


def test_the_streaming_reader_reads_as_read_lines(tmp_path):
    raw = "\ufeffeins\r\nzwei\n\ndrei".encode()
    for name, data in (("a.txt", raw), ("a.txt.gz", gzip.compress(raw))):
        path = tmp_path / name
        path.write_bytes(data)
        assert list(iter_lines(path)) == read_lines(path) == ["eins", "zwei", "", "drei"]
    (tmp_path / "bad.txt").write_bytes(b"ok\nsch\xf6n\n")
    with pytest.raises(DataError, match=r"bad.txt: line 2 is not valid UTF-8"):
        list(iter_lines(tmp_path / "bad.txt"))
    (tmp_path / "b.txt").write_text("one\ntwo\nthree\n")
    with pytest.raises(DataError, match=r"a.txt has 4 lines, .*b.txt has 3"):
        list(iter_parallel([(tmp_path / "a.txt", tmp_path / "b.txt")]))
    with pytest.raises(DataError, match="file not found"):
        list(iter_lines(tmp_path / "missing.txt"))


def test_the_sampler_of_a_large_store_holds_arrays_not_lists():
    """Lengths, orders and batches of a million pairs: a few bytes a pair (not hundreds)."""
    code = (
        "import resource, numpy as np\n"
        "from nmt.data.sampler import TokenBatchSampler\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "rng = np.random.default_rng(0)\n"
        "lengths = rng.integers(1, 100, size=(1_000_000, 2)).astype(np.uint16)\n"
        "s = TokenBatchSampler(lengths, 8000, seed=1)\n"
        "s.set_epoch(1); n = sum(len(b) for b in s)\n"
        "grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before\n"
        "print(n, grew // 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, check=True).stdout.split()  # fmt: skip
    assert int(out[0]) == 1_000_000
    assert int(out[1]) < 150, f"{out[1]} MB for a million pairs"  # lists would take ~500 MB
