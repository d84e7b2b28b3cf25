"""Quantiles and prediction intervals from the errors of back-tests inside each history.

Where the spread comes from (per series, per forecast step ``h``):

* **Back-tests** (a history with room for at least one, see :mod:`seqfusion.history`):
  :data:`BACKTEST_FACTOR` times the root mean square of the fused forecast's back-test
  errors at steps ``h - w .. h + w`` (``w = B // 8``, ``B`` the back-test horizon of the
  series' frequency) over the back-test windows; steps beyond the back-tests' span grow
  as ``sqrt(h)``; the spread never shrinks with ``h``. It does not depend on the horizon
  asked for, so the quantiles to ``H`` are the first ``H`` steps of longer ones.
* **No back-test** (a history of one zoo input or less): :data:`FALLBACK_FACTOR` times the
  random-walk spread ``sqrt(h)`` times the root mean square of the history's one-step
  differences (its last :data:`DIFF_HISTORY` points), at most :data:`SPREAD_CAP` times the
  history's standard deviation (for series that do not wander).

Quantile ``q`` at step ``h`` is ``forecast + spread * t_q``, with ``t_q`` the quantile of
a Student t distribution with :data:`DEGREES_OF_FREEDOM` degrees of freedom (errors have
heavier tails than a normal distribution). The window, the cap, the two factors and the
degrees of freedom were chosen on the validation origins of the whole-history benchmark
and, for the random-walk spread, also on the validation windows of the paper's 36-point
protocol (``benchmarks.harness.validation``), where every history is too short for a
back-test: ``benchmarks/sweeps/quantile_constants.py`` varies each alone
(``benchmarks/results/sweep_quantile_constants.md``). Quantiles never cross: for levels in
increasing order the values increase (or stay equal where the spread is 0).

Any scale: the errors (or the history) of each series are divided by a power of two near
their largest magnitude before they are squared, so the spread of ``c * y`` is ``c`` times
that of ``y`` from 1e-300 to 1e300; a spread or quantile beyond float64 is an error of the
forecaster, never ``inf`` or a zero-width interval.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from seqfusion import preprocess
from seqfusion.errors import SeqFusionError

#: the quantile levels returned by default (as Chronos and GIFT-Eval)
DEFAULT_QUANTILES: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
#: Each constant below is varied alone on validation origins by
#: ``benchmarks/sweeps/quantile_constants.py`` (``benchmarks/results/sweep_quantile_constants.md``;
#: score: WQL relative to SeasonalNaive, with the intervals' coverage kept in 75-85% / 91-98%).
#: Degrees of freedom of the t distribution of the errors: fixed, not a setting (the
#: distribution function below, ``_t_cdf3``, is the closed form for 3). On the whole-history
#: split 2 to inf are within 0.001; on the 36-point windows more degrees narrow the
#: intervals (5: 0.004 lower WQL, 80% coverage 76%; inf: 71%, below the target).
DEGREES_OF_FREEDOM = 3
#: cap on the random-walk spread, in standard deviations of the history (36-point windows:
#: 0.75 scores 0.007 lower WQL but covers 70% / 90%, below the targets; 1.5 costs 0.045)
SPREAD_CAP = 1.0
#: factors on the two spreads (back-test errors overstate the spread a little, a random
#: walk of one-step differences understates it). BACKTEST_FACTOR: 0.6 to 0.8 within 0.001
#: on the whole-history split (0.8 covers 84% / 97%, lower values less); FALLBACK_FACTOR:
#: on the 36-point windows 1.0 scores 0.008 lower WQL but covers 73% / 92%, below the
#: 80% target, 1.2 covers 80% / 94%; the whole-history split barely uses it (within 0.001)
BACKTEST_FACTOR = 0.8
FALLBACK_FACTOR = 1.2
#: points of the history the random-walk spread reads. It binds only where a history longer
#: than it has no back-test, i.e. with ``history="last"`` (the default's histories without a
#: back-test are shorter than 36 + 48 points); there 50 points score 0.016 lower WQL than
#: 200 (coverage 89.4% / 98.0% against 92.2% / 98.5%): a better value for ``history="last"``, not
#: shipped, since it would change those forecasts
DIFF_HISTORY = 200
#: Intermittent histories (:func:`intermittent`): at least INTERMITTENT_SHARE of the last
#: INTERMITTENT_WINDOW values exactly 0, none negative, no season found. Their quantiles are
#: the empirical quantiles of those values (:func:`empirical`): a spread around the point
#: forecast misses the mass at 0, and the median of such a series is often 0. Chosen on
#: validation windows by ``benchmarks/sweeps/intermittent.py``
#: (``benchmarks/results/sweep_intermittent.md``: shares 0.2-0.7 times windows 12-36; 0.2
#: and 0.3 with 24 points score best, 36 points miss short histories, without the season
#: check a solar plant's nights make it intermittent and its CRPS 2.5 times worse)
INTERMITTENT_SHARE = 0.3
INTERMITTENT_WINDOW = 24


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
        if isinstance(values, (str, bytes)) or any(isinstance(v, (str, bytes)) for v in values):
            raise TypeError("text")
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise SeqFusionError(f"level must be percentages such as [80, 95], got {level!r}") from None
    if not out or any(isinstance(v, (bool, np.bool_)) for v in values) or not all(0 < v < 100 for v in out):
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


def _pow2(top: np.ndarray) -> np.ndarray:
    """A power of two in ``(top / 2, top]`` for each ``top > 0`` (1 for 0): dividing by it
    is exact and leaves magnitudes in ``[1, 2)``; never overflows, even for ``top`` near
    the largest float64."""
    _, e = np.frexp(top)  # top = f * 2**e, 0.5 <= f < 1
    return np.where(top > 0, np.ldexp(1.0, e - 1), 1.0)


def spread(residuals: np.ndarray, histories: Sequence[np.ndarray], horizon: int | None = None,
           backtest_horizon: Any = None) -> np.ndarray:
    """Spread (scale of the forecast error) per series and step: ``[n, horizon]``.

    ``residuals [n, J, W]``: back-test errors (NaN where absent; ``inf`` where an error
    exceeds float64); ``histories``: the series (used where a series has no back-test);
    ``horizon``: the steps wanted (default ``W``; steps beyond ``W`` grow as ``sqrt(h)``);
    ``backtest_horizon`` (one, or ``[n]``): each series' back-test horizon ``B``, which sets
    the steps pooled around each step (``B // 8`` either side; default ``W``). A series'
    spread at step ``h`` depends neither on ``horizon`` nor on the other series.

    Scale-equivariant: each series' errors (or, without back-tests, its history) are
    divided by a power of two near their largest magnitude before squaring and multiplied
    back after the square root (exact), so no square overflows or underflows; a spread
    beyond float64 is ``inf`` (the forecaster turns it into an error), never 0.
    """
    residuals = np.asarray(residuals, dtype=np.float64)
    n, J, W = residuals.shape
    H = W if horizon is None else int(horizon)
    width = max(H, W)
    if width > W:
        residuals = np.concatenate([residuals, np.full((n, J, width - W), np.nan)], axis=2)
    B = np.broadcast_to(np.asarray(W if backtest_horizon is None else backtest_horizon, dtype=np.int64), (n,))
    steps = np.arange(1, width + 1, dtype=np.float64)
    finite = np.isfinite(residuals)
    overflow = np.isinf(residuals).any(axis=(1, 2))
    unit = _pow2(np.max(np.where(finite, np.abs(residuals), 0.0), axis=(1, 2), initial=0.0))[:, None]  # [n, 1]
    sq = np.where(finite, residuals / unit[:, :, None], 0.0) ** 2
    out = np.full((n, width), np.nan)
    windows = np.maximum(1, B // 8)
    for w in np.unique(windows):
        rows = np.flatnonzero(windows == w)
        # sum of squares and count over steps h - w .. h + w of all back-tests, added in a
        # fixed order (steps outside add exact zeros): step h does not depend on the width
        pad = ((0, 0), (0, 0), (w, w))
        sq_w, ok_w = np.pad(sq[rows], pad), np.pad(finite[rows], pad)
        total = np.zeros((len(rows), width))
        count = np.zeros((len(rows), width), dtype=np.int64)
        for o in range(2 * w + 1):
            for j in range(J):
                total += sq_w[:, j, o: o + width]
                count += ok_w[:, j, o: o + width]
        with np.errstate(invalid="ignore"):
            out[rows] = np.where(count > 0, np.sqrt(total / np.maximum(count, 1)), np.nan)
    # back-tests: beyond the last step they cover, grow as sqrt(h)
    ok = np.isfinite(out) & finite.any(axis=1)
    covered = ok.any(axis=1) | overflow
    last = width - 1 - np.argmax(ok[:, ::-1], axis=1)
    with np.errstate(invalid="ignore"):
        grown = out[np.arange(n), last][:, None] * np.sqrt(steps[None, :] / steps[last][:, None])
    out = np.where(np.arange(width)[None, :] > last[:, None], grown, out) * BACKTEST_FACTOR
    # no back-test: a random walk of the one-step differences, capped at the standard deviation
    rows = np.flatnonzero(~covered)
    if len(rows):
        x, lengths = preprocess.right_aligned([histories[int(i)] for i in rows], DIFF_HISTORY)
        x_unit = _pow2(np.max(np.abs(x), axis=1))[:, None]
        x = x / x_unit
        real = np.arange(x.shape[1])[None, :] >= (x.shape[1] - lengths)[:, None]
        # the padding repeats the first value, so its differences are 0: sum them all
        d = np.sqrt(np.sum(np.diff(x, axis=1) ** 2, axis=1) / np.maximum(lengths - 1, 1))
        mean = np.sum(np.where(real, x, 0.0), axis=1) / lengths
        std = np.sqrt(np.sum(np.where(real, x - mean[:, None], 0.0) ** 2, axis=1) / lengths)
        out[rows] = FALLBACK_FACTOR * np.minimum(d[:, None] * np.sqrt(steps)[None, :], SPREAD_CAP * std[:, None])
        unit[rows] = x_unit
    out = np.maximum.accumulate(np.where(np.isnan(out), 0.0, out), axis=1)
    with np.errstate(over="ignore"):
        out = out * unit  # exact unless beyond float64 (then inf)
    out[overflow] = np.inf
    return out[:, :H]


#: how the long-context members' own quantiles enter the spread: ``"none"``, ``"weight"``
#: (mixed in by the candidate ``long``'s weight) or ``"mean"`` (half and half; chosen on
#: validation origins: ``benchmarks/sweeps/long_context.py``)
LONG_SPREAD = "mean"


def long_spread(quantiles: np.ndarray) -> np.ndarray:
    """The spread ``[n, H]`` a set of quantiles ``[n, Q, H]`` (levels ``1/(Q+1) ... Q/(Q+1)``)
    implies: the distance between the outer two over that of the t distribution's."""
    Q = quantiles.shape[1]
    lo, hi = t_quantile(np.array([1.0 / (Q + 1), Q / (Q + 1.0)]))
    return (quantiles[:, -1] - quantiles[:, 0]) / (hi - lo)


def with_long_spread(scale: np.ndarray, quantiles: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The back-tests' spread ``scale [n, H]`` mixed with the long-context members' own
    (:func:`long_spread`) as :data:`LONG_SPREAD` says; series without them (NaN) keep
    ``scale``; the mix never shrinks with the step."""
    if LONG_SPREAD == "none":
        return scale
    w = np.asarray(weight, dtype=np.float64)[:, None] if LONG_SPREAD == "weight" else 0.5
    own = long_spread(quantiles)
    with np.errstate(invalid="ignore", over="ignore"):
        mixed = np.where(np.isfinite(own), (1.0 - w) * scale + w * own, scale)
    return np.maximum.accumulate(mixed, axis=1)


def from_spread(point: np.ndarray, scale: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """Quantiles ``[n, H, Q]`` of forecasts ``point [n, H]`` with spread ``scale [n, H]``."""
    t = t_quantile(quantiles)
    with np.errstate(over="ignore", invalid="ignore"):
        out = point[..., None] + scale[..., None] * t[None, None, :]
    return out


def intermittent(histories: Sequence[np.ndarray], seasonal: np.ndarray) -> np.ndarray:
    """Which histories are intermittent (``[n]`` bool): at least :data:`INTERMITTENT_WINDOW`
    present values, of which the last :data:`INTERMITTENT_WINDOW` have a share of at least
    :data:`INTERMITTENT_SHARE` exactly 0; none negative anywhere; and no season found
    (``seasonal [n]``, as :class:`seqfusion.history.HistoryForecast`'s: zeros that follow a
    season, such as solar power at night, are the season's, not intermittence)."""
    W = INTERMITTENT_WINDOW
    out = np.zeros(len(histories), dtype=bool)
    rows = [i for i, h in enumerate(histories) if not seasonal[i] and len(h) >= W]
    if not rows:
        return out
    tails = np.stack([np.asarray(histories[i][-W:], dtype=np.float64) for i in rows])  # [r, W]
    share = np.mean(tails == 0, axis=1)
    gaps = np.asarray(np.isnan(tails).any(axis=1))
    for r, i in enumerate(rows):
        if not (gaps[r] or share[r] >= INTERMITTENT_SHARE):
            continue  # most series: no zeros to speak of, decided without another look
        x = np.asarray(histories[i], dtype=np.float64)
        x = x[~np.isnan(x)]
        if len(x) >= W and not (x < 0).any():
            out[i] = np.mean(x[-W:] == 0) >= INTERMITTENT_SHARE
    return out


def empirical(histories: Sequence[np.ndarray], horizon: int, quantiles: np.ndarray) -> np.ndarray:
    """Quantiles ``[n, H, Q]``: at every step the empirical quantiles (linear interpolation)
    of each history's last :data:`INTERMITTENT_WINDOW` present values."""
    out = np.empty((len(histories), horizon, len(quantiles)))
    for i, h in enumerate(histories):
        x = np.asarray(h, dtype=np.float64)
        x = x[~np.isnan(x)][-INTERMITTENT_WINDOW:]
        out[i] = np.quantile(x, quantiles)[None, :]
    return out
