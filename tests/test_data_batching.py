"""Token-budget batches: padding, budget, coverage, sharding, deterministic resume."""

from __future__ import annotations

import random

import pytest

from nmt import BOS_ID, EOS_ID, PAD_ID
from nmt.data.batching import Example, TokenBatchSampler, batch_lengths, collate
from nmt.errors import DataError


def random_examples(n: int, seed: int = 0, max_len: int = 40) -> list[Example]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        src = [rng.randint(4, 50) for _ in range(rng.randint(0, max_len))]
        tgt = [rng.randint(4, 50) for _ in range(rng.randint(0, max_len))]
        out.append(Example([*src, EOS_ID], tgt, i))
    return out


EXAMPLES = random_examples(1000)
LENGTHS = batch_lengths(EXAMPLES)


def sampler(**kw) -> TokenBatchSampler:
    args = {"max_tokens": 300, "shuffle": True, "seed": 7, **kw}
    return TokenBatchSampler(LENGTHS, log=lambda m: None, **args)


def test_collate_pads_and_shifts():
    examples = [Example([5, 6, EOS_ID], [7, 8, 9], 10), Example([5, EOS_ID], [7], 11)]
    b = collate(examples)
    assert b.src.tolist() == [[5, 6, EOS_ID], [5, EOS_ID, PAD_ID]]
    assert b.src_mask.tolist() == [[True, True, True], [True, True, False]]
    assert b.tgt_in.tolist() == [[BOS_ID, 7, 8, 9], [BOS_ID, 7, PAD_ID, PAD_ID]]
    assert b.tgt_out.tolist() == [[7, 8, 9, EOS_ID], [7, EOS_ID, PAD_ID, PAD_ID]]
    assert b.src_lengths.tolist() == [3, 2] and b.tgt_lengths.tolist() == [4, 2]
    assert b.ids.tolist() == [10, 11]
    no_tgt = collate([Example([5, EOS_ID], None, 3)])
    assert no_tgt.tgt_in is None and no_tgt.ids.tolist() == [3]


def test_batches_respect_the_budget_and_cover_every_pair_once():
    s = sampler()
    for epoch in range(3):
        s.set_epoch(epoch)
        seen = []
        for indices in s:
            b = collate([EXAMPLES[i] for i in indices])
            assert b.size * max(b.src.size(1), b.tgt_in.size(1)) <= 300
            seen += b.ids.tolist()
        assert sorted(seen) == list(range(len(EXAMPLES)))


def test_order_is_deterministic_per_seed_and_epoch():
    a, b = sampler(), sampler()
    assert list(a) == list(b)
    a.set_epoch(5)
    b.set_epoch(5)
    assert list(a) == list(b)
    a.set_epoch(1)
    b.set_epoch(2)
    assert list(a) != list(b)
    assert len({len(sampler()), len(a), len(b)}) == 1


def test_unshuffled_order_is_by_length_and_stable():
    s = sampler(shuffle=False)
    first = list(s)
    assert first == list(s)
    longest = [max(max(LENGTHS[i]) for i in batch) for batch in first]
    assert longest == sorted(longest)


@pytest.mark.parametrize("num_shards", [2, 3, 7])
def test_shards_are_disjoint_complete_and_equal(num_shards):
    shards = [sampler(num_shards=num_shards, shard_id=r) for r in range(num_shards)]
    for s in shards:
        s.set_epoch(3)
    batches = [list(s) for s in shards]
    assert len({len(b) for b in batches}) == 1
    assert all(len(s) == len(b) for s, b in zip(shards, batches, strict=True))
    flat = [i for shard in batches for batch in shard for i in batch]
    assert sorted(flat) == list(range(len(EXAMPLES)))


def test_tiny_split_still_shares_equally():
    lengths = [(3, 3)] * 5
    shards = [TokenBatchSampler(lengths, 1000, num_shards=4, shard_id=r) for r in range(4)]
    batches = [list(s) for s in shards]
    assert len({len(b) for b in batches}) == 1
    assert sorted(i for b in batches for batch in b for i in batch) == list(range(5))
    with pytest.raises(DataError, match="ranks"):
        TokenBatchSampler(lengths, 1000, num_shards=6, shard_id=0)


def test_resume_continues_exactly():
    full = sampler()
    full.set_epoch(4)
    expected = list(full)
    s = sampler()
    s.set_epoch(4)
    it = iter(s)
    head = [next(it) for _ in range(5)]
    state = s.state_dict()
    assert state == {"epoch": 4, "position": 5}
    resumed = sampler()
    resumed.load_state_dict(state)
    resumed.set_epoch(4)  # a trainer's per-epoch call must not rewind
    assert head + list(resumed) == expected
    assert resumed.state_dict() == {"epoch": 5, "position": 0}


def test_oversized_pair_gets_its_own_batch_with_a_warning():
    messages: list[str] = []
    s = TokenBatchSampler([(3, 3), (50, 2), (3, 4)], 20, shuffle=False, log=messages.append)
    assert list(s) == [[0, 2], [1]]
    assert any("max_tokens" in m for m in messages)
