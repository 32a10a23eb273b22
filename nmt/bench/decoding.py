"""Decoding speed on the test set (sentences/s, greedy and beam 5) through
``nmt-translate``'s own path (:class:`~nmt.translation.translator.Translator`), in the
precision benchmarked, with a trained checkpoint when given (then the outputs' sacreBLEU is
recorded too, so a faster precision shows what it costs), else with the untrained model,
whose outputs run to the length limit (a worst case)."""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import torch

from nmt.bench.memory import peak_rss_mb, reset_peak_rss
from nmt.bench.peaks import sync
from nmt.evaluation.metrics import corpus_scores
from nmt.runs.checkpoint import load_translator
from nmt.translation.translator import Translator


def bench_decoding(
    model: Any,
    data: Any,
    device: torch.device,
    precision: str,
    args: argparse.Namespace,
    trained: bool,
) -> dict[str, Any]:
    """Greedy and beam-5 speed over the first ``args.decode_sentences`` test sentences."""
    translator = Translator(model.eval(), data.tokenizer, device, precision=precision)
    test = data.text["test"]
    sentences = test.src[: args.decode_sentences]
    refs = [list(r[: len(sentences)]) for r in test.refs]
    out: dict[str, Any] = {"sentences": len(sentences), "trained": trained, "precision": precision}
    reset_peak_rss()
    for name, beam in (("greedy", 1), ("beam5", 5)):
        translator.translate(sentences[:16], translator.decoding.replace(beam=beam))  # warm-up
        sync(device)
        t0 = time.perf_counter()
        hyps = translator.translate(sentences, translator.decoding.replace(beam=beam))
        sync(device)
        dt = time.perf_counter() - t0
        out[f"{name}_sent_per_s"] = len(sentences) / dt
        out[f"{name}_mean_output_tokens"] = statistics.mean(len(h[0].tokens) for h in hyps)
        if trained:  # the outputs' quality in this precision: sacreBLEU against the test refs
            out[f"{name}_bleu"] = corpus_scores([h[0].text for h in hyps], refs)["bleu"]
    if device.type == "cpu":
        out["peak_rss_mb"] = peak_rss_mb()  # the process while translating (model included)
    return out


def load_trained(
    checkpoints: dict[str, str], variants: list[str], device: torch.device, tokenizer: Any
) -> dict[str, Any]:
    """Each ``--checkpoint`` variant's model, loaded once before anything is timed.

    Refused with a one-line error: a variant that is not benchmarked, or a checkpoint that
    does not tokenize as the benchmark data does (its outputs are decoded and scored with
    that tokenizer)."""
    models = {}
    for variant, path in checkpoints.items():
        if variant not in variants:
            raise SystemExit(
                f"error: --checkpoint {variant}={path}: {variant} is not among --variants "
                f"({','.join(variants)}); name one of them"
            )
        translator = load_translator(path, device=str(device))
        if translator.tokenizer.fingerprint != tokenizer.fingerprint:
            raise SystemExit(
                f"error: --checkpoint {path}: trained with another SentencePiece model than "
                "the benchmark data's; give a checkpoint of a run on that data (--data)"
            )
        models[variant] = translator.model
    return models
