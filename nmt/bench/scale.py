"""A corpus of WMT14's size on this machine: preparation, memory, speed and start-up.

    python scripts/bench_scale.py --out docs/results/scale/scale.json   (make bench-scale)

1. **The corpus.** ``--pairs`` (4.5M, WMT14 en-de's size) German-English pairs, each one
   to three pairs drawn at random (seeded) from the mirrored Multi30k and WMT news
   training sets and joined, so lengths spread as in news text (~25 words a side), written
   as plain files (``data=files``); validation and test are Multi30k's.
2. **Preparation** with ``nmt-data prepare``: wall time, pairs/s, bytes a token on disk
   (ids and index).
3. **Peak resident memory** (every process of the run, sampled from /proc) of the default
   Transformer training ``--updates`` updates on the large corpus and on Multi30k, and of
   two DDP ranks (torchrun, gloo) on the large corpus: a store read pair by pair keeps
   it flat.
4. **Training speed** from the prepared files against the in-memory path
   (``data.prepared=false``) on Multi30k, alternating, side by side.
5. **Start-up**: seconds from the process's start to its first update (train.log).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from nmt.data.config import DataConfig
from nmt.data.text import read_text
from nmt.runs.run_dir import RunDir
from nmt.system.device import cpu_description

BIN = Path(sys.executable).parent
SMALL = 29_000  # pairs of the small corpus of the same length spread (Multi30k's size)


def make_corpus(folder: Path, pairs: int, seed: int, mirror: str | None) -> dict[str, Any]:
    """Write ``big.de`` / ``big.en`` (and Multi30k's valid/test as ``valid.*`` / ``test.*``);
    a corpus made before with the same settings (``corpus.json``) is kept."""
    record = folder / "corpus.json"
    if record.is_file():
        made = json.loads(record.read_text())
        if (made["pairs"], made["seed"]) == (pairs, seed) and (folder / "small.de").is_file():
            return made
    folder.mkdir(parents=True, exist_ok=True)
    quiet = lambda *a, **k: None  # noqa: E731
    pool_de: list[str] = []
    pool_en: list[str] = []
    for name, valid, test in (("multi30k", "val", "test_2016_flickr"),
                              ("wmt_news", "newstest2013", "newstest2014")):  # fmt: skip
        cfg = DataConfig(name=name, src="de", tgt="en", valid=valid, test=test,
                         root=str(folder / "downloads"), mirror=mirror)  # fmt: skip
        texts = read_text(cfg, quiet)[0]
        pool_de += texts["train"].src
        pool_en += texts["train"].tgt
        if name == "multi30k":
            for role in ("valid", "test"):
                for lang, lines in (("de", texts[role].src), ("en", texts[role].tgt)):
                    (folder / f"{role}.{lang}").write_text("\n".join(lines) + "\n")
    rng = random.Random(seed)
    n = len(pool_de)
    words = 0
    start = time.perf_counter()
    with (folder / "big.de").open("w") as fd, (folder / "big.en").open("w") as fe:
        for _ in range(pairs):
            picks = [rng.randrange(n) for _ in range(rng.randint(1, 3))]
            de = " ".join(pool_de[i] for i in picks)
            fd.write(de + "\n")
            fe.write(" ".join(pool_en[i] for i in picks) + "\n")
            words += len(de.split())
    for lang in ("de", "en"):  # the first 29,000 pairs: Multi30k's size, this length spread
        with (folder / f"big.{lang}").open() as f, (folder / f"small.{lang}").open("w") as out:
            out.writelines(itertools.islice(f, SMALL))
    made = {"pairs": pairs, "pool_pairs": n, "seed": seed, "src_words_mean": words / pairs,
            "bytes": sum((folder / f"big.{x}").stat().st_size for x in ("de", "en")),
            "seconds": round(time.perf_counter() - start, 1)}  # fmt: skip
    record.write_text(json.dumps(made) + "\n")
    return made


def _tree_rss_mb(pid: int) -> list[float]:
    """Resident MB of ``pid`` and of every process below it."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            kids = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        rss = re.search(r"VmRSS:\s+(\d+)", status)
        if rss:
            out.append(int(rss.group(1)) / 1024)
        todo += [int(k) for k in kids]
    return out


def run(cmd: list[str], log: Path, interval: float = 0.5) -> dict[str, Any]:
    """Run ``cmd``; the peak RSS of its largest process and of all its processes together."""
    print("+", shlex.join(cmd), file=sys.stderr)
    start = time.monotonic()
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        largest = total = 0.0
        while proc.poll() is None:
            rss = _tree_rss_mb(proc.pid)
            largest, total = max([largest, *rss]), max(total, sum(rss))
            time.sleep(interval)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {shlex.join(cmd)}\n"
                         f"{log.read_text(errors='replace')[-3000:]}")  # fmt: skip
    return {"command": shlex.join(cmd), "seconds": round(time.monotonic() - start, 1),
            "peak_rss_mb": round(largest, 1), "peak_rss_all_mb": round(total, 1)}  # fmt: skip


