"""The models a server holds, and the batching of their requests.

Each model gets one worker thread: requests queue up, and the worker takes every request
waiting (with the same search settings) into one call of the Translator, whose token
batching sorts them by length. Translation never runs on the web server's event loop, so
the page and ``GET /models`` answer while a long request is translated.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from nmt import BOS_ID
from nmt.errors import CheckpointError
from nmt.export.ct2 import is_export
from nmt.export.load import load_translator
from nmt.runs.run_dir import BEST, RunDir
from nmt.translation.decoding import Decoding
from nmt.translation.translator import Translator


@dataclass
class Job:
    sentences: list[str]
    decoding: Decoding
    nbest: int
    attention: bool
    future: Future = field(default_factory=Future)


@dataclass
class Served:
    """One loaded checkpoint: what the page shows about it, and its worker."""

    id: str
    variant: str
    path: str
    translator: Translator
    bleu: float | None = None  # the run's test BLEU (its results.json), if recorded
    bleu_ci: float | None = None
    bleu_split: str = ""
    description: str = ""
    layers: int = 0  # attention layers and heads the page can select (0: none)
    heads: int = 0
    engine: str = "torch"  # torch, or ct2: CTranslate2's search over an export
    jobs: queue.Queue = field(default_factory=queue.Queue)

    def info(self) -> dict[str, Any]:
        data = self.translator.checkpoint_info.get("data", {})
        return {
            "id": self.id, "variant": self.variant, "description": self.description,
            "checkpoint": self.path, "bleu": self.bleu, "bleu_ci": self.bleu_ci,
            "bleu_split": self.bleu_split, "src": data.get("src"), "tgt": data.get("tgt"),
            "attention": {"layers": self.layers, "heads": self.heads} if self.layers else None,
            "decode": self.translator.decoding.as_dict(), "engine": self.engine,
        }  # fmt: skip

    def submit(self, job: Job) -> Future:
        self.jobs.put(job)
        return job.future

    def serve_forever(self) -> None:
        """The worker: translate waiting jobs together, one batch per search setting."""
        while True:
            first = self.jobs.get()
            if first is None:
                return
            jobs = [first]
            while True:  # everything queued meanwhile joins this batch
                try:
                    job = self.jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    self.jobs.put(None)
                    break
                jobs.append(job)
            groups: dict[tuple, list[Job]] = {}
            for j in jobs:
                key = (tuple(j.decoding.as_dict().items()), j.nbest, j.attention)
                groups.setdefault(key, []).append(j)
            for group in groups.values():
                self._run(group)

    def _run(self, jobs: list[Job]) -> None:
        sentences = [s for j in jobs for s in j.sentences]
        job = jobs[0]
        try:
            start = time.perf_counter()
            results = self.translator.translate(
                sentences, job.decoding, nbest=job.nbest, warn=False,
                return_attention=job.attention and self.engine == "ct2",
            )  # fmt: skip
            out = [
                self._result(s, r, job.attention) for s, r in zip(sentences, results, strict=True)
            ]
            ms = (time.perf_counter() - start) * 1000
        except Exception as e:  # the request fails, the worker lives on
            for j in jobs:
                j.future.set_exception(e)
            return
        i = 0
        for j in jobs:
            j.future.set_result({"ms": round(ms, 1), "translations": out[i : i + len(j.sentences)],
                                 "batched_with": len(jobs) - 1})  # fmt: skip
            i += len(j.sentences)

    def _result(self, source: str, hyps: list, attention: bool) -> dict[str, Any]:
        item: dict[str, Any] = {
            "source": source,
            "text": hyps[0].text,
            "nbest": [{"text": h.text, "score": round(h.score, 4)} for h in hyps],
            "attention": None,
        }
        if attention and self.layers and source.strip():
            if self.engine == "ct2":
                item["attention"] = self._ct2_attention(source, hyps[0])
            else:
                item["attention"] = self._attention(source, hyps[0].tokens)
        return item

    def _ct2_attention(self, source: str, hyp: Any) -> dict[str, Any] | None:
        """CTranslate2's one map (the last layer's cross-attention, its heads averaged) over
        the source pieces, as a single layer and head: ``weights[0][0][target][source]``."""
        if hyp.attention is None:
            return None
        tok, t = self.translator.tokenizer, self.translator
        return {
            "source": tok.src_pieces(source)[: t.max_input_tokens],
            "target": tok.tgt_pieces(hyp.tokens),
            "weights": [[hyp.attention.double().round(decimals=3).tolist()]],
        }

    @torch.no_grad()
    def _attention(self, source: str, tokens: list[int]) -> dict[str, Any]:
        """Every layer's and head's weights over the source pieces, teacher-forced on the
        translation: ``weights[layer][head][target piece][source piece]``."""
        t = self.translator
        ids, _ = t.encode([source])
        src = torch.tensor(ids, device=t.device)
        tgt_in = torch.tensor([[BOS_ID, *tokens]], device=t.device)
        w = t.model.attention_layers(src, torch.ones_like(src, dtype=torch.bool), tgt_in)
        tok = t.tokenizer
        return {
            "source": [*tok.src_pieces(source)[: t.max_input_tokens], "</s>"],
            "target": [*tok.tgt_pieces(tokens), "</s>"],
            "weights": w[0].double().round(decimals=3).tolist(),  # (L, h, T, S), 3 decimals
        }


def resolve_checkpoint(item: str) -> Path:
    """A run directory's ``checkpoints/best.pt``, or the .pt file itself."""
    path = Path(item)
    if path.is_dir() and not is_export(path):
        run = RunDir(path)
        for candidate in (run.best, path / BEST):
            if candidate.is_file():
                return candidate
        raise CheckpointError(
            f"{path}: a folder without checkpoints/{BEST}; give a run directory or a .pt file"
        )
    return path


