"""Members that are affine maps of their context: DLinear and the classical Naive,
SeasonalNaive, WindowMean and Drift (each with its map, for precomposed roll-outs)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from seqfusion.engine.configs import (
    DLinearConfig,
    DriftConfig,
    MemberConfig,
    NaiveConfig,
    SeasonalNaiveConfig,
    WindowMeanConfig,
)
from seqfusion.engine.matmul import matmul_rows
from seqfusion.engine.registry import Model, register
from seqfusion.engine.weights import State


class _AffineModel(Model):
    """A model that is an affine map of its context. Subclasses give the map
    (``_map() -> (A [h, T], b [h])`` in float64, used to precompose roll-outs) and a forward
    doing the torch module's operations (so that non-finite inputs spread alike)."""

    affine = True

    def __init__(self, config: Mapping[str, Any] | MemberConfig, state: State | None = None) -> None:
        super().__init__(config, state)
        self.state = dict(state or {})
        self.matrix, self.bias = self._map()

    def _map(self) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


def _float_input(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    return x if x.dtype == np.float64 else x.astype(np.float32, copy=False)


@register("dlinear")
class DLinear(_AffineModel):
    """DLinear (see :class:`seqfusion.training.models.dlinear.DLinear`): mean removal, centred moving
    average with edge replication, one linear map each for trend and remainder."""

    Config = DLinearConfig
    config: DLinearConfig

    def __init__(self, config: Mapping[str, Any] | DLinearConfig, state: State | None = None) -> None:
        if not state:
            raise ValueError("DLinear needs its weights")
        c = DLinearConfig.from_dict(config)
        T, k = c.input_length, c.kernel
        left = (k - 1) // 2
        self.average = np.zeros((T, T))  # trend = x @ average.T (edge-replicating moving average)
        for t in range(T):
            for j in np.clip(np.arange(t - left, t - left + k), 0, T - 1):
                self.average[t, j] += 1.0 / k
        super().__init__(c, state)
        w = {n: self.state[n].astype(np.float64) for n in ("trend.weight", "seasonal.weight")}
        b = {n: self.state[n].astype(np.float64) for n in ("trend.bias", "seasonal.bias")}
        self._weights = {dt: ((self.average.T.astype(dt), w["trend.weight"].T.astype(dt),
                              w["seasonal.weight"].T.astype(dt), (b["trend.bias"] + b["seasonal.bias"]).astype(dt)))
                         for dt in (np.float32, np.float64)}

    @classmethod
    def state_shapes(cls, config: Mapping[str, Any] | MemberConfig) -> dict[str, tuple[int, ...]]:
        c = DLinearConfig.from_dict(config)
        T, h = c.input_length, c.horizon
        return {"trend.weight": (h, T), "trend.bias": (h,), "seasonal.weight": (h, T), "seasonal.bias": (h,)}

    def _map(self) -> tuple[np.ndarray, np.ndarray]:
        T = self.input_length
        centre = np.eye(T) - 1.0 / T  # x - mean(x)
        wt = self.state["trend.weight"].astype(np.float64)
        ws = self.state["seasonal.weight"].astype(np.float64)
        a = (wt @ self.average + ws @ (np.eye(T) - self.average)) @ centre + 1.0 / T
        b = self.state["trend.bias"].astype(np.float64) + self.state["seasonal.bias"].astype(np.float64)
        return a, b

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _float_input(x)
        avg_t, wt_t, ws_t, bias = self._weights[np.float64 if x.dtype == np.float64 else np.float32]
        level = x.mean(axis=1, keepdims=True)
        x = x - level
        trend = matmul_rows(x, avg_t)
        out = matmul_rows(trend, wt_t)
        out += matmul_rows(x - trend, ws_t)
        out += bias
        out += level
        return out


@register("naive")
class Naive(_AffineModel):
    """Repeat the last observed value."""

    Config = NaiveConfig

    def _map(self) -> tuple[np.ndarray, np.ndarray]:
        a = np.zeros((self.horizon, self.input_length))
        a[:, -1] = 1.0
        return a, np.zeros(self.horizon)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _float_input(x)
        return np.repeat(x[:, -1:], self.horizon, axis=1)


@register("seasonal_naive")
class SeasonalNaive(_AffineModel):
    """Repeat the last ``period`` values."""

    Config = SeasonalNaiveConfig
    config: SeasonalNaiveConfig

    def _map(self) -> tuple[np.ndarray, np.ndarray]:
        T, h, p = self.input_length, self.horizon, self.config.period
        a = np.zeros((h, T))
        a[np.arange(h), T - p + np.arange(h) % p] = 1.0
        return a, np.zeros(h)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _float_input(x)
        p = self.config.period
        return np.tile(x[:, -p:], (1, -(-self.horizon // p)))[:, : self.horizon]


@register("window_mean")
class WindowMean(_AffineModel):
    """Repeat the mean of the input window."""

    Config = WindowMeanConfig

    def _map(self) -> tuple[np.ndarray, np.ndarray]:
        return np.full((self.horizon, self.input_length), 1.0 / self.input_length), np.zeros(self.horizon)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _float_input(x)
        return np.repeat(x.mean(axis=1, keepdims=True), self.horizon, axis=1)


@register("drift")
class Drift(_AffineModel):
    """Extend the line through the first and last values, steps damped by ``damping``."""

    Config = DriftConfig
    config: DriftConfig

    def _steps(self, dtype: Any) -> np.ndarray:
        damping = self.config.damping
        steps = np.arange(1, self.horizon + 1, dtype=dtype)
        if damping < 1.0:
            steps = np.cumsum(np.asarray(damping, dtype=dtype) ** steps, dtype=dtype)
        return steps

    def _map(self) -> tuple[np.ndarray, np.ndarray]:
        T, s = self.input_length, self._steps(np.float64)
        a = np.zeros((self.horizon, T))
        a[:, -1] = 1.0 + s / (T - 1)
        a[:, 0] = -s / (T - 1)
        return a, np.zeros(self.horizon)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _float_input(x)
        slope = (x[:, -1:] - x[:, :1]) / np.asarray(x.shape[1] - 1, dtype=x.dtype)
        return x[:, -1:] + slope * self._steps(x.dtype)