def train(run_dir: Path, overrides: list[str], ranks: int = 1) -> dict[str, Any]:
    head = [str(BIN / "nmt-train")]
    if ranks > 1:
        head = [str(BIN / "torchrun"), f"--nproc_per_node={ranks}", "-m", "nmt.cli.train"]
    result = run([*head, f"hydra.run.dir={run_dir}", *overrides], run_dir.with_suffix(".log"))
    results = RunDir(run_dir).read_results()
    text = RunDir(run_dir).log_path.read_text(errors="replace")
    first = re.findall(r"first update ([0-9.]+) s after the process started", text)
    return {**result, "tokens_per_s": results["train_tgt_tokens_per_s"],
            "train_seconds": results["train_seconds"],
            "steps": results["steps"], "first_update_s": float(first[0]) if first else None,
            "device": results["device"]}  # fmt: skip


def data_path(root: Path, epochs: int = 2) -> dict[str, Any]:
    """The data path alone, in this process: every training batch of ``epochs`` epochs of
    Multi30k built (ids read, padded into tensors) from the prepared store and from the
    in-memory lists, alternating, in ms a batch."""
    from nmt.data.prepare import prepare_data

    out: dict[str, list[float]] = {"prepared": [], "memory": []}
    quiet = lambda *a, **k: None  # noqa: E731
    data = {
        key: prepare_data(DataConfig(root=str(root), prepared=key == "prepared"), log=quiet)
        for key in out
    }
    for epoch in range(epochs):
        for key in out:
            d = data[key]
            sampler, collate = d.make_batches("train", shuffle=True, seed=1)
            sampler.set_epoch(epoch)
            examples = d.encoded["train"]
            start, n = time.perf_counter(), 0
            for indices in sampler:
                collate([examples[i] for i in indices])
                n += 1
            out[key].append(round(1000 * (time.perf_counter() - start) / n, 3))
    return {"ms_per_batch": out, "batches": n}


