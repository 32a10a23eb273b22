"""Where the PyTorch search's milliseconds go: one checkpoint, the test sentences translated
one sentence a batch and a full buffer a batch, each phase of the search timed.

    python scripts/profile_decode.py CKPT --src test.de --beam 5 --out decode_profile.json

Phases (wall clock, summed over the run): the encoder; the decoder's layers; the output
layer (the generator: a (rows x d_model) x (d_model x vocab) product every step); the rest
of a decoder step (embedding, positions, final norm, log-softmax); the reordering of the
beams' state; and the search itself (top-k, finished hypotheses, bookkeeping: the total
less the phases above). The top operators by self CPU time come from ``torch.profiler``
over the same translation, run once more.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch


class PhaseClock:
    """Wall-clock time per phase, from forward hooks and wrapped model methods."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._start: dict[str, float] = {}
        self._handles: list[Any] = []

    def hook(self, module: torch.nn.Module, phase: str) -> None:
        def pre(*_):
            self._start[phase] = time.perf_counter()

        def post(*_):
            self.seconds[phase] += time.perf_counter() - self._start.pop(phase)
            self.calls[phase] += 1

        self._handles += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]

    def wrap(self, obj: Any, name: str, phase: str) -> None:
        inner: Callable = getattr(obj, name)

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds[phase] += time.perf_counter() - t0
                self.calls[phase] += 1

        setattr(obj, name, timed)

    def remove(self) -> None:
        for h in self._handles:
            h.remove()


def profile_mode(translator: Any, src: list[str], beam: int, batch_tokens: int) -> dict[str, Any]:
    """One translation of ``src`` with the phases timed, then the top operators."""
    model = translator.model
    decoding = translator.decoding.replace(beam=beam, batch_tokens=batch_tokens)
    translator.translate(src[:8], decoding, warn=False)  # warm-up
    clock = PhaseClock()
    for layer in getattr(model, "encoder_layers", []):
        clock.hook(layer, "encoder layers")
    for layer in getattr(model, "decoder_layers", []):
        clock.hook(layer, "decoder layers")
    clock.hook(model.generator, "output layer")
    model_cls = type(model)
    clock.wrap(model, "encode", "encode")
    clock.wrap(model, "decode_step", "decode step")
    clock.wrap(model, "reorder_state", "reorder state")
    t0 = time.perf_counter()
    translator.translate(src, decoding, warn=False)
    total = time.perf_counter() - t0
    clock.remove()
    for name in ("encode", "decode_step", "reorder_state"):
        delattr(model, name)  # back to the class's methods
    assert type(model) is model_cls
    s = clock.seconds
    phases = {
        "encoder": s["encode"],
        "decoder layers": s["decoder layers"],
        "output layer": s["output layer"],
        "rest of the decoder step": s["decode step"] - s["decoder layers"] - s["output layer"],
        "reorder state": s["reorder state"],
        "search (top-k, bookkeeping)": total - s["encode"] - s["decode step"] - s["reorder state"],
    }
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        translator.translate(src, decoding, warn=False)
    ops = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:12]
    return {
        "batch_tokens": batch_tokens,
        "seconds": total,
        "sent_per_s": len(src) / total,
        "decoder_steps": clock.calls["decode step"],
        "ms_per_step": 1000 * s["decode step"] / max(1, clock.calls["decode step"]),
        "phases_seconds": phases,
        "top_ops": [
            {"op": e.key, "self_cpu_ms": e.self_cpu_time_total / 1000, "calls": e.count}
            for e in ops
        ],
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "## Where the PyTorch search's time goes",
        "",
        f"Written by `{result['command']}` ({result['json']}). CPU: {result['cpu']}, "
        f"{result['threads']} threads, torch {result['torch']}, {result['precision']}; "
        f"{result['sentences']} sentences, beam {result['beam']}.",
        "",
        "| batch | sent/s | decoder steps | ms a step | "
        + " | ".join(result["modes"][0]["phases_seconds"])
        + " |",
        "| --- | ---: | ---: | ---: | "
        + " | ".join("---:" for _ in result["modes"][0]["phases_seconds"])
        + " |",
    ]
    for m in result["modes"]:
        shares = [v / m["seconds"] for v in m["phases_seconds"].values()]
        lines.append(
            f"| {m['name']} | {m['sent_per_s']:,.1f} | {m['decoder_steps']:,} | "
            f"{m['ms_per_step']:.1f} | " + " | ".join(f"{x:.0%}" for x in shares) + " |"
        )
    lines.append("")
    for m in result["modes"]:
        top = ", ".join(f"{o['op']} {o['self_cpu_ms']:,.0f} ms" for o in m["top_ops"][:6])
        lines.append(f"Top operators, {m['name']}: {top}.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("--src", required=True, help="sentences to translate, one a line")
    p.add_argument("--sentences", type=int, default=300)
    p.add_argument("--beam", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="0: the physical cores")
    p.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    p.add_argument("--out", default="docs/results/bench/decode_profile.json")
    p.add_argument("--markdown", help="also put the table into this Markdown file, as a section")
    args = p.parse_args(argv)
    from nmt.bench.engines import publish
    from nmt.data.validate import read_lines
    from nmt.runs.checkpoint import load_translator
    from nmt.system.device import cpu_description, set_threads

    threads = set_threads(args.threads)
    src = [s for s in read_lines(Path(args.src)) if s.strip()][: args.sentences]
    translator = load_translator(args.checkpoint, precision=args.precision)
    modes = []
    for name, budget in (("one sentence", 1), ("full buffer", translator.decoding.batch_tokens)):
        print(f"profile-decode: {name} ...", file=sys.stderr, flush=True)
        modes.append({"name": name, **profile_mode(translator, src, args.beam, budget)})
    command = " ".join(
        ["python scripts/profile_decode.py", *(sys.argv[1:] if argv is None else argv)]
    )
    result = {"command": command, "json": args.out, "cpu": cpu_description(), "threads": threads,
              "torch": torch.__version__, "precision": args.precision, "beam": args.beam,
              "sentences": len(src), "checkpoint": args.checkpoint, "modes": modes}  # fmt: skip
    publish(result, markdown(result), args.out, args.markdown)
    return result
