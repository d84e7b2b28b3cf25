"""Whole-history forecasting: what a long history adds to the zoo's 36-point view.

The zoo's members see the last 36 points of a series. A longer history holds two more
things: seasons longer than 36 points, and past windows whose outcome is known. This
module uses both, without any per-series iterative fitting:

1. **Seasonal adjustment.** With a season ``m > 1`` (from the sampling frequency, see
   :func:`season_length`) and at least 3 cycles of history, a series whose
   autocorrelation at lag ``m`` is significant (90%, the M4 competition's test) is divided
   by classical seasonal indices (multiplicative; additive when the series is not
   positive), estimated on its last 10 cycles.
2. **Candidates** per series: the zoo's forecast of the raw series (``zoo``), the zoo's
   forecast of the adjusted series re-seasonalized (``zoo_adjusted``), and on the adjusted
   series re-seasonalized: the Theta method (simple exponential smoothing plus half the
   linear trend, its smoothing weight picked from a grid by one-step error), Holt's damped
   trend (smoothing weights and damping from a grid, initial state in closed form), the
   random walk with drift and, with at least :data:`AGG_MIN_CYCLES` cycles, the zoo's
   forecast of the means of the last 36 cycles (``zoo_aggregated``: a view of the history
   36 cycles long); the seasonal naive forecast; and on the raw series a linear
   autoregression on short, seasonal and (for hourly and sub-hourly data) weekly lags,
   fitted by ridge and rolled out recursively, on the levels (``lags``: several
   seasonalities at once) and on the one-step differences (``lags_differenced``: a trend
   carries on).
   All are vectorized over series.
3. **Back-tests in the history.** Each candidate also forecasts the last ``backtests``
   windows of ``max(B, H)`` points inside the history (each from the points before it),
   ``B`` set by the frequency (:data:`BACKTEST_HORIZONS`: 6 yearly ... 48 hourly; the
   forecaster passes ``max(B, H)``). A candidate's weight is a softmax of
   ``-log(mean absolute back-test error) / temperature`` (relative to the best candidate of
   that series). Up to ``B`` the weights therefore do not depend on ``H``, and neither does
   any candidate's forecast of a step: the forecast to ``H <= B`` is the first ``H`` steps
   of any longer one up to ``B`` (quantiles too); a longer horizon back-tests over its own
   length (chosen on validation origins: ``benchmarks/sweeps/backtest_weights.py``).
4. A series with no room for a back-test from at least one zoo input of points (a
   history of at most 36 points) gets the zoo's forecast alone, as with ``history="last"``.
   Histories shorter than ``36 + B`` get back-tests of fewer than ``B`` points.

The back-test residuals of the fused forecast also give each series its spread for
quantiles (:mod:`seqfusion.quantiles`). Settings were chosen on the validation origins of
the whole-history benchmark (``seqfusion benchmark realuse --split validation``).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqfusion import engine, preprocess

#: candidate names, in the order of the weight columns
CANDIDATES: tuple[str, ...] = ("zoo", "zoo_adjusted", "theta", "seasonal_naive", "damped", "drift",
                                "zoo_aggregated", "long", "lags", "lags_differenced")
#: back-test windows per series (each :data:`BACKTEST_HORIZONS` points, ending at the end of the history).
#: This and the other tuned constants below (TEMPERATURE, SEASON_CYCLES, THETA_HISTORY,
#: AGG_MIN_CYCLES, DAMPED_HISTORY) are checked on validation origins by
#: ``benchmarks/sweeps/history_constants.py`` (``benchmarks/results/sweep_history_constants.md``)
BACKTESTS = 5
#: back-test horizon per frequency class: the M4 competition's horizons (as the
#: whole-history benchmark's), M3's 8 for data of unknown frequency. Back-tests have this
#: length for any horizon up to it (the horizon's own beyond), so up to it the candidate
#: weights (and the spread) do not depend on the horizon and a shorter horizon's forecast
#: is a prefix of a longer one's.
BACKTEST_HORIZONS: dict[str, int] = {"yearly": 6, "quarterly": 8, "monthly": 18, "weekly": 13, "daily": 14,
                                     "hourly": 48, "subhourly": 48, "unknown": 8}
#: frequency classes whose histories too short for a back-test get :data:`SHORT_WEIGHTS`
LOW_FREQUENCIES: tuple[str, ...] = ("yearly", "quarterly", "monthly")
#: candidate weights (as :data:`CANDIDATES`) for a low-frequency history too short for a
#: back-test: equal thirds of Theta, the damped trend and the drift on the seasonally
#: adjusted history (chosen on the whole-history benchmark's validation origins, where a
#: share for the zoo's forecast made these histories worse; elsewhere the zoo alone;
#: ``benchmarks/results/sweep_history_grids.md``: the zoo alone 0.032 worse, quarters with
#: the zoo 0.003, Theta alone 0.007)
def shares(*names: str) -> np.ndarray:
    """Equal weights on the candidates ``names``, zero on the others (columns as
    :data:`CANDIDATES`)."""
    w = np.array([float(c in names) for c in CANDIDATES])
    return w / w.sum()


SHORT_WEIGHTS = shares("theta", "damped", "drift")


def low_frequency(classes: Any) -> np.ndarray:
    """Which frequency classes (one name, or one per series) are in :data:`LOW_FREQUENCIES`."""
    return np.isin(np.asarray(classes, dtype=object), LOW_FREQUENCIES)


def backtest_horizons(classes: Any) -> np.ndarray:
    """The back-test horizon of each frequency class (a sequence of class names):
    :data:`BACKTEST_HORIZONS`, ``unknown``'s for a class not listed; ``[n]`` int."""
    default = BACKTEST_HORIZONS["unknown"]
    return np.array([BACKTEST_HORIZONS.get(str(c), default) for c in classes], dtype=np.int64)
