"""Quantiles and prediction intervals from the errors of back-tests inside each history.

Where the spread comes from (per series, per forecast step ``h``):

* **Back-tests** (a history with room for at least one, see :mod:`seqfusion.history`):
  :data:`BACKTEST_FACTOR` times the root mean square of the fused forecast's back-test
  errors at steps ``h - w .. h + w`` (``w = H // 8``) over the back-test windows; steps
  beyond the back-tests' span grow as ``sqrt(h)``; the spread never shrinks with ``h``.
* **No back-test** (a history of one zoo input or less): :data:`FALLBACK_FACTOR` times the
  random-walk spread ``sqrt(h)`` times the root mean square of the history's one-step
  differences (its last :data:`DIFF_HISTORY` points), at most :data:`SPREAD_CAP` times the
  history's standard deviation (for series that do not wander).

Quantile ``q`` at step ``h`` is ``forecast + spread * t_q``, with ``t_q`` the quantile of
a Student t distribution with :data:`DEGREES_OF_FREEDOM` degrees of freedom (errors have
heavier tails than a normal distribution). The window, the cap, the two factors and the
degrees of freedom were chosen on the validation origins of the whole-history benchmark
and, for the random-walk spread, also on the validation windows of the paper's 36-point
protocol (``seqfusion.benchmark.validation``), where every history is too short for a
back-test. Quantiles never cross: for levels in
increasing order the values increase (or stay equal where the spread is 0).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from seqfusion import history
from seqfusion.errors import SeqFusionError

#: the quantile levels returned by default (as Chronos and GIFT-Eval)
DEFAULT_QUANTILES: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
DEGREES_OF_FREEDOM = 3
SPREAD_CAP = 1.0
#: factors on the two spreads (back-test errors overstate the spread a little, a random
#: walk of one-step differences understates it), chosen on validation origins
BACKTEST_FACTOR = 0.8
FALLBACK_FACTOR = 1.2
DIFF_HISTORY = 200


def check_quantiles(quantiles: Any) -> np.ndarray:
    """Quantile levels as a float array ``[Q]``; each strictly between 0 and 1, no repeats."""
    try:
        q = np.asarray(list(quantiles), dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise SeqFusionError(f"quantiles must be numbers between 0 and 1, got {quantiles!r}") from None
    if q.size == 0 or not np.all((q > 0) & (q < 1)):
        raise SeqFusionError(f"quantiles must be numbers strictly between 0 and 1, got {quantiles!r}")
    if len(np.unique(q)) != len(q):
        raise SeqFusionError(f"quantiles must not repeat, got {quantiles!r}")
    return q


def check_levels(level: Any) -> list[float]:
    """Interval levels in percent (each strictly between 0 and 100), e.g. ``[80, 95]``."""
    values = [level] if isinstance(level, (int, float, np.integer, np.floating)) else level
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise SeqFusionError(f"level must be percentages such as [80, 95], got {level!r}") from None
    if not out or any(isinstance(v, bool) or not 0 < v < 100 for v in values):
        raise SeqFusionError(f"level must be percentages strictly between 0 and 100, got {level!r}")
    return out


def level_quantiles(levels: Sequence[float]) -> list[tuple[float, float]]:
    """The (lower, upper) quantile of each central interval level in percent."""
    return [((1 - lv / 100) / 2, 1 - (1 - lv / 100) / 2) for lv in levels]


def quantile_label(q: float) -> str:
    """Column suffix of a quantile level: ``0.1 -> "q0.1"``."""
    return f"q{q:g}"


def level_label(lv: float) -> str:
    """``80 -> "80"``, ``97.5 -> "97.5"`` (as statsforecast's interval columns)."""
    return f"{lv:g}"


def _t_cdf3(t: np.ndarray) -> np.ndarray:
    """Distribution function of Student's t with 3 degrees of freedom (closed form)."""
    u = t / np.sqrt(3.0)
    return 0.5 + (u / (1 + u * u) + np.arctan(u)) / np.pi


def t_quantile(q: np.ndarray) -> np.ndarray:
    """Quantiles of Student's t with :data:`DEGREES_OF_FREEDOM` (3) degrees of freedom,
    by bisection on the closed-form distribution function (to 1e-12)."""
    q = np.asarray(q, dtype=np.float64)
    lo = np.full(q.shape, -1e6)
    hi = np.full(q.shape, 1e6)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        below = _t_cdf3(mid) < q
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
        if np.max(hi - lo) < 1e-12:
            break
    return 0.5 * (lo + hi)


def spread(residuals: np.ndarray, histories: Sequence[np.ndarray]) -> np.ndarray:
    """Spread (scale of the forecast error) per series and step: ``[n, H]``.

    ``residuals [n, J, H]``: back-test errors (NaN where absent); ``histories``: the
    series (used where a series has no back-test).
    """
    n, _, H = residuals.shape
    steps = np.arange(1, H + 1, dtype=np.float64)
    w = max(1, H // 8)
    sq = residuals ** 2
    out = np.full((n, H), np.nan)
    with np.errstate(invalid="ignore"):
        for h in range(H):
            block = sq[:, :, max(0, h - w): h + w + 1].reshape(n, -1)
            count = np.isfinite(block).sum(axis=1)
            total = np.nansum(block, axis=1)
            out[:, h] = np.where(count > 0, np.sqrt(total / np.maximum(count, 1)), np.nan)
    # back-tests: beyond the last step they cover, grow as sqrt(h)
    ok = np.isfinite(out) & np.isfinite(residuals).any(axis=1)
    covered = ok.any(axis=1)
    last = H - 1 - np.argmax(ok[:, ::-1], axis=1)
    with np.errstate(invalid="ignore"):
        grown = out[np.arange(n), last][:, None] * np.sqrt(steps[None, :] / steps[last][:, None])
    out = np.where(np.arange(H)[None, :] > last[:, None], grown, out) * BACKTEST_FACTOR
    # no back-test: a random walk of the one-step differences, capped at the standard deviation
    rows = np.flatnonzero(~covered)
    if len(rows):
        x, lengths = history.right_aligned([histories[int(i)] for i in rows], DIFF_HISTORY)
        real = np.arange(x.shape[1])[None, :] >= (x.shape[1] - lengths)[:, None]
        # the padding repeats the first value, so its differences are 0: sum them all
        d = np.sqrt(np.sum(np.diff(x, axis=1) ** 2, axis=1) / np.maximum(lengths - 1, 1))
        mean = np.sum(np.where(real, x, 0.0), axis=1) / lengths
        std = np.sqrt(np.sum(np.where(real, x - mean[:, None], 0.0) ** 2, axis=1) / lengths)
        out[rows] = FALLBACK_FACTOR * np.minimum(d[:, None] * np.sqrt(steps)[None, :], SPREAD_CAP * std[:, None])
    out = np.where(np.isfinite(out), out, 0.0)
    return np.maximum.accumulate(out, axis=1)


def from_spread(point: np.ndarray, scale: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """Quantiles ``[n, H, Q]`` of forecasts ``point [n, H]`` with spread ``scale [n, H]``."""
    t = t_quantile(quantiles)
    with np.errstate(over="ignore", invalid="ignore"):
        out = point[..., None] + scale[..., None] * t[None, None, :]
    return out
