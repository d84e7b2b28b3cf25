"""Weight-free classical members a zoo may hold beside trained PTMs.

They map ``[batch, input_length] -> [batch, horizon]`` like any PTM, so selection and
roll-out treat them alike; they store no weights.
"""
from __future__ import annotations

import torch
from torch import nn

from seqfusion.models import register


@register("naive")
class Naive(nn.Module):
    """Repeat the last observed value (persistence)."""

    def __init__(self, input_length: int = 36, horizon: int = 12) -> None:
        super().__init__()
        self.input_length, self.horizon = input_length, horizon

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, -1:].expand(-1, self.horizon).clone()


@register("seasonal_naive")
class SeasonalNaive(nn.Module):
    """Repeat the last ``period`` values."""

    def __init__(self, input_length: int = 36, horizon: int = 12, period: int = 7) -> None:
        super().__init__()
        if not 1 <= period <= input_length:
            raise ValueError(f"period must be in [1, {input_length}], got {period}")
        self.input_length, self.horizon, self.period = input_length, horizon, period

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = x[:, -self.period :]
        reps = -(-self.horizon // self.period)
        return last.repeat(1, reps)[:, : self.horizon]


@register("window_mean")
class WindowMean(nn.Module):
    """Repeat the mean of the input window."""

    def __init__(self, input_length: int = 36, horizon: int = 12) -> None:
        super().__init__()
        self.input_length, self.horizon = input_length, horizon

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=1, keepdim=True).expand(-1, self.horizon).clone()
