"""DLinear: moving-average trend/remainder decomposition and one linear map per part."""
from __future__ import annotations

import torch
from torch import nn

from seqfusion.training.models import register


class MovingAverage(nn.Module):
    """Centered moving average over time with edge replication: ``[B, T] -> [B, T]``."""

    def __init__(self, kernel: int) -> None:
        super().__init__()
        self.kernel = kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        left = (self.kernel - 1) // 2
        right = self.kernel - 1 - left
        padded = torch.cat(
            [x[:, :1].expand(-1, left), x, x[:, -1:].expand(-1, right)], dim=1
        )
        return padded.unfold(1, self.kernel, 1).mean(dim=-1)


@register("dlinear")
class DLinear(nn.Module):
    """Univariate DLinear: ``[batch, input_length] -> [batch, horizon]``.

    The input is normalized inside the model by its own mean (the output shifted back),
    so a constant offset passes through unchanged.
    """

    def __init__(self, input_length: int = 36, horizon: int = 12, kernel: int = 13) -> None:
        super().__init__()
        self.input_length = input_length
        self.horizon = horizon
        self.decomp = MovingAverage(kernel)
        self.trend = nn.Linear(input_length, horizon)
        self.seasonal = nn.Linear(input_length, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        level = x.mean(dim=1, keepdim=True)
        x = x - level
        trend = self.decomp(x)
        return self.trend(trend) + self.seasonal(x - trend) + level
