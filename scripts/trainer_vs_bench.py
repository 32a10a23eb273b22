"""Is ``nmt-train``'s update slower than ``scripts/bench.py``'s step on the same batches?

In one process, on the default Transformer recipe (or the Hydra overrides given), three
copies of the model train in rotating order, windows of ``W`` updates each:

- ``trainer``: the Trainer's own loop body (lazy collation from its sampler, its update,
  its stop check, its progress advance) on its own model;
- ``update``: a second Trainer's update alone, on batches collated up front;
- ``bench``: ``scripts/bench.py``'s training step (a third model) on the same batches.

The batches are the trainer's first epoch in its own shuffled order (seed 1, as the
benchmark draws them). Prints each window's target tokens/s and each side's median, min
and max. Name the CPU beside the figures.

    python scripts/trainer_vs_bench.py 6 10            # 6 timed windows of 10 updates
    python scripts/trainer_vs_bench.py 6 10 model=bahdanau
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from tqdm import tqdm  # noqa: E402

from nmt.data.prepare import prepare_data  # noqa: E402
from nmt.models import build_model  # noqa: E402
from nmt.system.allocator import allocator_name, preload_allocator  # noqa: E402
from nmt.system.distributed import DistInfo  # noqa: E402
from nmt.training.build import make_optimizer  # noqa: E402
from nmt.training.config import register_configs  # noqa: E402
from nmt.training.state import StopFlag  # noqa: E402
from nmt.training.trainer import Meter, Trainer  # noqa: E402
from scripts.bench import nmt_loss, training_batches, training_step  # noqa: E402


def main(argv: list[str]) -> None:
    if len(argv) < 2 or not (argv[0].isdigit() and argv[1].isdigit()):
        sys.exit("usage: python scripts/trainer_vs_bench.py WINDOWS W [hydra overrides ...]")
    preload_allocator()
    windows, w_steps = int(argv[0]), int(argv[1])
    register_configs()
    with initialize_config_dir(config_dir=str(ROOT / "nmt" / "configs"), version_base=None):
        cfg = compose("config", overrides=argv[2:])
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    torch.manual_seed(1)
    data = prepare_data(cfg.data, log=lambda *a, **k: None)
    tmp = Path(tempfile.mkdtemp())
    tr = Trainer(cfg, data, tmp / "a", DistInfo())
    tr2 = Trainer(cfg, data, tmp / "b", DistInfo())
    tok = data.tokenizer
    bmodel = build_model(tr.model_cfg, tok.src_vocab_size, tok.tgt_vocab_size)
    bopt = make_optimizer(bmodel.parameters(), 1e-4, torch.device("cpu"))
    bstep = training_step(bmodel, bmodel, bopt, nmt_loss, torch.device("cpu"), tr.precision)
    print(
        "allocator", allocator_name(), "precision", tr.precision,
        "threads", torch.get_num_threads(), file=sys.stderr,
    )  # fmt: skip
    # the trainer's first epoch (its batches stop there), collated up front
    if (windows + 1) * w_steps > len(tr.sampler):
        sys.exit(f"one epoch has {len(tr.sampler)} batches: ask for fewer windows or updates")
    pre = training_batches(data, cfg.data.max_tokens, (windows + 1) * w_steps, cfg.train.seed)
    meter, meter2 = Meter(tr.device, 0, 0.0), Meter(tr.device, 0, 0.0)
    groups = tr._groups()
    bar = tqdm(total=100, disable=True)
    flag = StopFlag().__enter__()
    tr.net.train()
    tr2.net.train()
    bmodel.train()
    seen: list = []  # the trainer's batches of the warm-up window

    def run_trainer(n: int) -> None:
        for _ in range(n):
            g = next(groups)
            if len(seen) < w_steps:
                seen.append(g[0])
            tr._stop_reason(flag, *tr._update(g, meter))
            tr._advance(bar)

    def run_update(batches: list) -> None:
        for b in batches:
            tr2._update([b], meter2)

    def run_bench(batches: list) -> None:
        for b in batches:
            bstep(b)

    # warm-up window (not timed)
    run_trainer(w_steps)
    run_update(pre[:w_steps])
    run_bench(pre[:w_steps])
    same = all(torch.equal(a.tgt_in, b.tgt_in) for a, b in zip(seen, pre[:w_steps], strict=True))
    assert same, "the trainer's batches are not the pre-collated ones"
    res: dict[str, list[float]] = {"trainer": [], "update": [], "bench": []}
    names = list(res)
    for w in range(1, windows + 1):
        chunk = pre[w * w_steps : (w + 1) * w_steps]
        toks = sum(b.num_tgt_tokens for b in chunk)
        order = names[w % 3 :] + names[: w % 3]
        for name in order:
            t0 = time.perf_counter()
            if name == "trainer":
                run_trainer(w_steps)
            elif name == "update":
                run_update(chunk)
            else:
                run_bench(chunk)
            res[name].append(toks / (time.perf_counter() - t0))
        print(w, order, {k: round(v[-1]) for k, v in res.items()}, file=sys.stderr, flush=True)
    for k, v in res.items():
        print(k, "median", round(statistics.median(v)), "min", round(min(v)), "max", round(max(v)))


if __name__ == "__main__":
    main(sys.argv[1:])
