"""Greedy and batched beam search, one implementation for every variant.

Both drive a model only through :class:`nmt.models.base.EncoderDecoder`'s
``encode`` / ``decode_step`` / ``reorder_state``; nothing here asks which
model it holds. Sentences that finish leave the batch, so a long sentence
does not keep decoding the short ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from nmt import BOS_ID, EOS_ID, PAD_ID
from nmt.models.base import EncoderDecoder
from nmt.translation.decoding import Decoding

#: a forced EOS at the length budget never scores below this, so the hypothesis stays finite
FORCED_EOS_FLOOR = -1e4


@dataclass
class Hypothesis:
    """One output sentence: token ids without BOS/EOS, its scores and attention."""

    tokens: list[int]
    score: float  # the ranking score: log-prob / GNMT length penalty (greedy: log-prob)
    log_prob: float  # sum of token log-probs, EOS included
    attention: torch.Tensor | None = None  # (len(tokens) + 1, S): one row per output incl. EOS


def length_penalty(length: int, alpha: float) -> float:
    """GNMT length penalty lp(Y) = ((5 + |Y|) / 6) ** alpha (Wu et al. 2016, Eq. 14)."""
    return ((5.0 + length) / 6.0) ** alpha


def max_lengths(src_mask: torch.Tensor, a: float, b: int) -> torch.Tensor:
    """Per-sentence output budget ``a * source_length + b`` (tokens, EOS included). -> (B,)"""
    return length_limits(src_mask.sum(1), a, b)


def length_limits(src_len: torch.Tensor, a: float, b: int) -> torch.Tensor:
    """:func:`max_lengths` of source lengths (B,) (pieces, EOS included), computed in float32
    as the search computes them (another engine cuts where this search would)."""
    return (a * src_len.to(torch.float32) + b).floor().clamp(min=1).long().cpu()


@torch.no_grad()
def greedy_search(
    model: EncoderDecoder,
    src: torch.Tensor,
    src_mask: torch.Tensor,
    decoding: Decoding,
    return_attention: bool = False,
    vocab: torch.Tensor | None = None,
) -> list[list[Hypothesis]]:
    """Pick the most probable token at each step (``decoding``'s length limits; its beam
    and length penalty do not apply). Returns one 1-best list per sentence.

    src: (B, S), src_mask: (B, S) bool; ``vocab`` (C,): the target ids of the model's
    log-probability columns when its output layer is restricted to a shortlist.
    """
    batch = src.size(0)
    device = src.device
    eos_col, to_id = _columns(vocab)
    limits = max_lengths(src_mask, decoding.max_len_a, decoding.max_len_b)  # (B,)
    state = model.encode(src, src_mask)
    active = torch.arange(batch)  # original sentence index of each row
    prev = torch.full((batch,), BOS_ID, dtype=torch.long, device=device)
    tokens: list[list[int]] = [[] for _ in range(batch)]
    log_prob = [0.0] * batch
    attn_rows: list[list[torch.Tensor]] = [[] for _ in range(batch)]
    results: list[list[Hypothesis]] = [[] for _ in range(batch)]
    step = 0
    while active.numel():
        lp, state, attn = model.decode_step(prev, state)  # (n, V), (n, S)
        lp = lp.float()
        col = lp.argmax(-1)
        at_limit = (step + 1 >= limits[active]).to(device)
        col = torch.where(at_limit, torch.full_like(col, eos_col), col)
        tok_lp = lp.gather(1, col.unsqueeze(1)).squeeze(1).clamp(min=FORCED_EOS_FLOOR)
        nxt = to_id(col)
        done = (nxt == EOS_ID).cpu()
        for row, (sent, tok, tlp) in enumerate(
            zip(active.tolist(), nxt.tolist(), tok_lp.tolist(), strict=True)
        ):
            log_prob[sent] += tlp
            if return_attention and attn is not None:
                attn_rows[sent].append(attn[row].float().cpu())
            if tok == EOS_ID:
                att = torch.stack(attn_rows[sent]) if attn_rows[sent] else None
                results[sent] = [Hypothesis(tokens[sent], log_prob[sent], log_prob[sent], att)]
            else:
                tokens[sent].append(tok)
        step += 1
        if done.any():
            keep = (~done).nonzero().squeeze(1)
            active = active[keep]
            if not active.numel():
                break
            state = model.reorder_state(state, keep.to(device))
            nxt = nxt[keep.to(device)]
        prev = nxt
    return results


@torch.no_grad()
def beam_search(
    model: EncoderDecoder,
    src: torch.Tensor,
    src_mask: torch.Tensor,
    decoding: Decoding,
    nbest: int = 1,
    return_attention: bool = False,
    vocab: torch.Tensor | None = None,
) -> list[list[Hypothesis]]:
    """Batched beam search of ``decoding.beam`` hypotheses with the GNMT length penalty;
    returns ``nbest`` per sentence (``vocab``: as :func:`greedy_search`'s).

    At each step every live hypothesis is extended by every token; of the
    ``2k`` best candidates, those ending in EOS within the top ``k`` are
    finished (scored by log-prob / lp(length)), and the ``k`` best that do not
    end in EOS live on. A sentence is done once it has ``k`` finished
    hypotheses or reaches its length budget, where every beam is closed with EOS.
    """
    k, alpha = decoding.beam, decoding.length_penalty
    batch = src.size(0)
    device = src.device
    eos_col, to_id = _columns(vocab)
    limits = max_lengths(src_mask, decoding.max_len_a, decoding.max_len_b)
    state = model.encode(src, src_mask)
    state = model.reorder_state(state, torch.arange(batch, device=device).repeat_interleave(k))
    active = torch.arange(batch)  # original sentence index of each live sentence
    scores = torch.full((batch, k), -math.inf, device=device)
    scores[:, 0] = 0.0
    seqs = torch.empty((batch * k, 0), dtype=torch.long, device=device)
    attn_hist: torch.Tensor | None = None  # (rows, t, S)
    prev = torch.full((batch * k,), BOS_ID, dtype=torch.long, device=device)
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
    step = 0
    while True:
        n = active.numel()
        lp, state, attn = model.decode_step(prev, state)  # (n*k, V), (n*k, S)
        lp = lp.float()
        width = lp.size(-1)  # V, or C with a shortlist
        if return_attention and attn is not None:
            att = attn.float().unsqueeze(1)
            attn_hist = att if attn_hist is None else torch.cat([attn_hist, att], 1)
        at_limit = (step + 1 >= limits[active]).to(device)  # (n,)
        if at_limit.any():
            rows = at_limit.repeat_interleave(k)
            eos_lp = lp[rows, eos_col].clamp(min=FORCED_EOS_FLOOR)
            lp[rows] = -math.inf
            lp[rows, eos_col] = eos_lp
        cand = (scores.unsqueeze(-1) + lp.view(n, k, width)).view(n, k * width)
        cand_scores, cand_idx = cand.topk(min(2 * k, k * width), dim=1)  # (n, 2k)
        cand_beam = torch.div(cand_idx, width, rounding_mode="floor")
        cand_tok = to_id(cand_idx % width)
        rank = torch.arange(cand_idx.size(1), device=device)
        is_eos = cand_tok == EOS_ID
        hits = (is_eos & (rank < k) & torch.isfinite(cand_scores)).nonzero().tolist()
        for i, j in hits:
            sent = int(active[i])
            row = i * k + int(cand_beam[i, j])
            toks = seqs[row].tolist()
            total = float(cand_scores[i, j])
            hist = attn_hist[row].cpu() if attn_hist is not None else None
            finished[sent].append(
                Hypothesis(toks, total / length_penalty(len(toks) + 1, alpha), total, hist)
            )
        live_scores, pos = cand_scores.masked_fill(is_eos, -math.inf).topk(k, dim=1)  # (n, k)
        rows = (torch.arange(n, device=device).unsqueeze(1) * k + cand_beam.gather(1, pos)).view(-1)
        new_tok = cand_tok.gather(1, pos).view(-1)
        done = torch.tensor([len(finished[int(s)]) >= k for s in active]) | at_limit.cpu()
        step += 1
        if done.all():
            break
        if done.any():
            keep = (~done).nonzero().squeeze(1)
            keep_rows = (keep.unsqueeze(1) * k + torch.arange(k)).view(-1).to(device)
            rows, new_tok = rows[keep_rows], new_tok[keep_rows]
            live_scores = live_scores[keep.to(device)]
            active = active[keep]
        seqs = torch.cat([seqs[rows], new_tok.unsqueeze(1)], 1)
        if attn_hist is not None:
            attn_hist = attn_hist[rows]
        # hypotheses move only within their sentence unless a sentence left the batch:
        # then the source-side state (encoder outputs, cross-attention keys) stays put
        state = model.reorder_state(state, rows, within_sentences=not bool(done.any()))
        scores = live_scores
        prev = new_tok
    return [sorted(hyps, key=lambda h: -h.score)[:nbest] for hyps in finished]


def _columns(vocab: torch.Tensor | None) -> tuple[int, Callable[[torch.Tensor], torch.Tensor]]:
    """EOS's column of the log-probabilities, and the map from columns to target ids."""
    if vocab is None:
        return EOS_ID, lambda cols: cols
    eos = (vocab == EOS_ID).nonzero()
    if not eos.numel():
        raise ValueError("a shortlist must hold EOS")
    return int(eos[0, 0]), lambda cols: vocab[cols]


def search(
    model: EncoderDecoder,
    src: torch.Tensor,
    src_mask: torch.Tensor,
    decoding: Decoding,
    nbest: int = 1,
    return_attention: bool = False,
    vocab: torch.Tensor | None = None,
) -> list[list[Hypothesis]]:
    """Greedy search for ``decoding.beam == 1`` and ``nbest == 1``, beam search otherwise.
    ``vocab``: the target ids of the log-probability columns when the model's output layer
    is restricted to a shortlist (:mod:`nmt.translation.shortlist`)."""
    if decoding.beam == 1 and nbest == 1:
        return greedy_search(model, src, src_mask, decoding, return_attention, vocab)
    return beam_search(model, src, src_mask, decoding, nbest, return_attention, vocab)


__all__ = ["PAD_ID", "Hypothesis", "beam_search", "greedy_search", "length_penalty", "search"]
