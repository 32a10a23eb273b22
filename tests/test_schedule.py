"""Learning-rate schedules: the warm-up plateau schedule and its exact resumption."""

from __future__ import annotations

import pytest
import torch

from nmt.training.config import ConfigError, TrainConfig
from nmt.training.schedule import Scheduler


def _scheduler(**train) -> Scheduler:
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=1e-3)
    cfg = TrainConfig(lr=1e-3, **train)
    return Scheduler(opt, cfg, "transformer")


def test_warmup_plateau_warms_up_then_halves_on_stalls() -> None:
    s = _scheduler(scheduler="warmup_plateau", warmup_steps=4, plateau_patience=1)
    lrs = []
    for _ in range(6):
        s.step()
        lrs.append(s.lr)
    assert lrs == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3])
    s.on_eval(10.0)  # best
    s.on_eval(10.0)  # one stall: within patience
    assert s.lr == pytest.approx(1e-3)
    s.on_eval(9.0)  # two stalls: more than patience 1
    assert s.lr == pytest.approx(5e-4)
    s.step()  # the decay survives the per-step update
    assert s.lr == pytest.approx(5e-4)
    s.on_eval(11.0)  # a new best resets the count
    s.on_eval(11.0)
    assert s.lr == pytest.approx(5e-4)


def test_warmup_plateau_stops_at_min_lr_and_resumes_exactly() -> None:
    s = _scheduler(scheduler="warmup_plateau", warmup_steps=1, plateau_patience=0, min_lr=3e-4)
    s.step()
    for bleu in (5.0, 4.0, 4.0, 4.0):
        s.on_eval(bleu)
    assert s.lr == pytest.approx(3e-4)
    state = s.state_dict()
    t = _scheduler(scheduler="warmup_plateau", warmup_steps=1, plateau_patience=0, min_lr=3e-4)
    t.load_state_dict(state)
    assert t.lr == s.lr and t.state_dict() == state


def test_unknown_scheduler_is_one_line_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"train\.scheduler='cosine' is not valid"):
        _scheduler(scheduler="cosine")


@pytest.mark.parametrize("kind", ["warmup_plateau", "plateau"])
def test_plateau_schedules_on_the_loss_decay_when_it_stops_falling(kind: str) -> None:
    s = _scheduler(scheduler=kind, warmup_steps=1, plateau_patience=0,
                   early_stopping_metric="loss")  # fmt: skip
    s.step()
    for loss in (3.0, 2.5, 2.0):  # falling: no decay
        s.on_eval(loss)
    assert s.lr == pytest.approx(1e-3)
    s.on_eval(2.1)  # rose: halved
    assert s.lr == pytest.approx(5e-4)
    s.on_eval(1.99999)  # lower, but by less than the relative threshold 1e-4: a stall
    assert s.lr == pytest.approx(2.5e-4)
    s.on_eval(1.5)  # a real improvement: kept
    assert s.lr == pytest.approx(2.5e-4)
    # on BLEU the same numbers are read the other way: falling BLEU decays at once
    b = _scheduler(scheduler=kind, warmup_steps=1, plateau_patience=0)
    b.step()
    for bleu in (3.0, 2.5):
        b.on_eval(bleu)
    assert b.lr == pytest.approx(5e-4)


def test_the_fused_optimiser_updates_as_the_textbook_adamw() -> None:
    """nmt's AdamW (fused on the CPU where torch has it) makes the updates of the
    per-tensor loop, to float rounding, with weight decay and a scheduled rate."""
    from nmt.training.build import FUSED_ADAMW_ON_CPU, make_optimizer

    torch.manual_seed(0)
    ours = [torch.nn.Parameter(torch.randn(7, 5)), torch.nn.Parameter(torch.randn(5))]
    ref = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    opt = make_optimizer(ours, 1e-2, torch.device("cpu"), betas=(0.9, 0.98), weight_decay=0.01)
    textbook = torch.optim.AdamW(ref, lr=1e-2, betas=(0.9, 0.98), weight_decay=0.01,
                                 foreach=False)  # fmt: skip
    assert opt.defaults["fused"] is FUSED_ADAMW_ON_CPU
    for step in range(5):
        grads = [torch.randn_like(p) for p in ours]
        for group in (opt, textbook):
            group.param_groups[0]["lr"] = 1e-2 / (step + 1)
        for p, q, g in zip(ours, ref, grads, strict=True):
            p.grad, q.grad = g.clone(), g.clone()
        opt.step()
        textbook.step()
    for p, q in zip(ours, ref, strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_a_checkpoints_optimiser_resumes_with_this_torchs_implementation() -> None:
    """A last.pt of the per-tensor AdamW resumes with nmt's (fused) one, its moments and
    rate restored; a fused one resumes per-tensor where the fused kernel is missing."""
    from nmt.training.build import load_optimizer_state, make_optimizer

    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(4, 3))]
    old = torch.optim.AdamW(params, lr=3e-3, foreach=False)
    params[0].grad = torch.randn(4, 3)
    old.step()
    opt = make_optimizer(params, 1e-3, torch.device("cpu"))
    load_optimizer_state(opt, old.state_dict())
    group = opt.param_groups[0]
    assert group["lr"] == 3e-3 and group["fused"] is opt.defaults["fused"]
    assert torch.equal(opt.state[params[0]]["exp_avg"], old.state[params[0]]["exp_avg"])
    looped = torch.optim.AdamW(params, lr=1e-3, foreach=False)
    load_optimizer_state(looped, opt.state_dict())
    assert not looped.param_groups[0]["fused"] and looped.param_groups[0]["foreach"] is False


def test_the_progress_bar_eta_is_the_average_rate_from_where_the_run_resumed():
    """No jump after a validation pause (no smoothing), and a resumed run's head start is
    not counted as speed."""
    from types import SimpleNamespace

    from nmt.training.console import BudgetBar

    budget = SimpleNamespace(used=lambda step, epochs, tokens, seconds: (step / 100, "max_steps"))
    bar = BudgetBar(budget)
    bar.start_at(SimpleNamespace(step=50, trained_tgt_tokens=0), 0.0, 0.0)
    assert bar.n == 50 and bar.smoothing == 0
    bar.advance(SimpleNamespace(step=60, trained_tgt_tokens=0), 0.0, 0.0)
    shown = bar.format_meter(**{**bar.format_dict, "elapsed": 10.0})
    bar.close()
    assert "[00:10<00:40" in shown  # 10% in 10 s from 50%: 40 s for the last 40%