#: softmax temperature on log back-test errors
TEMPERATURE = 0.2
#: candidate weights per forecast step: step ``h`` weighs the candidates by their mean
#: back-test error over steps ``1..min(h, B)`` (True), or every step by the error over all
#: ``B`` back-test steps (False: better on validation, see
#: ``benchmarks/results/sweep_backtest_weights.md``)
STEP_WEIGHTS = False
#: shortest context a back-test forecasts from (derived, not tuned: the shipped zoo's input
#: length; the forecaster passes its zoo's, so a history of one zoo input is forecast by
#: the zoo alone, exactly as before)
MIN_BACKTEST_CONTEXT = 36
#: cycles of history the seasonal indices are estimated on
SEASON_CYCLES = 10
#: points of the (adjusted) history Theta smooths over
THETA_HISTORY = 500
#: smoothing weights Theta chooses from. This grid and DAMPED_GRID are checked on validation
#: origins by ``benchmarks/sweeps/history_grids.py``
#: (``benchmarks/results/sweep_history_grids.md``: coarser, finer or wider grids score
#: within 0.001 of it)
THETA_ALPHAS = np.linspace(0.05, 1.0, 20)
#: fewest cycles of history for the zoo's forecast of cycle means (``zoo_aggregated``)
AGG_MIN_CYCLES = 12
#: points of the (adjusted) history the damped trend smooths over
DAMPED_HISTORY = 200
#: (alpha, beta, phi) grid of the damped trend (``benchmarks/results/sweep_history_grids.md``:
#: finer alphas, more betas or an undamped phi within 0.001; a 2-point grid 0.005 worse)
DAMPED_GRID = [(a, a * b, p) for a in (0.1, 0.3, 0.5, 0.8) for b in (0.05, 0.2) for p in (0.9, 0.98)]

#: points of the raw history the lag regressions (``lags``, ``lags_differenced``) fit on;
#: this, LAG_PENALTY and both candidates against either alone are checked on validation
#: origins by ``benchmarks/sweeps/lag_regression.py`` (``benchmarks/results/sweep_lag_regression.md``)
LAG_HISTORY = 2000
#: ridge penalty of the lag regressions (on standardized lags, intercept free)
LAG_PENALTY = 0.1
#: width buckets of the lag regression: a history is zero-padded to a multiple of this
#: (its own length decides, so its forecast never depends on the other series)
LAG_BUCKET = 256
#: histories fitted at once (bounds the memory of the lag matrices)
LAG_CHUNK = 64

#: a zoo forecast of many contexts: (contexts as 1-D arrays, horizon, their series) -> [n, H]
ZooForecast = Callable[[list[np.ndarray], int, np.ndarray], np.ndarray]
#: the long-context members' forecast of many contexts: (contexts, horizon) -> quantiles
#: [n, Q, H] (levels 1/(Q+1) ... Q/(Q+1), Q odd; the median is the candidate)
LongForecast = Callable[[list[np.ndarray], int], np.ndarray]


def backtest_lengths(classes: Any, horizon: int) -> np.ndarray:
    """The back-tests' length per series for a forecast of ``horizon`` steps: the longer of
    the frequency's :data:`BACKTEST_HORIZONS` and the horizon (``[n]`` int; chosen on
    validation origins, ``benchmarks/sweeps/backtest_weights.py``)."""
    return np.maximum(backtest_horizons(classes), int(horizon))


def season_length(freq_class: str, step: Any = None) -> int:
    """Steps per natural cycle of a frequency class: a year for yearly (1), quarterly (4),
    monthly (12) and weekly (52) data, a week for daily data (7), a day for hourly (24) and
    sub-hourly data (steps per day, from ``step``: a pandas offset or Timedelta; 1 when not
    known or not a divisor of a day); 1 for unknown frequencies."""
    per_year = {"yearly": 1, "quarterly": 4, "monthly": 12, "weekly": 52}
    if freq_class in per_year:
        return per_year[freq_class]
    if freq_class == "daily":
        return 7
    if freq_class == "hourly":
        return 24
    if freq_class == "subhourly" and step is not None:
        import pandas as pd

        try:
            ns = int(pd.Timedelta(step).value)
        except (TypeError, ValueError):
            return 1
        day = 86_400 * 10**9
        return day // ns if 0 < ns < day and day % ns == 0 else 1
    return 1


# ------------------------------------------------------------------ seasonal adjustment


