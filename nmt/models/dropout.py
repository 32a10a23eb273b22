"""Dropout (Srivastava et al. 2014, JMLR 15, Eq. 1-2) with a cheaper mask on the CPU.

Each element is kept with probability ``1 - p`` and scaled by ``1 / (1 - p)`` so that its
expectation is unchanged (inverted dropout). torch's CPU kernel draws one Bernoulli
sample per element from its serial generator: 8-13% of a training step of the default
models on a 2-core AMD EPYC (``scripts/profile_step.py``). Here the mask comes from 16
random bits an element, two elements per 32-bit value of the same generator (torch
draws a 64-bit number for each value when asked for the full 32-bit range): an element
is dropped when its bits fall below ``q = round(p * 2^16)``, so the drop rate is
``q / 2^16`` (within ``2^-17`` of ``p``) and the scale ``2^16 / (2^16 - q)`` keeps the
expectation exact (in bf16 the scale is rounded to bf16, as in torch's own dropout).
The draws come from torch's CPU generator, so ``torch.manual_seed`` and a checkpoint's
saved generator state reproduce them like any other sample.
On other devices, in eval mode, with ``p = 0`` or ``inplace`` it is :class:`nn.Dropout`.
The dropout between the layers of a stacked ``nn.GRU``/``nn.LSTM`` (the RNN encoder's two
layers) and on attention weights (``attention_dropout``, 0 by default) is torch's own.
"""

from __future__ import annotations

import torch
from torch import nn

#: values of the 16 random bits an element gets
LEVELS = 1 << 16


def cpu_dropout(x: torch.Tensor, p: float) -> torch.Tensor:
    """Inverted dropout of ``x`` (any shape, on the CPU) at rate ``p`` (quantised to 2^-16)."""
    dropped = round(p * LEVELS)
    if dropped >= LEVELS:
        return x * 0.0
    n = x.numel()
    draws = torch.empty((n + 1) // 2, dtype=torch.int32).random_(-(2**31), 2**31)
    bits = draws.view(torch.int16)[:n].view(x.shape)  # uniform on [-2^15, 2^15)
    keep = bits >= dropped - LEVELS // 2  # P(keep) = 1 - dropped / 2^16
    return x * keep.to(x.dtype).mul_(LEVELS / (LEVELS - dropped))


class Dropout(nn.Dropout):
    """:class:`nn.Dropout` whose CPU training path is :func:`cpu_dropout`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.p > 0 and x.device.type == "cpu" and not self.inplace:
            return cpu_dropout(x, self.p)
        return super().forward(x)
