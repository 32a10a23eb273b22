"""Translate raw sentences with a model and its tokenizer: batching, search, detokenization."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
from tqdm.auto import tqdm

from nmt import EOS_ID, PAD_ID
from nmt.checkpoint import load_checkpoint
from nmt.data.tokenizer import Tokenizer
from nmt.device import autocast
from nmt.models import build_model
from nmt.models.base import EncoderDecoder
from nmt.search import search


@dataclass
class Translation:
    text: str  # detokenized output
    score: float
    tokens: list[int]
    attention: torch.Tensor | None = None  # (len(tokens) + 1, source pieces + 1)


class Translator:
    """Search over a trained model; sentences in, detokenized sentences out."""

    def __init__(
        self,
        model: EncoderDecoder,
        tokenizer: Tokenizer,
        device: torch.device | str = "cpu",
        max_input_tokens: int = 250,
        batch_tokens: int = 6000,
        precision: str = "fp32",
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.device = torch.device(device)
        self.max_input_tokens = max_input_tokens
        self.batch_tokens = batch_tokens
        self.precision = precision

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "cpu", **kwargs) -> Translator:
        """Rebuild model and tokenizer from a self-describing checkpoint."""
        ckpt = load_checkpoint(path, map_location="cpu")
        tokenizer = Tokenizer.from_state_dict(ckpt["tokenizer"])
        model = build_model(
            ckpt["model_config"], tokenizer.src_vocab_size, tokenizer.tgt_vocab_size
        )
        model.load_state_dict(ckpt["model"])
        translator = cls(model.to(device), tokenizer, device, **kwargs)
        translator.checkpoint_info = {
            k: ckpt[k] for k in ("data", "model_config", "decode") if k in ckpt
        }
        return translator

    #: search settings when neither the caller nor the checkpoint gives them
    DEFAULT_DECODE: ClassVar[dict[str, float]] = {
        "beam": 5,
        "alpha": 0.6,
        "max_len_a": 1.5,
        "max_len_b": 10,
    }

    def decode_settings(self, **overrides: object) -> dict:
        """The run's search settings (from its checkpoint), with non-None overrides applied."""
        saved = getattr(self, "checkpoint_info", {}).get("decode", {})
        settings = {**self.DEFAULT_DECODE, **saved}
        settings.update({k: v for k, v in overrides.items() if v is not None})
        return settings

    def encode(self, sentences: Sequence[str]) -> tuple[list[list[int]], int]:
        """Source ids with EOS; over-long inputs are truncated. Returns (ids, n_truncated)."""
        out, truncated = [], 0
        for s in sentences:
            ids = self.tokenizer.encode_src(s) if s.strip() else []
            if len(ids) > self.max_input_tokens:
                ids = ids[: self.max_input_tokens]
                truncated += 1
            out.append([*ids, EOS_ID])
        return out, truncated

    def _batches(self, lengths: list[int], beam: int) -> list[list[int]]:
        order = sorted(range(len(lengths)), key=lambda i: lengths[i])
        batches, cur, longest = [], [], 0
        for i in order:
            longest_new = max(longest, lengths[i])
            if cur and longest_new * (len(cur) + 1) * beam > self.batch_tokens:
                batches.append(cur)
                cur, longest_new = [], lengths[i]
            cur.append(i)
            longest = longest_new
        if cur:
            batches.append(cur)
        return batches

    @torch.no_grad()
    def translate(
        self,
        sentences: Sequence[str],
        beam: int = 5,
        nbest: int = 1,
        alpha: float = 0.6,
        max_len_a: float = 1.5,
        max_len_b: int = 10,
        return_attention: bool = False,
        progress: bool = False,
        warn: bool = True,
    ) -> list[list[Translation]]:
        """Translate each sentence; an empty or blank sentence gives an empty translation."""
        ids, truncated = self.encode(sentences)
        if truncated and warn:
            print(
                f"warning: {truncated} input line(s) longer than {self.max_input_tokens} subword "
                "tokens were truncated before translation",
                file=sys.stderr,
            )
        results: list[list[Translation]] = [[] for _ in sentences]
        todo = [i for i, s in enumerate(sentences) if s.strip()]
        for i in set(range(len(sentences))) - set(todo):
            results[i] = [Translation("", 0.0, [])]
        batches = self._batches([len(ids[i]) for i in todo], max(beam, nbest))
        bar = tqdm(total=len(todo), desc="translate", unit="sent", disable=not progress)
        for batch in batches:
            rows = [todo[j] for j in batch]
            width = max(len(ids[r]) for r in rows)
            src = torch.full((len(rows), width), PAD_ID, dtype=torch.long)
            for k, r in enumerate(rows):
                src[k, : len(ids[r])] = torch.tensor(ids[r])
            src = src.to(self.device)
            with autocast(self.device, self.precision):
                hyps = search(
                    self.model,
                    src,
                    src != PAD_ID,
                    beam_size=beam,
                    alpha=alpha,
                    max_len_a=max_len_a,
                    max_len_b=max_len_b,
                    nbest=nbest,
                    return_attention=return_attention,
                )
            for r, hs in zip(rows, hyps, strict=True):
                results[r] = [
                    Translation(
                        self.tokenizer.decode_tgt(h.tokens),
                        h.score,
                        h.tokens,
                        None if h.attention is None else h.attention[:, : len(ids[r])],
                    )
                    for h in hs
                ]
            bar.update(len(rows))
        bar.close()
        return results

    def translate_text(self, sentences: Sequence[str], **kwargs) -> list[str]:
        """1-best detokenized outputs."""
        return [r[0].text for r in self.translate(sentences, **kwargs)]
