"""nmt's CPU dropout: the distribution of inverted dropout, its gradient, its seeding."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from nmt.models import VARIANTS, build_model
from nmt.models.dropout import LEVELS, Dropout, cpu_dropout


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_drops_at_rate_p_and_keeps_the_expectation(p, dtype):
    torch.manual_seed(0)
    x = torch.ones(1000, 1001, dtype=dtype)  # odd size: the last draw is half used
    y = cpu_dropout(x, p)
    assert y.dtype == dtype and y.shape == x.shape
    dropped = (y == 0).double().mean().item()
    # 1M Bernoulli(p) samples: standard error <= 5e-4
    assert abs(dropped - p) < 3e-3
    scale = LEVELS / (LEVELS - round(p * LEVELS))
    kept = y[y != 0].double()
    assert torch.allclose(kept, torch.full_like(kept, float(torch.tensor(scale, dtype=dtype))))
    assert abs(y.double().mean().item() - 1) < 1e-2


def test_every_element_gets_its_own_draw():
    """Neighbouring elements (the two halves of one 32-bit draw) drop independently."""
    torch.manual_seed(1)
    y = cpu_dropout(torch.ones(400_000), 0.5) == 0
    even, odd = y[0::2].double(), y[1::2].double()
    both = (even * odd).mean().item()
    assert abs(both - 0.25) < 5e-3  # independent halves: P(both dropped) = 1/4
    assert abs(even.mean().item() - 0.5) < 5e-3 and abs(odd.mean().item() - 0.5) < 5e-3


def test_gradient_is_the_mask_times_the_scale():
    torch.manual_seed(2)
    x = torch.randn(64, 33, requires_grad=True)
    y = cpu_dropout(x, 0.2)
    y.backward(torch.ones_like(y))
    factor = y.detach() / x.detach()  # 0 or the scale, element by element
    assert torch.allclose(x.grad, factor)


def test_same_seed_same_mask_and_the_generator_state_resumes_it():
    x = torch.ones(5000)
    torch.manual_seed(3)
    first = cpu_dropout(x, 0.1)
    state = torch.get_rng_state()
    second = cpu_dropout(x, 0.1)
    torch.manual_seed(3)
    assert torch.equal(cpu_dropout(x, 0.1), first)
    torch.set_rng_state(state)
    assert torch.equal(cpu_dropout(x, 0.1), second)
    assert not torch.equal(first, second)


def test_module_is_identity_in_eval_and_at_p_zero_and_drops_everything_at_p_one():
    x = torch.randn(10, 7)
    module = Dropout(0.3).eval()
    assert torch.equal(module(x), x)
    assert torch.equal(Dropout(0.0).train()(x), x)
    assert torch.equal(Dropout(1.0).train()(x), torch.zeros_like(x))
    assert isinstance(module, nn.Dropout)  # same module type and (empty) state dict


def test_every_variant_uses_it():
    for name, entry in VARIANTS.items():
        model = build_model(dataclasses.asdict(entry.config()), 40, 40)
        dropouts = [m for m in model.modules() if isinstance(m, nn.Dropout)]
        assert dropouts, name
        assert all(type(m) is Dropout for m in dropouts), name
