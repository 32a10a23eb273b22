"""The scores of a validation: teacher-forced loss and perplexity, sacreBLEU and chrF of
the search, and their TensorBoard record (samples and an attention heat map)."""

from __future__ import annotations

from typing import Any

import torch

from nmt.evaluation.scoring import evaluate_split
from nmt.training.loss import validation_loss
from nmt.training.tensorboard import TensorBoardLogger
from nmt.translation.decoding import Decoding
from nmt.translation.translator import Translator


def score_validation(
    model: torch.nn.Module,
    data: Any,
    device: torch.device,
    precision: str,
    max_tokens: int,
    translator: Translator,
    decoding: Decoding,
    tcfg: Any,
    tb: TensorBoardLogger | None,
    step: int,
) -> dict[str, Any]:
    """The valid split's loss, perplexity, BLEU and chrF (the first ``eval_max_sentences``
    translated with ``decoding``), logged to ``tb`` at ``step``."""
    loss, ppl = validation_loss(model, data, device, precision, max_tokens)
    text = data.text["valid"]
    scores, hyps = evaluate_split(translator, text, decoding, limit=tcfg.eval_max_sentences or None)
    if tb:
        values = {"loss": loss, "ppl": ppl, "bleu": scores["bleu"], "chrf": scores["chrf"]}
        tb.scalars("valid", values, step)
        tb.samples(text, hyps, tcfg.num_samples, step)
        tb.attention(translator, text.src[0], step)
    return {
        "valid_loss": round(loss, 4),
        "valid_ppl": round(ppl, 3),
        "valid_bleu": scores["bleu"],
        "valid_chrf": scores["chrf"],
    }
