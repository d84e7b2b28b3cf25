"""Weight-free classical members a zoo may hold beside trained PTMs.

They map ``[batch, input_length] -> [batch, horizon]`` like any PTM, so selection and
roll-out treat them alike; they store no weights.
"""
from __future__ import annotations

import torch
from torch import nn

from seqfusion.training.models import register


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


@register("drift")
class Drift(nn.Module):
    """Extend the line through the first and last input values, damped by ``damping``."""

    def __init__(self, input_length: int = 36, horizon: int = 12, damping: float = 1.0) -> None:
        super().__init__()
        if not 0.0 < damping <= 1.0:
            raise ValueError(f"damping must be in (0, 1], got {damping}")
        self.input_length, self.horizon, self.damping = input_length, horizon, damping

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        slope = (x[:, -1:] - x[:, :1]) / (x.shape[1] - 1)
        steps = torch.arange(1, self.horizon + 1, dtype=x.dtype, device=x.device)
        if self.damping < 1.0:
            steps = torch.cumsum(self.damping ** steps, dim=0)
        return x[:, -1:] + slope * steps