def _significant_acf(x: np.ndarray, m: int) -> np.ndarray:
    """Rows of ``x [n, L]`` whose autocorrelation at lag ``m`` is significant at 90%
    (Bartlett's bound over lags 1..m-1): ``[n]`` bool."""
    d = x - x.mean(axis=1, keepdims=True)
    denom = np.einsum("nl,nl->n", d, d)
    acf = np.stack([np.einsum("nl,nl->n", d[:, k:], d[:, :-k]) for k in range(1, m + 1)], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        acf /= denom[:, None]
        bound = 1.645 * np.sqrt((1.0 + 2.0 * np.sum(acf[:, :-1] ** 2, axis=1)) / x.shape[1])
        return np.asarray((denom > 0) & (np.abs(acf[:, -1]) > bound))


def seasonal_rows(x: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Classical decomposition of many histories of one length with season ``m``: seasonal
    indices from the last :data:`SEASON_CYCLES` cycles where the autocorrelation at lag
    ``m`` is significant (90%, Bartlett's bound over lags 1..m-1; at least 3 cycles).

    ``x [n, L]`` -> (indices ``[n, m]``, NaN rows where a history is not seasonal at ``m``;
    ``multiplicative [n]`` bool). Positions count from each history's first point.
    """
    n, L = x.shape
    out = np.full((n, max(m, 1)), np.nan)
    mult = np.zeros(n, dtype=bool)
    width = min(L, SEASON_CYCLES * m)
    if m <= 1 or width < 3 * m or n == 0:
        return out, mult
    tail = x[:, L - width:]
    seasonal = _significant_acf(tail, m)
    if not seasonal.any():
        return out, mult
    rows = np.flatnonzero(seasonal)
    tail = tail[rows]
    kernel = np.full(m + 1 if m % 2 == 0 else m, 1.0 / m)
    if m % 2 == 0:  # centred 2 x m moving average
        kernel[0] = kernel[-1] = 0.5 / m
    trend = np.lib.stride_tricks.sliding_window_view(tail, len(kernel), axis=1) @ kernel
    half = (len(kernel) - 1) // 2
    core = tail[:, half: half + trend.shape[1]]
    is_mult = (tail.min(axis=1) > 0) & (trend.min(axis=1) > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(is_mult[:, None], core / trend, core - trend)
    phase = (np.arange(half, half + trend.shape[1]) + (L - width)) % m
    onehot = np.zeros((trend.shape[1], m))
    onehot[np.arange(trend.shape[1]), phase] = 1.0
    s = engine.matmul_rows(ratio, onehot) / np.maximum(onehot.sum(axis=0), 1.0)  # rows independent of n
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(is_mult[:, None], s / s.mean(axis=1, keepdims=True), s - s.mean(axis=1, keepdims=True))
    ok = np.isfinite(s).all(axis=1) & ~(is_mult & (s.min(axis=1) <= 0))
    out[rows[ok]] = s[ok]
    mult[rows[ok]] = is_mult[ok]
    return out, mult


# ------------------------------------------------------------------ simple candidates


def theta(histories: Sequence[np.ndarray], horizon: int) -> np.ndarray:
    """The Theta method on each history (its last :data:`THETA_HISTORY` points): ``[n, H]``.

    Simple exponential smoothing with the weight of :data:`THETA_ALPHAS` that has the
    lowest one-step squared error, plus half the least-squares slope, as the classical
    Theta method (theta lines 0 and 2). All series are smoothed together: each is
    left-padded with its first value, which leaves its smoothing unchanged.
    """
    n = len(histories)
    if n == 0:
        return np.empty((0, horizon))
    y, lengths = preprocess.right_aligned(histories, THETA_HISTORY)
    L = y.shape[1]
    first = L - lengths  # first real column of each row
    col = np.arange(L)[None, :]
    valid = col >= first[:, None]
    pos = np.where(valid, col - first[:, None] - (lengths[:, None] - 1) / 2.0, 0.0)
    mean = np.sum(np.where(valid, y, 0.0), axis=1) / lengths
    denom = np.sum(pos * pos, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(denom > 0, np.sum(pos * (y - mean[:, None]), axis=1) / denom, 0.0)
    lengths = lengths.astype(np.float64)
    alphas = THETA_ALPHAS[None, :]
    level = np.repeat(y[:, :1], len(THETA_ALPHAS), axis=1)
    sse = np.zeros_like(level)
    for step in range(1, L):
        err = y[:, step: step + 1] - level
        sse += err * err
        level += alphas * err
    best = np.argmin(sse, axis=1)
    a = THETA_ALPHAS[best][:, None]
    lv = level[np.arange(n), best][:, None]
    steps = np.arange(1, horizon + 1)[None, :]
    return lv + 0.5 * slope[:, None] * ((steps - 1) + 1.0 / a - (1.0 - a) ** lengths[:, None] / a)


def damped(histories: Sequence[np.ndarray], horizon: int) -> np.ndarray:
    """Holt's damped-trend exponential smoothing on each history (its last
    :data:`DAMPED_HISTORY` points): ``[n, H]``.

    The smoothing weights and damping come from a fixed grid (:data:`DAMPED_GRID`), the
    initial level and trend are fitted in closed form (every state is affine in them), and
    each series takes the grid point of lowest one-step squared error.
    """
    n = len(histories)
    if n == 0:
        return np.empty((0, horizon))
    y, lengths = preprocess.right_aligned(histories, DAMPED_HISTORY)
    L = y.shape[1]
    first = L - lengths
    origin = y[np.arange(n), first][:, None]
    y = y - origin
    grid = np.asarray(DAMPED_GRID, dtype=np.float64)  # [G, 3]: alpha, beta, phi
    al, be, ph = (grid[None, :, i] for i in range(3))
    shape = (n, len(grid))
    cl, cb = np.zeros(shape), np.zeros(shape)
    gll, glb, gbl, gbb = np.ones(shape), np.zeros(shape), np.zeros(shape), np.ones(shape)
    sums = {k: np.zeros(shape) for k in ("rr", "ru", "rv", "uu", "uv", "vv")}
    for step in range(L):
        valid = (step >= first)[:, None]
        r = y[:, step: step + 1] - (cl + ph * cb)
        u = gll + ph * gbl
        v = glb + ph * gbb
        for key, val in (("rr", r * r), ("ru", r * u), ("rv", r * v), ("uu", u * u), ("uv", u * v), ("vv", v * v)):
            sums[key] += np.where(valid, val, 0.0)
        cl, cb, gll, glb, gbl, gbb = (
            np.where(valid, cl + ph * cb + al * r, cl), np.where(valid, ph * cb + be * r, cb),
            np.where(valid, (1 - al) * u, gll), np.where(valid, (1 - al) * v, glb),
            np.where(valid, ph * gbl - be * u, gbl), np.where(valid, ph * gbb - be * v, gbb))
    ridge = 1e-9 * (sums["uu"] + sums["vv"]) + 1e-300
    a11, a12, a22 = sums["uu"] + ridge, sums["uv"], sums["vv"] + ridge
    det = a11 * a22 - a12 * a12
    with np.errstate(divide="ignore", invalid="ignore"):
        l0 = np.where(det > 0, (a22 * sums["ru"] - a12 * sums["rv"]) / det, 0.0)
        b0 = np.where(det > 0, (a11 * sums["rv"] - a12 * sums["ru"]) / det, 0.0)
    sse = (sums["rr"] - 2 * l0 * sums["ru"] - 2 * b0 * sums["rv"] + l0 * l0 * sums["uu"]
           + 2 * l0 * b0 * sums["uv"] + b0 * b0 * sums["vv"])
    sse = np.where(np.isfinite(sse), sse, np.inf)
    best = np.argmin(sse, axis=1)
    rows = np.arange(n)
    level = (cl + gll * l0 + glb * b0)[rows, best]
    trend = (cb + gbl * l0 + gbb * b0)[rows, best]
    phi = grid[best, 2][:, None]
    damp = np.cumsum(phi ** np.arange(1, horizon + 1)[None, :], axis=1)
    return origin + level[:, None] + damp * trend[:, None]


def drift(histories: Sequence[np.ndarray], horizon: int) -> np.ndarray:
    """The random walk with drift on each history (its last :data:`THETA_HISTORY` points):
    the last value plus the mean step per step ahead, ``[n, H]``."""
    out = np.empty((len(histories), horizon))
    steps = np.arange(1, horizon + 1)
    for i, h in enumerate(histories):
        t = h[-THETA_HISTORY:]
        slope = (t[-1] - t[0]) / (len(t) - 1) if len(t) > 1 else 0.0
        out[i] = t[-1] + slope * steps
    return out


def _zoo_aggregated(adjusted: list[np.ndarray], seasons: np.ndarray, horizon: int, zoo: ZooForecast,
                    rows: np.ndarray, fallback: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The zoo's forecast of the means of whole cycles (the last 36 at most) of each
    seasonally adjusted history, each cycle's forecast held over its ``m`` steps: ``[n, H]``,
    and which histories have it (a season ``m > 1`` and at least :data:`AGG_MIN_CYCLES`
    cycles; the others get ``fallback``'s rows and take no weight)."""
    out = np.array(fallback, dtype=np.float64, copy=True)
    lengths = np.fromiter((len(a) for a in adjusted), dtype=np.int64, count=len(adjusted))
    has = (seasons > 1) & (lengths >= AGG_MIN_CYCLES * seasons)
    ok = np.flatnonzero(has)
    if len(ok):
        means = []
        for k in ok:
            m = int(seasons[k])
            cycles = min(int(lengths[k]) // m, 36)
            means.append(adjusted[k][lengths[k] - cycles * m:].reshape(cycles, m).mean(axis=1))
        steps = -(-horizon // seasons[ok])  # cycles ahead; one call per count, so that a
        for s in np.unique(steps):  # series' forecast never depends on the others' seasons
            group = np.flatnonzero(steps == s)
            f = zoo([means[j] for j in group], int(s), rows[ok[group]])
            for j, fj in zip(group, f):
                out[ok[j]] = np.repeat(fj, int(seasons[ok[j]]))[:horizon]
    return out, has


def lag_set(length: int, season: int, week: int) -> tuple[int, ...]:
    """The lags the lag regression of a history of ``length`` points uses: 1-3, the
    season's ``m - 1, m, m + 1, 2m`` (``m > 1``) and the week's ``w - 1, w, w + 1``
    (``w > 1``: the week of hourly and sub-hourly data), each at most a third of the
    history (so that at least a third of it are regression rows)."""
    lags = {1, 2, 3}
    if season > 1:
        lags |= {season - 1, season, season + 1, 2 * season}
    if week > 1:
        lags |= {week - 1, week, week + 1}
    return tuple(sorted(lag for lag in lags if 3 * lag <= length))


def lag_regression(histories: Sequence[np.ndarray], horizon: int, seasons: np.ndarray, weeks: np.ndarray,
                   differences: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A linear autoregression on short, seasonal and weekly lags (:func:`lag_set`), fitted
    by ridge (:data:`LAG_PENALTY`) on each standardized history (its last
    :data:`LAG_HISTORY` points), or on its one-step differences (``differences``: a
    trend carries on), and rolled out recursively: ``[n, H]``, and which histories
    have it (enough points for twice as many rows as coefficients; the others get their
    last value and take no weight). The roll-out is kept within the history's range
    widened by that range on each side, so an unstable fit cannot run away."""
    n = len(histories)
    out = np.empty((n, horizon))
    has = np.zeros(n, dtype=bool)
    tails = [np.asarray(h, dtype=np.float64)[-LAG_HISTORY:] for h in histories]
    groups: dict[tuple[tuple[int, ...], int], list[int]] = {}
    for i, (t, m, w) in enumerate(zip(tails, seasons, weeks)):
        groups.setdefault((lag_set(len(t), int(m), int(w)), -(-len(t) // LAG_BUCKET) * LAG_BUCKET), []).append(i)
    for key, members in groups.items():
        group = np.array(members)
        lags, width = np.asarray(key[0], dtype=np.int64), key[1]
        lengths = np.array([len(tails[i]) for i in group])
        ok = lengths - int(lags.max()) - int(differences) >= 2 * (len(lags) + 1)
        for i in group[~ok]:
            out[i] = tails[i][-1]
        for start in range(0, int(ok.sum()), LAG_CHUNK):
            idx = group[ok][start: start + LAG_CHUNK]
            out[idx] = _lag_fit(tails, idx, lags, width, horizon, differences)
            has[idx] = True
    return out, has


def _lag_fit(tails: list[np.ndarray], idx: np.ndarray, lags: np.ndarray, width: int, horizon: int,
             differences: bool) -> np.ndarray:
    """:func:`lag_regression` of the histories ``idx`` (one lag set, one width bucket)."""
    p, k = int(lags.max()), len(lags)
    lengths = np.array([len(tails[i]) for i in idx])
    y = np.zeros((len(idx), width))
    for row, i in enumerate(idx):
        y[row, width - lengths[row]:] = tails[i]
    valid = np.arange(width)[None, :] >= (width - lengths)[:, None]
    mean = y.sum(axis=1) / lengths
    std = np.sqrt(np.where(valid, (y - mean[:, None]) ** 2, 0.0).sum(axis=1) / lengths)
    std = np.where(std > 0, std, 1.0)
    z = np.where(valid, (y - mean[:, None]) / std[:, None], 0.0)
    first = width - lengths + int(differences)  # first point of the modelled series
    s = np.diff(z, axis=1, prepend=0.0) if differences else z
    s = np.where(np.arange(width)[None, :] >= first[:, None], s, 0.0)
    rows = np.arange(p, width)[None, :] >= (first + p)[:, None]  # every lag inside the history
    # features [n, k + 1, rows]; every sum runs along a row's last axis, so a history's
    # numbers never depend on the others fitted with it
    X = np.stack([s[:, p - lag: width - lag] for lag in lags] + [np.ones_like(s[:, p:])], axis=1)
    X = X * rows[:, None, :]
    A = np.empty((len(idx), k + 1, k + 1))
    for a in range(k + 1):
        for c in range(a, k + 1):
            A[:, a, c] = A[:, c, a] = (X[:, a] * X[:, c]).sum(axis=1)
    A[:, np.arange(k), np.arange(k)] += LAG_PENALTY
    b = (X * (s[:, p:] * rows)[:, None, :]).sum(axis=2)
    coef = np.linalg.solve(A, b[:, :, None])[:, :, 0]
    zmin = np.where(valid, z, np.inf).min(axis=1)
    zmax = np.where(valid, z, -np.inf).max(axis=1)
    lo, hi = 2 * zmin - zmax, 2 * zmax - zmin
    buf = np.concatenate([s, np.zeros((len(idx), horizon))], axis=1)
    level = z[:, -1].copy()
    out = np.empty((len(idx), horizon))
    for step in range(horizon):
        t = width + step
        nxt = (buf[:, t - lags] * coef[:, :k]).sum(axis=1) + coef[:, k]
        if differences:
            new = np.clip(level + nxt, lo, hi)
            buf[:, t] = new - level
            level = new
        else:
            buf[:, t] = level = np.clip(nxt, lo, hi)
        out[:, step] = level
    return out * std[:, None] + mean[:, None]


def seasonal_naive(histories: Sequence[np.ndarray], horizon: int, seasons: np.ndarray) -> np.ndarray:
    """Repeat each history's last cycle (its last value when shorter than a cycle): ``[n, H]``."""
    out = np.empty((len(histories), horizon))
    for i, h in enumerate(histories):
        m = int(seasons[i]) if len(h) >= seasons[i] else 1
        out[i] = np.resize(h[-m:], horizon)
    return out


# ------------------------------------------------------------------ the fusion


@dataclass
class HistoryForecast:
    """What :func:`forecast` returns for ``n`` series and horizon ``H``.

    ``point [n, H]``: the forecasts; ``weights [n, C]``: candidate weights (columns as
    :data:`CANDIDATES`); ``residuals [n, J, W]``: back-test errors of the fused forecast
    (target minus forecast; NaN where a series had fewer back-tests, and beyond each
    series' back-test length; ``W`` is the larger of ``H`` and the longest back-test);
    ``seasonal [n]``: whether a season was removed; ``season [n]``: the season length used;
    ``candidates [n, C, H]``: each candidate's own forecast (a candidate a series cannot
    have, such as ``zoo_aggregated`` on a short history, repeats ``zoo_adjusted``, and
    ``long`` without long-context members repeats ``zoo``; NaN but in
    the first column for series that take the zoo alone, where no other is computed);
    ``backtest_horizon [n]``: each series' back-test horizon (its back-tests are that long,
    or shorter where the history is short); ``long_quantiles [n, Q, H]``: the long-context
    members' quantiles of the forecast (NaN for series that take the zoo alone; None
    without long-context members).
    """

    point: np.ndarray
    weights: np.ndarray
    residuals: np.ndarray
    seasonal: np.ndarray
    season: np.ndarray
    candidates: np.ndarray
    backtest_horizon: np.ndarray
    long_quantiles: np.ndarray | None = None

    @property
    def n_backtests(self) -> np.ndarray:
        """Back-tests each series had: ``[n]``."""
        return np.isfinite(self.residuals[:, :, 0]).sum(axis=1)


def forecast(histories: Sequence[np.ndarray], horizon: int, seasons: np.ndarray, zoo: ZooForecast,
             backtests: int | None = None, temperature: float | None = None,
             min_context: int | None = None, short: np.ndarray | None = None,
             backtest_horizon: Any = None, step_weights: bool | None = None,
             long: LongForecast | None = None, weeks: np.ndarray | None = None) -> HistoryForecast:
    """Forecast whole histories (1-D float64 arrays without NaN) ``horizon`` steps ahead.

    ``seasons [n]``: season length per series (1: none); ``zoo(contexts, H, rows)``: the
    zoo's forecasts ``[len(contexts), H]`` of contexts (only their last points are used);
    ``rows`` says which series each context belongs to (for per-series settings such as
    the frequency); ``min_context``: shortest history a back-test forecasts from;
    ``short [n]`` (bool): series that take :data:`SHORT_WEIGHTS` when they have no room for
    a back-test (the others then get the zoo alone); ``backtest_horizon`` (one, or ``[n]``):
    the length of each series' back-tests (``None``: ``horizon``; the forecaster passes
    :func:`backtest_horizons` of the series' frequencies); ``long(contexts, H)``: the
    long-context members' forecasts of the raw histories (candidate ``long``; ``None``:
    the candidate takes no weight); ``weeks [n]``: the steps of a week for series whose
    season is a day (hourly and sub-hourly data), else 1, for the lag regression
    (``None``: all 1). The weights come from the
    back-tests alone, and every candidate's forecast for a step does not depend on the
    steps after it, so with a fixed ``backtest_horizon`` the forecast to ``h`` is the first
    ``h`` steps of any longer forecast.
    ``None`` settings take the module's values (:data:`BACKTESTS`, :data:`TEMPERATURE`,
    :data:`MIN_BACKTEST_CONTEXT`).
    """
    backtests = BACKTESTS if backtests is None else backtests
    temperature = TEMPERATURE if temperature is None else temperature
    step_weights = STEP_WEIGHTS if step_weights is None else step_weights
    min_context = MIN_BACKTEST_CONTEXT if min_context is None else min_context
    n = len(histories)
    bh = np.broadcast_to(np.asarray(horizon if backtest_horizon is None else backtest_horizon, dtype=np.int64),
                         (n,)).copy()
    if n and bh.min() < 1:
        raise ValueError(f"back-test horizons must be >= 1, got {bh.min()}")
    seasons = np.asarray(seasons, dtype=np.int64)
    tasks = _tasks(histories, int(horizon), bh, backtests, min_context, short)
    weeks = np.ones(n, dtype=np.int64) if weeks is None else np.asarray(weeks, dtype=np.int64)
    preds, unavailable, seasonal_task, long_q = _candidates(tasks, seasons, weeks, zoo, long, int(horizon))
    weights, targets = _weights(histories, tasks, preds, unavailable, temperature, step_weights)
    ts, tj, H = tasks.series, tasks.j, tasks.H
    # the zoo's forecast plus the weighted departures from it: candidates that agree give
    # exactly their common value (weights that sum to one only up to rounding would not)
    if step_weights:
        fused = preds[:, 0] + np.einsum("tch,tch->th", weights[ts], preds - preds[:, :1])
    else:
        fused = preds[:, 0] + np.einsum("tc,tch->th", weights[ts, :, 0], preds - preds[:, :1])
    residuals = np.full((n, backtests, H), np.nan)
    bt = np.flatnonzero(tj > 0)
    residuals[ts[bt], tj[bt] - 1] = targets[bt] - fused[bt]
    point = fused[tj == 0, :horizon]
    seasonal = np.zeros(n, dtype=bool)
    seasonal[ts[tj == 0]] = seasonal_task[tj == 0]
    own = preds[tj == 0, :, :horizon]
    own[~tasks.full[tj == 0], 1:] = np.nan
    last = min(int(horizon), weights.shape[2]) - 1  # the weights of the last step asked for
    return HistoryForecast(point, weights[:, :, last], residuals, seasonal, seasons, own, bh, long_q)


@dataclass
class _Tasks:
    """What :func:`forecast` computes: one task per (series, back-test ``j``), ``j = 0`` the
    forecast itself; ``contexts``: each task's history up to its origin; ``span [n]``: each
    series' back-test length; ``H``: the steps every task forecasts; ``has_bt [n]`` /
    ``prior [n]``: series with back-tests / taking :data:`SHORT_WEIGHTS`; ``full``: tasks
    that need every candidate (the others take the zoo alone)."""

    series: np.ndarray
    j: np.ndarray
    contexts: list[np.ndarray]
    span: np.ndarray
    H: int
    has_bt: np.ndarray
    prior: np.ndarray
    full: np.ndarray


def _tasks(histories: Sequence[np.ndarray], horizon: int, bh: np.ndarray, backtests: int, min_context: int,
           short: np.ndarray | None) -> _Tasks:
    """Stage 1: the forecast and the back-tests of each history."""
    n = len(histories)
    task_series: list[int] = []
    task_j: list[int] = []
    contexts: list[np.ndarray] = []
    span = np.empty(n, dtype=np.int64)  # points per back-test: bh, or fewer for short histories
    for i, h in enumerate(histories):
        span[i] = min(int(bh[i]), max(len(h) - min_context, 0))
        for j in range(backtests + 1):
            end = len(h) - j * int(span[i])
            if j > 0 and (span[i] < 1 or end < min_context):
                break
            task_series.append(i)
            task_j.append(j)
            contexts.append(h[:end])
    ts = np.asarray(task_series, dtype=np.int64)
    tj = np.asarray(task_j, dtype=np.int64)
    # every task forecasts H = the longer of the horizon and the longest back-test (a
    # candidate's step does not depend on the steps after it); the forecast keeps ``horizon``
    H = max(horizon, int(span[ts[tj > 0]].max()) if (tj > 0).any() else 0)
    has_bt = np.zeros(n, dtype=bool)
    has_bt[ts[tj > 0]] = True
    prior = np.zeros(n, dtype=bool) if short is None else np.asarray(short, dtype=bool) & ~has_bt
    # series without back-tests get the zoo alone (or SHORT_WEIGHTS): only what they use is computed
    return _Tasks(ts, tj, contexts, span, H, has_bt, prior, (has_bt | prior)[ts])


def _seasonal_adjustment(contexts: list[np.ndarray], seasons: np.ndarray, H: int
                         ) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Stage 2: each context without its season (unchanged where none is found), the
    seasonal indices of its next ``H`` steps (``[n, H]``, NaN rows where none) and whether
    they are multiplicative (``[n]``)."""
    adjusted = list(contexts)
    indices = np.full((len(contexts), H), np.nan)
    mult = np.zeros(len(contexts), dtype=bool)
    lengths = np.fromiter((len(a) for a in adjusted), dtype=np.int64, count=len(contexts))
    keys = np.stack([lengths, seasons], axis=1)
    for length, m in np.unique(keys[seasons > 1], axis=0):  # one group per (length, season)
        group = np.flatnonzero((lengths == length) & (seasons == m))
        x = np.stack([adjusted[k] for k in group])
        idx, is_mult = seasonal_rows(x, int(m))
        found = np.isfinite(idx[:, 0])
        if not found.any():
            continue
        g, idx, is_mult, x = group[found], idx[found], is_mult[found], x[found]
        past = idx[:, np.arange(length) % m]
        adj = np.where(is_mult[:, None], x / np.where(is_mult[:, None], past, 1.0), x - past)
        for k, a in zip(g, adj):
            adjusted[k] = a
        indices[g] = idx[:, (length + np.arange(H)) % m]
        mult[g] = is_mult
    return adjusted, indices, mult


def _candidates(tasks: _Tasks, seasons: np.ndarray, weeks: np.ndarray, zoo: ZooForecast, long: LongForecast | None,
                horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Stage 3: every candidate's forecast of every task, ``[tasks, C, H]``; which a task
    cannot have (``[tasks, C]``); which tasks were seasonally adjusted; the long-context
    members' quantiles of the forecasts (``[n, Q, horizon]``, None without them)."""
    ts, tj, contexts, H = tasks.series, tasks.j, tasks.contexts, tasks.H
    raw = zoo(contexts, H, ts)
    preds = np.zeros((len(contexts), len(CANDIDATES), H))
    preds[:, 0] = raw
    seasonal_task = np.zeros(len(contexts), dtype=bool)
    unavailable = np.zeros((len(contexts), len(CANDIDATES)), dtype=bool)
    long_q: np.ndarray | None = None
    if not tasks.full.any():
        return preds, unavailable, seasonal_task, long_q
    rows = np.flatnonzero(tasks.full)
    adjusted, indices, mult = _seasonal_adjustment([contexts[r] for r in rows], seasons[ts[rows]], H)
    sa = np.flatnonzero(np.isfinite(indices[:, 0]))
    seasonal_task[rows[sa]] = True
    zoo_adj = raw[rows].copy()  # not seasonal: the adjusted series is the series
    if len(sa):
        zoo_adj[sa] = zoo([adjusted[k] for k in sa], H, ts[rows[sa]])
    on_adjusted = {"zoo_adjusted": zoo_adj, "theta": theta(adjusted, H), "damped": damped(adjusted, H),
                   "drift": drift(adjusted, H)}
    on_adjusted["zoo_aggregated"], has_agg = _zoo_aggregated(adjusted, seasons[ts[rows]], H, zoo, ts[rows], zoo_adj)
    unavailable[rows, CANDIDATES.index("zoo_aggregated")] = ~has_agg
    if long is not None:
        lq = long([contexts[r] for r in rows], H)
        preds[rows, CANDIDATES.index("long")] = lq[:, lq.shape[1] // 2]
        own_rows = np.flatnonzero(tj[rows] == 0)
        long_q = np.full((len(tasks.has_bt), lq.shape[1], horizon), np.nan)
        long_q[ts[rows[own_rows]]] = lq[own_rows, :, :horizon]
    else:
        preds[rows, CANDIDATES.index("long")] = raw[rows]
        unavailable[rows, CANDIDATES.index("long")] = True
    for name, arr in on_adjusted.items():  # re-seasonalized
        arr[sa] = np.where(mult[sa, None], arr[sa] * indices[sa], arr[sa] + indices[sa])
        preds[rows, CANDIDATES.index(name)] = arr
    preds[rows, CANDIDATES.index("seasonal_naive")] = seasonal_naive([contexts[r] for r in rows], H,
                                                                     seasons[ts[rows]])
    for name, differences in (("lags", False), ("lags_differenced", True)):
        lag_pred, has_lags = lag_regression([contexts[r] for r in rows], H, seasons[ts[rows]], weeks[ts[rows]],
                                            differences)
        preds[rows, CANDIDATES.index(name)] = lag_pred
        unavailable[rows, CANDIDATES.index(name)] = ~has_lags
    return preds, unavailable, seasonal_task, long_q


def _weights(histories: Sequence[np.ndarray], tasks: _Tasks, preds: np.ndarray, unavailable: np.ndarray,
             temperature: float, step_weights: bool) -> tuple[np.ndarray, np.ndarray]:
    """Stage 4: candidate weights from back-test errors, ``[n, C, S]`` (``S`` = 1: every step
    alike, or ``H``: per step), and each task's target (``[tasks, H]``, NaN for forecasts)."""
    ts, tj, span, H, has_bt = tasks.series, tasks.j, tasks.span, tasks.H, tasks.has_bt
    n = len(histories)
    S = H if step_weights else 1
    weights = np.zeros((n, len(CANDIDATES), S))
    weights[:, 0] = 1.0
    weights[tasks.prior] = SHORT_WEIGHTS[:, None]
    targets = np.full((len(ts), H), np.nan)
    bt = np.flatnonzero(tj > 0)
    for r in bt:
        h = histories[ts[r]]
        b = int(span[ts[r]])
        end = len(h) - tj[r] * b
        targets[r, :b] = h[end: end + b]
    inside = np.arange(H)[None, :] < span[ts[bt], None]  # [bt, H]: the back-test's points
    # summed in step order (zeros after the back-test's points add nothing): the weights do
    # not depend on H (a pairwise sum over H columns would round differently for each H)
    abs_err = np.where(inside[:, None, :], np.abs(preds[bt] - np.nan_to_num(targets[bt])[:, None, :]), 0.0)
    cumulative = np.add.accumulate(abs_err, axis=2)  # [bt, C, H]
    if step_weights:  # mean error over steps 1..min(h, B)
        task_err = cumulative / np.minimum(np.arange(1, H + 1)[None, :], span[ts[bt], None])[:, None, :]
    else:
        task_err = cumulative[:, :, -1:] / span[ts[bt], None, None]
    err_sum = np.zeros((n, len(CANDIDATES), S))
    np.add.at(err_sum, ts[bt], task_err)
    count = np.bincount(ts[bt], minlength=n).astype(np.float64)
    if has_bt.any():
        err = err_sum[has_bt] / count[has_bt, None, None]
        with np.errstate(divide="ignore"):
            logs = np.log(np.maximum(err, 1e-300))
        bad = np.zeros((n, len(CANDIDATES)), dtype=bool)
        np.logical_or.at(bad, ts, unavailable)
        logs[np.broadcast_to(bad[has_bt][:, :, None], logs.shape)] = np.inf
        logs -= logs.min(axis=1, keepdims=True)
        w = np.exp(-logs / temperature)
        weights[has_bt] = w / w.sum(axis=1, keepdims=True)
    return weights, targets