def report(r: dict[str, Any]) -> str:
    """README.md: the figures of ``r`` (the JSON) in words and tables."""
    c, prep, mem = r["corpus"], r["prepare"], r["memory"]
    large, small, m30k, ddp = mem["large"], mem["small"], mem["multi30k"], mem["large_ddp2"]
    speed = r["speed"]
    ddp_row = (
        f"| {c['pairs']:,} pairs, 2 DDP ranks (gloo) | {ddp['peak_rss_mb']:,.0f} a rank "
        f"({ddp['peak_rss_all_mb']:,.0f}) | {ddp['first_update_s']} |"
    )
    rows = "\n".join(
        f"| {'prepared' if x['prepared'] else 'in memory'} | {x['tokens_per_s']:,.0f} | "
        f"{x['first_update_s']} |"
        for x in speed
    )
    return f"""# A corpus of WMT14's size on this machine

`{r["command"]}` ({r["cpu"]}, {r["cores"]} cores; :mod:`nmt.bench.scale` says how each
figure is measured; every number below is in `scale.json`).

**The corpus**: {c["pairs"]:,} German-English pairs, each 1-3 pairs drawn (seed
{c["seed"]}) from the {c["pool_pairs"]:,} mirrored Multi30k and WMT news training pairs and
joined: {c["src_words_mean"]:.1f} German words a pair on average, {c["bytes"] / 1e9:.2f} GB
of text.

**Preparation** (`nmt-data prepare`, SentencePiece unigram of {prep["vocab"]:,} pieces trained on
a sample of at most 1M sentences, then every pair tokenized on both cores):
{prep["seconds"] / 60:.1f} min for {prep["pairs"]:,} pairs ({prep["pairs_per_s"]:,} pairs/s over
the whole command, tokenizer training included); {prep["tokens"]:,} tokens in
{prep["disk_bytes"] / 1e6:,.0f} MB on disk: **{prep["bytes_per_token"]:.2f} bytes a token**,
index included (goal: at most 2.5). The same command again opens the prepared split
instead: {prep["again_seconds"]:.1f} s (valid and test are read and encoded anew).

**Peak resident memory** of the default Transformer, {large["steps"]} updates (largest
process; every process together in brackets):

| corpus | peak RSS (MB) | first update after start (s) |
| --- | ---: | ---: |
| {c["pairs"]:,} pairs, prepared | {large["peak_rss_mb"]:,.0f} | {large["first_update_s"]} |
| its first 29,000 pairs, prepared | {small["peak_rss_mb"]:,.0f} | {small["first_update_s"]} |
| Multi30k (29,000 shorter pairs) | {m30k["peak_rss_mb"]:,.0f} | {m30k["first_update_s"]} |
{ddp_row}

Large over its first 29,000 pairs (the same length spread, 155 times fewer pairs):
**{mem["large_over_small"]:.3f}** (goal: within 10%). Over Multi30k, whose captions are
half as long (so its batches hold shorter, more numerous sentences and smaller attention
maps): {mem["large_over_multi30k"]:.3f}.

**Training speed** on Multi30k from the prepared files and from memory
(`data.prepared=false`), alternating, {speed[0]["steps"]} updates each:

| path | target tokens/s | first update after start (s) |
| --- | ---: | ---: |
{rows}

Prepared over in memory: **{r["speed_prepared_over_memory"]:.3f}** (goal: no slower).
{data_path_text(r)}"""


