"""Translate with a CTranslate2 export (:mod:`nmt.export.ct2`) behind the interface of
:class:`nmt.translation.translator.Translator`: sentences in, :class:`Translation` out.

The search is CTranslate2's, with the run's settings mapped onto it:

- greedy (``beam`` 1) is the same argmax search; the output limit ``a * source + b``
  (tokens, EOS included) leaves ``limit - 1`` pieces: every sentence is searched in one
  call up to the longest such budget and its output cut to its own, so it stops where
  the PyTorch search would force its EOS (greedy's prefix does not depend on the limit);
- beam search ranks by GNMT's penalty lp = ((5 + length) / 6) ** alpha, as the PyTorch
  search does. CTranslate2 divides by length ** beta instead, so the engine asks it for
  all ``k`` finished hypotheses, undoes its division and ranks them by lp itself, scores
  included. Both searches extend and finish the same hypotheses and stop a sentence at
  ``k`` finished ones (CTranslate2 does so whenever beta is not 0). What can still differ:
  a sentence's last step may finish more than ``k``, and CTranslate2 keeps the ``k``
  best by its own score; beta is GNMT's slope in log-length at the batch's mean source
  length, alpha * n / (5 + n), so the two orders agree but for near ties. A sentence
  that reaches its output limit differs too (the PyTorch search closes its beams with a
  scored EOS there, CTranslate2 without one);
- ``min_decoding_length`` 0: an immediate EOS is allowed, as in the PyTorch search;
- a sentence that encodes to no piece gets an empty translation, as in the PyTorch search;
- outputs stop at the export's position table (4,096 positions) at the latest.

``compute_type`` is CTranslate2's (float32, int8, int8_float32, ...); ``threads`` its
threads (0: the physical cores), shared by ``workers`` batches translated at once. An
export that carries a vocabulary map (``nmt-export ct2 --vocab-map``) scores only each
batch's candidate pieces unless ``vocab_map`` is False: faster, and no longer the same
search as the PyTorch one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from nmt import EOS_ID
from nmt.data.tokenizer import Tokenizer
from nmt.errors import CheckpointError
from nmt.export.ct2 import MANIFEST, VMAP, ctranslate2_module
from nmt.system.device import physical_cores
from nmt.translation.decoding import Decoding
from nmt.translation.search import length_limits, length_penalty
from nmt.translation.translator import Translation, encode_sources, warn_truncated

# CTranslate2's beam search exits at the first finished top beam when its length penalty
# is 0; any other penalty stops a sentence at k finished hypotheses, as the PyTorch search
MIN_PENALTY = 1e-6

COMPUTE_TYPES = ("default", "auto", "float32", "int8", "int8_float32", "int16", "float16",
                 "bfloat16", "int8_float16", "int8_bfloat16")  # fmt: skip


class CT2Translator:
    """A CTranslate2 export, translating like :class:`Translator` (same methods, same
    results), with CTranslate2's search."""

    engine = "ct2"

    def __init__(
        self,
        folder: str | Path,
        device: str = "cpu",
        compute_type: str = "default",
        threads: int = 0,
        max_input_tokens: int = 250,
        decoding: Decoding | None = None,
        vocab_map: bool = True,
        workers: int = 1,
    ) -> None:
        folder = Path(folder)
        manifest_path = folder / MANIFEST
        if not manifest_path.is_file():
            raise CheckpointError(
                f"{folder}: no {MANIFEST}; export a checkpoint with nmt-export ct2"
            )
        self.manifest: dict[str, Any] = json.loads(manifest_path.read_text(encoding="utf-8"))
        threads = threads or physical_cores()
        if not 1 <= workers <= threads:
            raise CheckpointError(
                f"workers={workers}: from 1 to the threads ({threads}); each batch at once "
                "gets threads / workers of them"
            )
        ct2 = ctranslate2_module()
        self.device = torch.device(device)
        self.compute_type = compute_type
        try:
            self.engine_model = ct2.Translator(
                str(folder),
                device="cuda" if self.device.type == "cuda" else "cpu",
                compute_type=compute_type,
                inter_threads=workers,
                intra_threads=threads // workers,
            )
        except (RuntimeError, ValueError) as e:
            raise CheckpointError(f"{folder}: CTranslate2 cannot load it ({e})") from None
        self.tokenizer = Tokenizer.from_model_files(folder)
        self._src_pieces = self.tokenizer.src_vocab()
        self._tgt_ids = {p: i for i, p in enumerate(self.tokenizer.tgt_vocab())}
        self._eos_piece = self.tokenizer.tgt_vocab()[EOS_ID]
        self.max_positions = int(self.manifest.get("max_positions", 1024))
        if max_input_tokens + 1 > self.max_positions:
            raise CheckpointError(
                f"--max-input-tokens {max_input_tokens}: the export holds "
                f"{self.max_positions} positions, so at most {self.max_positions - 1}"
            )
        self.max_input_tokens = max_input_tokens
        self.decoding = decoding or Decoding.from_dict(self.manifest.get("decode"))
        self.use_vmap = vocab_map is True and (folder / VMAP).is_file()
        self.precision = f"ct2 {self.engine_model.compute_type}" + (
            " + vocab map" if self.use_vmap else ""
        )
        self.checkpoint_info = {
            "data": self.manifest.get("data_config") or self.manifest.get("data") or {},
            "model_config": self.manifest.get("model_config", {}),
        }
        self.variant = self.checkpoint_info["model_config"].get("name", "transformer")

    def encode(self, sentences: Sequence[str]) -> tuple[list[list[int]], int]:
        """Source ids with EOS, as :meth:`Translator.encode`; over-long inputs truncated."""
        return encode_sources(self.tokenizer, sentences, self.max_input_tokens)

    def translate(
        self,
        sentences: Sequence[str],
        decoding: Decoding | None = None,
        nbest: int = 1,
        return_attention: bool = False,
        progress: bool = False,
        warn: bool = True,
    ) -> list[list[Translation]]:
        """As :meth:`Translator.translate`: every sentence in one call, CTranslate2 sorting
        and batching them by ``decoding.batch_tokens`` / beam."""
        decoding = decoding or self.decoding
        ids, truncated = self.encode(sentences)
        if truncated and warn:
            warn_truncated(truncated, self.max_input_tokens)
        results: list[list[Translation]] = [[Translation("", 0.0, [])] for _ in sentences]
        todo = [i for i in range(len(sentences)) if len(ids[i]) > 1]  # more than EOS
        limits = length_limits(torch.tensor([len(ids[i]) for i in todo], dtype=torch.long),
                               decoding.max_len_a, decoding.max_len_b).tolist()  # fmt: skip
        budgets = {i: min(b, self.max_positions) - 1 for i, b in zip(todo, limits, strict=True)}
        run = [i for i in todo if budgets[i] > 0]
        for i in todo:
            if budgets[i] <= 0:  # room for EOS only: every hypothesis is empty
                results[i] = [Translation("", 0.0, []) for _ in range(nbest)]
        beam = max(decoding.beam, nbest)
        bar = tqdm(total=len(todo), desc="translate", unit="sent", disable=not progress)
        bar.update(len(todo) - len(run))
        if run:
            # one call (CTranslate2 sorts and batches), to the longest budget; each output is
            # then cut to its own: greedy search's prefix is the same, so it stops where the
            # PyTorch search would force EOS
            alpha = decoding.length_penalty if beam > 1 else None
            beta = 0.0  # CTranslate2's penalty: GNMT's slope at the mean length (see above)
            if alpha is not None:
                n = sum(len(ids[i]) for i in run) / len(run)
                beta = max(alpha * n / (5.0 + n), MIN_PENALTY)
            out = self.engine_model.translate_batch(
                [[self._src_pieces[t] for t in ids[i][:-1]] for i in run],  # CT2 adds EOS
                max_batch_size=max(1, decoding.batch_tokens // beam),
                batch_type="tokens",
                beam_size=beam,
                num_hypotheses=beam if beam > 1 else nbest,  # all k finished, ranked below
                length_penalty=beta,
                max_decoding_length=max(budgets[i] for i in run),
                min_decoding_length=0,
                return_end_token=True,  # the length CTranslate2 normalised by, EOS included
                return_scores=True,
                return_attention=return_attention,
                max_input_length=0,
                use_vmap=self.use_vmap,
            )
            for i, r in zip(run, out, strict=True):
                # ranked by score first: only the nbest kept are decoded into text
                scores = [self._score(r, k, alpha, beta) for k in range(len(r.hypotheses))]
                best = sorted(range(len(scores)), key=lambda k: -scores[k])[:nbest]
                results[i] = [
                    self._translation(r, k, return_attention, budgets[i], scores[k]) for k in best
                ]
            bar.update(len(run))
        bar.close()
        return results

    def _score(self, result: Any, k: int, alpha: float | None, beta: float) -> float:
        """Hypothesis ``k``'s score: CTranslate2's, or with ``alpha`` (beam search) its
        log-prob (CTranslate2's score times length ** ``beta``) over GNMT's lp(length,
        alpha), the PyTorch search's score (Wu et al. 2016, Eq. 14)."""
        score = float(result.scores[k])
        if alpha is None:
            return score
        length = len(result.hypotheses[k])  # what CTranslate2 normalised by: EOS included
        return score * max(length, 1) ** beta / length_penalty(length, alpha)

    def _translation(
        self, result: Any, k: int, attention: bool, budget: int, score: float
    ) -> Translation:
        """Hypothesis ``k`` of a CTranslate2 result (EOS returned), cut to ``budget`` pieces."""
        pieces = list(result.hypotheses[k])
        if pieces and pieces[-1] == self._eos_piece:
            pieces.pop()
        unk = self._tgt_ids.get(self.manifest.get("unk_token", "<unk>"), 1)
        tokens = [self._tgt_ids.get(p, unk) for p in pieces[:budget]]
        weights = None
        if attention and result.attention:
            # (T, S): a row per output piece and a column per source piece, without the EOS
            # row and column of Translator's (len(tokens) + 1, S + 1)
            weights = torch.tensor(result.attention[k][: len(tokens)], dtype=torch.float32)
        return Translation(self.tokenizer.decode_tgt(tokens), score, tokens, weights)

    def translate_text(self, sentences: Sequence[str], **kwargs) -> list[str]:
        """1-best detokenized outputs."""
        return [r[0].text for r in self.translate(sentences, **kwargs)]
