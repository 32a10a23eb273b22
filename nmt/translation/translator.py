"""Translate raw sentences with a model and its tokenizer: batching, search, detokenization."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from tqdm.auto import tqdm

from nmt import EOS_ID
from nmt.data.batching import Example, TokenBatchSampler, collate
from nmt.data.tokenizer import Tokenizer
from nmt.models.base import EncoderDecoder
from nmt.system.device import autocast
from nmt.translation.decoding import Decoding
from nmt.translation.search import search
from nmt.translation.shortlist import Shortlist, restricted_output


@dataclass
class Translation:
    text: str  # detokenized output
    score: float
    tokens: list[int]
    attention: torch.Tensor | None = None  # (len(tokens) + 1, source pieces + 1)


def encode_sources(
    tokenizer: Tokenizer, sentences: Sequence[str], max_input_tokens: int
) -> tuple[list[list[int]], int]:
    """Source ids with EOS (none but EOS for a blank sentence), each cut to
    ``max_input_tokens`` pieces; returns (ids, how many were cut). Every engine's encoding."""
    out, truncated = [], 0
    for s in sentences:
        ids = tokenizer.encode_src(s) if s.strip() else []
        truncated += len(ids) > max_input_tokens
        out.append([*ids[:max_input_tokens], EOS_ID])
    return out, truncated


def warn_truncated(truncated: int, max_input_tokens: int) -> None:
    print(
        f"warning: {truncated} input line(s) longer than {max_input_tokens} subword "
        "tokens were truncated before translation",
        file=sys.stderr,
    )


class Translator:
    """Search over a trained model; sentences in, detokenized sentences out.

    ``decoding`` is the default search (a checkpoint's own: how its run decoded the
    test sets); every call may pass another.
    """

    def __init__(
        self,
        model: EncoderDecoder,
        tokenizer: Tokenizer,
        device: torch.device | str = "cpu",
        max_input_tokens: int = 250,
        precision: str = "fp32",
        decoding: Decoding | None = None,
        shortlist: Shortlist | None = None,
    ) -> None:
        self.model = model.eval()
        self.shortlist = shortlist  # score only a vocabulary map's candidates (or all)
        self.tokenizer = tokenizer
        self.device = torch.device(device)
        self.max_input_tokens = max_input_tokens
        self.precision = precision
        self.decoding = decoding or Decoding()
        self.checkpoint_info: dict[str, Any] = {}

    def encode(self, sentences: Sequence[str]) -> tuple[list[list[int]], int]:
        """Source ids with EOS; over-long inputs are truncated. Returns (ids, n_truncated)."""
        return encode_sources(self.tokenizer, sentences, self.max_input_tokens)

    @torch.no_grad()
    def translate(
        self,
        sentences: Sequence[str],
        decoding: Decoding | None = None,
        nbest: int = 1,
        return_attention: bool = False,
        progress: bool = False,
        warn: bool = True,
    ) -> list[list[Translation]]:
        """Translate each sentence with ``decoding`` (default: :attr:`decoding`); an empty
        or blank sentence, or one that encodes to no piece, gives an empty translation.

        Sentences are sorted by length and cut into batches of the data batching code
        (:class:`TokenBatchSampler`) within ``decoding.batch_tokens`` / beam source tokens.
        """
        decoding = decoding or self.decoding
        ids, truncated = self.encode(sentences)
        if truncated and warn:
            warn_truncated(truncated, self.max_input_tokens)
        results: list[list[Translation]] = [[Translation("", 0.0, [])] for _ in sentences]
        todo = [i for i, s in enumerate(sentences) if len(ids[i]) > 1]  # more than EOS
        examples = [Example(ids[i], None, i) for i in todo]
        sampler = TokenBatchSampler(
            [(len(e[0]), 0) for e in examples],
            max_tokens=max(1, decoding.batch_tokens // max(decoding.beam, nbest)),
            shuffle=False,
            log=lambda message: None,  # an over-long sentence gets a batch of its own
        )
        bar = tqdm(total=len(todo), desc="translate", unit="sent", disable=not progress)
        for indices in sampler:
            batch = collate([examples[j] for j in indices]).to(self.device)
            vocab = None if self.shortlist is None else self.shortlist.candidates(batch.src)
            with autocast(self.device, self.precision), self._output(vocab):
                hyps = search(
                    self.model,
                    batch.src,
                    batch.src_mask,
                    decoding,
                    nbest=nbest,
                    return_attention=return_attention,
                    vocab=vocab,
                )
            for row, hs in zip(batch.ids.tolist(), hyps, strict=True):
                n_src = len(ids[row])
                results[row] = [
                    Translation(
                        self.tokenizer.decode_tgt(h.tokens),
                        h.score,
                        h.tokens,
                        None if h.attention is None else h.attention[:, :n_src],
                    )
                    for h in hs
                ]
            bar.update(len(indices))
        bar.close()
        return results

    def _output(self, vocab: torch.Tensor | None) -> AbstractContextManager:
        """The model's output layer as it is, or restricted to ``vocab``'s rows."""
        return nullcontext() if vocab is None else restricted_output(self.model, vocab)

    def translate_text(self, sentences: Sequence[str], **kwargs) -> list[str]:
        """1-best detokenized outputs."""
        return [r[0].text for r in self.translate(sentences, **kwargs)]