def data_path_text(r: dict[str, Any]) -> str:
    """The data path's own cost beside a training step's, when measured."""
    d = r.get("data_path")
    if d is None:
        return ""
    ms = d["ms_per_batch"]
    step_ms = [1000 * x["train_seconds"] / x["steps"] for x in r["speed"] if "train_seconds" in x]
    step = f"; a training step took {min(step_ms):,.0f}-{max(step_ms):,.0f} ms" if step_ms else ""
    return f"""
The two paths differ only in where a batch's ids come from, and end-to-end speeds on
this shared machine vary by more than that between repeats of one path. The data path
alone (`{d["command"]}`: every batch of {d["epochs"]} Multi30k epochs built in one process,
alternating): {", ".join(f"{v:.2f}" for v in ms["prepared"])} ms a batch from the prepared
store, {", ".join(f"{v:.2f}" for v in ms["memory"])} ms from memory ({d["batches"]:,} batches
an epoch{step}).
"""


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="docs/results/scale/scale.json")
    p.add_argument("--work", default="runs/bench_scale", help="corpus, data and runs (large)")
    p.add_argument("--pairs", type=int, default=4_500_000)
    p.add_argument("--updates", type=int, default=30, help="updates of each memory run")
    p.add_argument("--speed-updates", type=int, default=100, help="updates of each speed run")
    p.add_argument("--vocab", type=int, default=8000)
    p.add_argument("--data-path-only", action="store_true",
                   help="add the data path cost to the --out JSON and README")  # fmt: skip
    args = p.parse_args(argv)
    if args.data_path_only:
        result = json.loads(Path(args.out).read_text())
        for x in result["speed"]:  # the step time of each speed run, from its results.json
            run_dir = re.search(r"hydra\.run\.dir=(\S+)", x["command"]).group(1)
            x.setdefault("train_seconds", RunDir(run_dir).read_results()["train_seconds"])
        epochs = 2
        result["data_path"] = {**data_path(Path(args.work) / "data", epochs), "epochs": epochs,
                               "command": shlex.join(["python", "scripts/bench_scale.py",
                                                      *sys.argv[1:]])}  # fmt: skip
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
        (Path(args.out).parent / "README.md").write_text(report(result))
        print(json.dumps(result["data_path"], indent=1))
        return
    work, mirror = Path(args.work), os.environ.get("NMT_DATA_MIRROR")
    corpus = work / "corpus"
    result: dict[str, Any] = {"cpu": cpu_description(), "cores": os.cpu_count()}
    result["corpus"] = make_corpus(corpus, args.pairs, 1, mirror)
    data = ["data=files", "data.src=de", "data.tgt=en", f"data.train={corpus / 'big'}",
            f"data.valid={corpus / 'valid'}", f"data.test={corpus / 'test'}",
            f"data.root={work / 'data'}", f"data.tokenizer.vocab_size={args.vocab}",
            "data.max_len=200", "data.max_tokens=4096"]  # fmt: skip
    for made in ("data", "runs"):  # measured from nothing: the tokenizer too
        shutil.rmtree(work / made, ignore_errors=True)
    prep = run([str(BIN / "nmt-data"), "prepare", *data], work / "prepare.log")
    again = run([str(BIN / "nmt-data"), "prepare", *data], work / "prepare_again.log")
    (store,) = (work / "data" / "prepared").glob("files.*")
    meta = json.loads((store / "meta.json").read_text())
    disk = sum((store / n).stat().st_size for n in ("src.bin", "tgt.bin", "lengths.npy"))
    tokens = meta["src_tokens"] + meta["tgt_tokens"]
    result["prepare"] = {**prep, "pairs": meta["pairs"], "tokens": tokens,
                         "pairs_per_s": round(meta["pairs"] / prep["seconds"]),
                         "disk_bytes": disk, "bytes_per_token": round(disk / tokens, 3),
                         "report": meta["report"], "vocab": args.vocab,
                         "again_seconds": again["seconds"]}  # fmt: skip
    quick = [f"train.max_steps={args.updates}", "decode.beam=1", "data.extra_tests=[]",
             "train.eval_max_sentences=100", "train.log_every=10"]  # fmt: skip
    m30k = [f"data.root={work / 'data'}", "data.extra_tests=[]"]
    runs = work / "runs"
    small_data = [x.replace(str(corpus / "big"), str(corpus / "small")) for x in data]
    result["memory"] = {
        "large": train(runs / "large", [*data, *quick]),
        "small": train(runs / "small", [*small_data, *quick]),
        "multi30k": train(runs / "multi30k", [*m30k, *quick]),
        "large_ddp2": train(runs / "large_ddp2", [*data, *quick], ranks=2),
    }
    mem = result["memory"]
    for other in ("small", "multi30k"):
        ratio = mem["large"]["peak_rss_mb"] / mem[other]["peak_rss_mb"]
        mem[f"large_over_{other}"] = round(ratio, 3)
    speed = [f"train.max_steps={args.speed_updates}", *quick[1:], "train.threads=2"]
    pairs = []
    for k in range(2):  # alternating: prepared, in memory, prepared, in memory
        for prepared in ("true", "false"):
            overrides = [*m30k, *speed, f"data.prepared={prepared}"]
            r = train(runs / f"speed_{prepared}_{k}", overrides)
            pairs.append({"prepared": prepared == "true", **r})
    result["speed"] = pairs
    mean = {flag: sum(r["tokens_per_s"] for r in pairs if r["prepared"] is flag) / 2
            for flag in (True, False)}  # fmt: skip
    result["speed_prepared_over_memory"] = round(mean[True] / mean[False], 3)
    result["command"] = shlex.join(["python", "scripts/bench_scale.py", *sys.argv[1:]])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    (Path(args.out).parent / "README.md").write_text(report(result))
    print(json.dumps({k: result[k] for k in ("prepare", "speed_prepared_over_memory")}, indent=1))


if __name__ == "__main__":
    main()
