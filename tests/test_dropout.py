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
    x = torch.ones(999, 1001, dtype=dtype)  # 999,999 elements: the last value is half used
    y = cpu_dropout(x, p)
    assert y.dtype == dtype and y.shape == x.shape
    dropped = (y == 0).double().mean().item()
    # 1M Bernoulli(p) samples: standard error <= 5e-4
    assert abs(dropped - p) < 3e-3
    scale = LEVELS / (LEVELS - round(p * LEVELS))
    kept = y[y != 0]
    assert torch.equal(kept, torch.ones_like(kept).mul_(scale))  # the scale, in x's dtype
    assert abs(y.double().mean().item() - 1) < 1e-2


def test_every_element_gets_its_own_bits():
    """The two elements of one 32-bit value drop independently, each at rate p."""
    torch.manual_seed(1)
    y = (cpu_dropout(torch.ones(400_000), 0.5) == 0).double().view(-1, 2)  # (values, 2)
    for i in range(2):  # 200k samples each: standard error 1.1e-3
        assert abs(y[:, i].mean().item() - 0.5) < 6e-3
    assert abs((y[:, 0] * y[:, 1]).mean().item() - 0.25) < 5e-3  # 1/4; s.e. 9.7e-4


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


def test_module_trains_with_the_cpu_mask_and_is_identity_in_eval_and_at_p_zero():
    x = torch.randn(10, 7)
    torch.manual_seed(4)
    trained = Dropout(0.3).train()(x)
    torch.manual_seed(4)
    assert torch.equal(trained, cpu_dropout(x, 0.3))
    assert torch.equal(Dropout(0.3).eval()(x), x)
    assert torch.equal(Dropout(0.0).train()(x), x)
    assert torch.equal(Dropout(1.0).train()(x), torch.zeros_like(x))
    assert Dropout(0.3).state_dict() == {}  # checkpoints are unchanged


def test_a_scalar_and_a_non_contiguous_tensor():
    torch.manual_seed(5)
    y = cpu_dropout(torch.tensor(2.0), 0.5)
    assert y.shape == () and y.item() in (0.0, 4.0)
    x = torch.randn(6, 8).t()  # (8, 6), strides (1, 8)
    y = cpu_dropout(x, 0.5)
    assert y.shape == x.shape and torch.equal(y[y != 0], 2 * x[y != 0])


def test_every_variant_uses_it():
    for name, entry in VARIANTS.items():
        model = build_model(dataclasses.asdict(entry.config()), 40, 40)
        dropouts = [m for m in model.modules() if isinstance(m, nn.Dropout)]
        assert dropouts, name
        assert all(type(m) is Dropout for m in dropouts), name