def load_models(
    items: list[str], device: str, precision: str = "fp32", **engine: Any
) -> dict[str, Served]:
    """Load each checkpoint, run directory or CTranslate2 export to decode in ``precision``
    (fp32 | bf16; ``engine``: :func:`load_translator`'s engine settings), start its worker;
    ids are unique labels."""
    from nmt.models.registry import variant as declared

    models: dict[str, Served] = {}
    if engine.get("threads"):  # every model's worker may run at once: share the cores
        engine = {**engine, "threads": max(1, engine["threads"] // len(items))}
    for item in items:
        path = resolve_checkpoint(item)
        settings = dict(engine)
        if not is_export(path) and settings.get("engine") != "ct2":
            settings.pop("workers", None)  # a CTranslate2 setting: the PyTorch models ignore it
        translator = load_translator(path, device=device, precision=precision, **settings)
        kind = getattr(translator, "engine", "torch")
        name = translator.variant if kind == "ct2" else translator.model.variant
        ckpt_id = name
        n = 2
        while ckpt_id in models:
            ckpt_id, n = f"{name}-{n}", n + 1
        if kind == "ct2":  # one averaged map: the last layer's heads, as CTranslate2 gives it
            test = translator.manifest.get("test") or {}
            bleu, ci, layers, heads = test.get("bleu"), test.get("bleu_ci"), 1, 1
            split = test.get("split", "test")
        else:
            bleu, ci, split = RunDir.of_checkpoint(path).test_bleu()
            probe = torch.tensor([[4, 5, 2]], device=translator.device)  # shapes only
            with torch.no_grad():
                w = translator.model.eval().attention_layers(probe, probe > 0, probe[:, :2])
            layers, heads = (0, 0) if w is None else (w.size(1), w.size(2))
        served = Served(
            ckpt_id, name, str(path), translator, bleu, ci, split,
            description=declared(name).description, layers=layers, heads=heads, engine=kind,
        )  # fmt: skip
        threading.Thread(
            target=served.serve_forever, name=f"nmt-serve-{ckpt_id}", daemon=True
        ).start()
        models[ckpt_id] = served
    return models
