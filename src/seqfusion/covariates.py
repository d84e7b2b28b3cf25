"""Covariates: forecasts that use what is known about the future.

Input convention (as statsforecast's): the extra columns of a long frame
``unique_id, ds, y, <covariates...>`` are covariates, and their values over the forecast
come as ``X_df``: ``unique_id, ds, <covariates...>``, exactly ``horizon`` rows per series,
at the time stamps the forecast will have. :func:`future_frame` aligns the two (one-line
:class:`~seqfusion.errors.SeqFusionError` for what does not fit).

The method (:func:`forecast`), per series, without per-series iterative fitting:

1. **Features.** Each covariate is standardized on the history; a covariate with more than
   two distinct values also gets :data:`KNOTS` hinge functions ``max(0, x - knot)`` at its
   history's quantiles (a piecewise-linear response: a power curve, a temperature optimum).
2. **Regression with the penalty chosen on the back-tests.** A ridge regression of the
   series' differences at lag :data:`DIFF_LAG` (1: one step; ``"season"``: the series'
   season) on the features' differences, in closed form. Its penalty comes from
   :data:`PENALTIES` by forward-chaining on the back-test windows of
   :mod:`seqfusion.history`: for each window, the regression fitted on the points before it
   predicts the window's differences; the penalty of least squared error wins. A series
   where no penalty beats no regression at all (``beta = 0``) keeps the forecast without
   covariates (an unrelated covariate costs nothing there, and no time).
3. **The forecaster on what the covariates leave.** ``z = y - F beta`` is forecast by the
   whole-history forecaster (zoo, Theta, damped trend, ... weighed by back-tests); the
   covariate candidate is ``F_future beta + forecast(z)``.
4. **Weights from the same back-tests.** The candidate and the forecast without
   covariates are weighed per series by a softmax of ``-log(mean absolute back-test
   error) / temperature`` (the temperature of :mod:`seqfusion.history`); the covariate
   candidate's back-test errors are those of ``z``'s forecast (``y - F beta`` minus its
   forecast). ``beta`` is fitted on the whole history, the back-test windows included, so
   these errors are a little optimistic; the penalty itself was chosen out of sample.
5. **Quantiles** from the fused back-test errors, as without covariates
   (:mod:`seqfusion.quantiles`).

:func:`calendar` and :func:`add_calendar` make opt-in calendar covariates (day of week,
public holidays from the ``holidays`` package).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from seqfusion import history, preprocess
from seqfusion import quantiles as qmod
from seqfusion.errors import SeqFusionError

if TYPE_CHECKING:
    import pandas as pd

    from seqfusion.forecaster import SeqFusion
    from seqfusion.frames import Parsed

#: hinge knots per covariate with more than two distinct values (history quantiles)
KNOTS = 4
#: lag of the differences the regression is fitted on: an int, or "season"
DIFF_LAG: int | str = 1
#: ridge penalties tried (relative to the number of points: ``lambda * n``); chosen per series
PENALTIES: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
#: points of history (the last ones) the regression is fitted on
REG_HISTORY = 5000
#: a penalty must lower the back-test windows' squared error of the differences below this
#: share of no regression's for the covariate candidate to be computed
MIN_GAIN = 0.98

KEYS = ("unique_id", "ds")


# ------------------------------------------------------------------ input alignment


def covariate_columns(df: Any) -> list[str]:
    """The covariate columns of a long frame: every column but ``unique_id, ds, y``."""
    from seqfusion.frames import LONG_COLUMNS

    return [c for c in df.columns if c not in LONG_COLUMNS]


def has_covariates(y: Any) -> bool:
    """Whether ``y`` is a long frame (``unique_id, ds, y``) with extra columns."""
    import pandas as pd

    from seqfusion.frames import LONG_COLUMNS

    return isinstance(y, pd.DataFrame) and set(LONG_COLUMNS) <= set(y.columns) and bool(covariate_columns(y))


def _numeric(col: Any, what: str) -> np.ndarray:
    import pandas as pd

    if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)) \
            or pd.api.types.is_complex_dtype(col):
        raise SeqFusionError(f"{what} must be numeric, got {col.dtype}")
    return col.to_numpy(dtype=np.float64, na_value=np.nan)


@dataclass
class Inputs:
    """A long history with covariates, parsed: ``parsed`` (series as
    :func:`seqfusion.frames.parse` gives them), ``names`` (the covariates), ``past`` (one
    ``[L_i, p]`` array per series, rows as the series' points) and ``future`` (``[n, H, p]``)."""

    parsed: Parsed
    names: list[str]
    past: list[np.ndarray]
    future: np.ndarray


def parse_inputs(df: Any, X_df: Any, horizon: int, freq: Any = None, dayfirst: bool | None = None,
                 date_format: str | None = None) -> Inputs:
    """Split a long frame with covariate columns into series and covariates, and align
    ``X_df`` to the forecast's time stamps (see the module's docstring)."""
    import pandas as pd

    from seqfusion.frames import LONG_COLUMNS, Parsed, _values, parse

    if not isinstance(df, pd.DataFrame) or not set(LONG_COLUMNS) <= set(df.columns):
        raise SeqFusionError("covariates need a long frame with columns unique_id, ds, y and one column per "
                             "covariate")
    names = covariate_columns(df)
    if X_df is None:
        raise SeqFusionError(f"column(s) {', '.join(map(str, names))} of the history are covariates: give their "
                             "future values as X_df (unique_id, ds and the same columns, horizon rows per series)")
    if not isinstance(X_df, pd.DataFrame):
        raise SeqFusionError(f"X_df must be a DataFrame (unique_id, ds, covariates), got {type(X_df).__name__}")
    missing = [c for c in KEYS if c not in X_df.columns]
    if missing:
        raise SeqFusionError(f"X_df needs columns unique_id and ds: missing {', '.join(missing)}")
    if "y" in X_df.columns:
        raise SeqFusionError("X_df holds column 'y': it gives the covariates' future values only")
    future_names = [c for c in X_df.columns if c not in KEYS]
    only_future = [str(c) for c in future_names if c not in names]
    only_past = [str(c) for c in names if c not in future_names]
    if only_future:
        raise SeqFusionError(f"covariate(s) {', '.join(only_future)} in X_df but not in the history")
    if only_past:
        raise SeqFusionError(f"covariate(s) {', '.join(only_past)} in the history but not in X_df")
    if not names:
        raise SeqFusionError("X_df is given but the history has no covariate columns")
    y = _values(df["y"], "y")
    past_values = np.stack([_numeric(df[c], f"covariate {c!r}") for c in names], axis=1)
    # parse the keys once with row positions as values: the series' rows in parse's order
    pos = parse(pd.DataFrame({"unique_id": df["unique_id"].to_numpy(), "ds": df["ds"].to_numpy(),
                              "y": np.arange(len(df), dtype=np.float64)}), dayfirst, date_format)
    rows = [p.astype(np.int64) for p in pos.series]
    parsed = Parsed("long", [y[r] for r in rows], pos.names, pos.index, "ds")
    past = []
    for name, r in zip(parsed.names, rows):
        x = past_values[r]
        if np.isinf(x).any():
            raise SeqFusionError(f"covariate {names[int(np.argmax(np.isinf(x).any(axis=0)))]!r} of series "
                                 f"{preprocess.series_label(name)} holds inf")
        bad = ~np.isfinite(x).any(axis=0)
        if bad.any():
            raise SeqFusionError(f"covariate {names[int(np.argmax(bad))]!r} of series "
                                 f"{preprocess.series_label(name)} has no value in the history")
        if not np.isfinite(x).all():  # gaps filled as the series' own
            x = preprocess.fill_gaps(x.T).T
        past.append(x)
    future = _future(parsed, X_df, names, horizon, freq, dayfirst, date_format)
    return Inputs(parsed, [str(c) for c in names], past, future)


def _future(parsed: Parsed, X_df: pd.DataFrame, names: list[str], horizon: int, freq: Any,
            dayfirst: bool | None, date_format: str | None) -> np.ndarray:
    """``X_df``'s covariates at the forecast's stamps: ``[n, H, p]``."""
    import pandas as pd

    from seqfusion.frames import assemble, to_datetime

    n, H = len(parsed.names), int(horizon)
    expected = assemble(parsed, np.zeros((n, H)), H, freq)  # the forecast's unique_id, ds
    exp_ds = expected["ds"]
    code = pd.Index(parsed.names).get_indexer(X_df["unique_id"])
    if (code < 0).any():
        first = X_df["unique_id"].iloc[int(np.argmax(code < 0))]
        raise SeqFusionError(f"X_df holds series {preprocess.series_label(first)}, which the history does not")
    counts = np.bincount(code, minlength=n)
    if (counts != H).any():
        i = int(np.argmax(counts != H))
        raise SeqFusionError(f"X_df has {int(counts[i])} row(s) for series {preprocess.series_label(parsed.names[i])}: "
                             f"it needs exactly the horizon, {H}")
    if pd.api.types.is_datetime64_any_dtype(exp_ds):
        got = to_datetime(X_df["ds"], "X_df ds", dayfirst, date_format)
        want = pd.DatetimeIndex(exp_ds)
        if (got.tz is None) != (want.tz is None):
            raise SeqFusionError("X_df's ds and the history's ds differ in time zone awareness")
        got_ns = got.as_unit("ns").asi8 if got.tz is None else got.tz_convert("UTC").as_unit("ns").asi8
        want_ns = want.as_unit("ns").asi8 if want.tz is None else want.tz_convert("UTC").as_unit("ns").asi8
        stamps: np.ndarray = got_ns
        want_stamps: np.ndarray = want_ns
    else:
        if not pd.api.types.is_numeric_dtype(X_df["ds"]):
            raise SeqFusionError("X_df's ds must be numbers, as the history's")
        stamps = X_df["ds"].to_numpy(dtype=np.float64)
        want_stamps = exp_ds.to_numpy(dtype=np.float64)
    order = np.lexsort((stamps, code))
    have = stamps[order].reshape(n, H)
    want_grid = want_stamps.reshape(n, H)
    wrong = (have != want_grid).any(axis=1)
    if wrong.any():
        i = int(np.argmax(wrong))
        step = int(np.argmax(have[i] != want_grid[i]))
        got_row = X_df["ds"].iloc[int(order[i * H + step])]
        raise SeqFusionError(f"X_df's time stamps for series {preprocess.series_label(parsed.names[i])} do not match "
                             f"the forecast's: step {step + 1} should be {exp_ds.iloc[i * H + step]}, X_df has "
                             f"{got_row}")
    values = np.stack([_numeric(X_df[c], f"X_df column {c!r}") for c in names], axis=1)[order]
    bad = ~np.isfinite(values)
    if bad.any():
        r = int(np.argmax(bad.any(axis=1)))
        c = int(np.argmax(bad[r]))
        raise SeqFusionError(f"X_df column {names[c]!r} has a missing or infinite value (series "
                             f"{preprocess.series_label(parsed.names[r // H])}, ds {exp_ds.iloc[r]}): future "
                             "covariates must be known")
    return values.reshape(n, H, len(names))


# ------------------------------------------------------------------ features and regression


def features(past: np.ndarray, future: np.ndarray, knots: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Regression features of one series' covariates (``past [L, p]``, ``future [H, p]``):
    each covariate standardized on the past, plus ``knots`` hinge functions at its past
    quantiles when it takes more than two values; constant covariates are dropped.
    Returns (``[L, d]``, ``[H, d]``)."""
    knots = KNOTS if knots is None else knots
    cols_p: list[np.ndarray] = []
    cols_f: list[np.ndarray] = []
    for j in range(past.shape[1]):
        x, xf = past[:, j], future[:, j]
        sd = float(np.std(x))
        if not sd > 0:
            continue
        mu = float(np.mean(x))
        cols_p.append((x - mu) / sd)
        cols_f.append((xf - mu) / sd)
        if knots > 0 and len(np.unique(x[-min(len(x), 2000):])) > 2:
            for kn in np.unique(np.quantile(x, np.arange(1, knots + 1) / (knots + 1))):
                cols_p.append(np.maximum(x - kn, 0.0) / sd)
                cols_f.append(np.maximum(xf - kn, 0.0) / sd)
    if not cols_p:
        return np.zeros((len(past), 0)), np.zeros((len(future), 0))
    return np.stack(cols_p, axis=1), np.stack(cols_f, axis=1)


def _lag(season: int, lag: int | str | None = None) -> int:
    lag = DIFF_LAG if lag is None else lag
    return max(int(season), 1) if lag == "season" else int(lag)


def ridge(y: np.ndarray, F: np.ndarray, windows: Sequence[tuple[int, int]], lag: int,
          penalties: Sequence[float] | None = None) -> tuple[np.ndarray, float, float]:
    """Ridge coefficients of ``y [L]`` on ``F [L, d]`` fitted on differences at ``lag``,
    the penalty chosen by forward-chaining on ``windows`` (``(start, end)`` positions in
    ``y``): returns (``beta [d]``, the chosen penalty, the windows' squared error with it
    over their error without regression; ``inf`` when there is nothing to fit)."""
    penalties = PENALTIES if penalties is None else penalties
    d = F.shape[1]
    if d == 0 or len(y) <= lag + d:
        return np.zeros(d), float("nan"), float("inf")
    dy = y[lag:] - y[:-lag]
    dF = F[lag:] - F[:-lag]
    off = lag  # row r of the differences is point r + lag
    # cumulative Gram matrices: the fit on the points before any window in closed form
    G = np.concatenate([np.zeros((1, d, d)), np.cumsum(dF[:, :, None] * dF[:, None, :], axis=0)])
    b = np.concatenate([np.zeros((1, d)), np.cumsum(dF * dy[:, None], axis=0)])
    scale = np.maximum(np.trace(G[-1]) / max(d, 1), 1e-12)
    eye = np.eye(d)
    sse = np.zeros(len(penalties))
    base = 0.0
    used = 0
    for start, end in windows:
        a, e = start - off, end - off
        if a < d + 1 or e > len(dy) or e <= a:
            continue
        used += 1
        target = dy[a:e]
        base += float(target @ target)
        na = G[a]
        for k, lam in enumerate(penalties):
            beta = np.linalg.solve(na + lam * scale * a / len(dy) * eye, b[a])
            r = target - dF[a:e] @ beta
            sse[k] += float(r @ r)
    if used == 0 or not base > 0:
        return np.zeros(d), float("nan"), float("inf")
    k = int(np.argmin(sse))
    lam = float(penalties[k])
    beta = np.linalg.solve(G[-1] + lam * scale * eye, b[-1])
    return beta, lam, float(sse[k] / base)


# ------------------------------------------------------------------ the forecast


@dataclass
class CovariateForecast:
    """What :func:`forecast` returns for ``n`` series: ``point [n, H]``; ``weight [n]``:
    the covariate candidate's weight (0 where it was not computed); ``residuals [n, J, W]``:
    back-test errors of the fused forecast; ``beta``: each series' coefficients (on its
    features); ``gain [n]``: the back-test windows' squared error of the differences with
    the chosen penalty over that without regression; ``base``: the forecast without
    covariates (:class:`seqfusion.history.HistoryForecast`); ``histories``: the series as
    the forecaster read them."""

    point: np.ndarray
    weight: np.ndarray
    residuals: np.ndarray
    beta: list[np.ndarray]
    gain: np.ndarray
    base: history.HistoryForecast
    histories: list[np.ndarray]
    long_weight: np.ndarray


def _windows(length: int, span: int, backtests: int, min_context: int) -> list[tuple[int, int]]:
    """The back-test windows of a history, as :func:`seqfusion.history.forecast` makes them."""
    out = []
    for j in range(1, backtests + 1):
        end = length - (j - 1) * span
        start = end - span
        if span < 1 or start < min_context:
            break
        out.append((start, end))
    return out


def forecast(model: SeqFusion, inputs: Inputs, horizon: int, k: int | None, classes: Any,
             freq: Any) -> CovariateForecast:
    """The covariate forecast of ``inputs`` (see the module's docstring)."""
    parsed = inputs.parsed
    base, hists = model._forecast_histories(parsed.series, parsed, horizon, k, classes, freq)
    n = len(hists)
    min_context = max(model.input_length, model.options.min_length)
    whole = model.options.history == "whole"
    betas: list[np.ndarray] = []
    gain = np.full(n, np.inf)
    z_series: list[np.ndarray] = []
    effect = np.zeros((n, horizon))
    active: list[int] = []
    for i, h in enumerate(hists):
        past = inputs.past[i][-len(h):]
        F, Ff = features(past, inputs.future[i])
        span = int(min(int(base.backtest_horizon[i]), max(len(h) - min_context, 0)))
        windows = _windows(len(h), span, history.BACKTESTS, min_context) if whole else []
        cap = min(len(h), REG_HISTORY)
        shift = len(h) - cap
        local = [(a - shift, e - shift) for a, e in windows if a - shift > 0]
        beta, _, g = ridge(h[-cap:], F[-cap:], local, _lag(int(base.season[i])))
        betas.append(beta)
        gain[i] = g
        if windows and g < MIN_GAIN and int(base.n_backtests[i]) > 0:
            active.append(i)
            z_series.append(h - F @ beta)
            effect[i] = Ff @ beta
    point = base.point.copy()
    residuals = base.residuals.copy()
    weight = np.zeros(n)
    if active:
        rows = np.asarray(active, dtype=np.int64)
        sub = _subset(parsed, rows)
        sub_classes = [classes[r] for r in rows] if isinstance(classes, list) else classes
        cov, _ = model._forecast_histories(z_series, sub, horizon, k, sub_classes, freq)
        res_b = base.residuals[rows]
        res_c = np.full_like(res_b, np.nan)
        w = min(res_b.shape[2], cov.residuals.shape[2])
        res_c[:, :, :w] = cov.residuals[:, :, :w]
        err_b = np.nanmean(np.abs(res_b), axis=(1, 2))
        err_c = np.nanmean(np.abs(res_c), axis=(1, 2))
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log(np.maximum(np.stack([err_b, err_c], axis=1), 1e-300))
        logs -= logs.min(axis=1, keepdims=True)
        sw = np.exp(-logs / history.TEMPERATURE)
        sw /= sw.sum(axis=1, keepdims=True)
        wc = sw[:, 1]
        weight[rows] = wc
        point[rows] = (1.0 - wc[:, None]) * base.point[rows] + wc[:, None] * (cov.point + effect[rows])
        residuals[rows] = (1.0 - wc[:, None, None]) * res_b + wc[:, None, None] * res_c
    long_weight = (1.0 - weight) * base.weights[:, history.CANDIDATES.index("long")]
    return CovariateForecast(point, weight, residuals, betas, gain, base, hists, long_weight)


def _subset(parsed: Parsed, rows: np.ndarray) -> Parsed:
    from seqfusion.frames import Parsed

    index = [parsed.index[int(r)] for r in rows] if len(parsed.index) else []
    return Parsed(parsed.kind, [parsed.series[int(r)] for r in rows], [parsed.names[int(r)] for r in rows],
                  index, parsed.time_column)


def quantiles(fc: CovariateForecast, horizon: int, q: np.ndarray) -> np.ndarray:
    """Quantiles ``[n, H, Q]`` of a covariate forecast from its fused back-test errors."""
    scale = qmod.spread(fc.residuals, fc.histories, horizon, fc.base.backtest_horizon)
    if fc.base.long_quantiles is not None:
        scale = qmod.with_long_spread(scale, fc.base.long_quantiles, fc.long_weight)
    return qmod.from_spread(fc.point, scale, q)


# ------------------------------------------------------------------ calendar covariates


def calendar(ds: Any, *, day_of_week: bool = True, country: str | None = None, subdiv: str | None = None,
             prefix: str = "") -> pd.DataFrame:
    """Calendar covariates of time stamps ``ds``: ``dow_1 .. dow_6`` (Tuesday .. Sunday
    indicators, Monday the reference) and, with ``country`` (an ISO code such as ``"US"``;
    ``subdiv`` a region), ``holiday`` (1 on the country's public holidays, from the
    ``holidays`` package: ``pip install 'seqfusion[covariates]'``)."""
    import pandas as pd

    stamps = pd.DatetimeIndex(ds)
    out: dict[str, np.ndarray] = {}
    if day_of_week:
        dow = stamps.dayofweek.to_numpy()
        for d in range(1, 7):
            out[f"{prefix}dow_{d}"] = (dow == d).astype(np.float64)
    if country is not None:
        try:
            import holidays
        except ImportError:
            raise SeqFusionError("holiday covariates need the holidays package: "
                                 "pip install 'seqfusion[covariates]'") from None
        years = range(int(stamps.year.min()), int(stamps.year.max()) + 1) if len(stamps) else range(0)
        try:
            days = holidays.country_holidays(country, subdiv=subdiv, years=years)
        except NotImplementedError:
            raise SeqFusionError(f"the holidays package knows no country {country!r}") from None
        dates = stamps.tz_localize(None).normalize() if stamps.tz is not None else stamps.normalize()
        known = pd.DatetimeIndex(sorted(pd.Timestamp(d) for d in days))
        out[f"{prefix}holiday"] = dates.isin(known).astype(np.float64)
    return pd.DataFrame(out, index=range(len(stamps)))


def add_calendar(df: pd.DataFrame, X_df: pd.DataFrame | None = None, **options: Any
                 ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """``df`` (a long history) and ``X_df`` (its future covariates) with the
    :func:`calendar` covariates of their ``ds`` added as columns (``options`` as
    :func:`calendar`'s). ``X_df`` None: only the history's (give the future's later)."""
    import pandas as pd

    def with_cal(frame: pd.DataFrame) -> pd.DataFrame:
        if "ds" not in frame.columns:
            raise SeqFusionError("calendar covariates need a ds column of time stamps")
        ds = frame["ds"]
        if not pd.api.types.is_datetime64_any_dtype(ds):
            from seqfusion.frames import to_datetime

            ds = pd.Series(to_datetime(ds, "ds"))
        cal = calendar(ds, **options)
        cal.index = frame.index
        return pd.concat([frame, cal], axis=1)

    return with_cal(df), (None if X_df is None else with_cal(X_df))


# ------------------------------------------------------------------ files and chunks


def read_future(path: str, sep: str | None = None, decimal: str | None = None, dayfirst: bool | None = None,
                date_format: str | None = None) -> pd.DataFrame:
    """A file of future covariate values (``unique_id, ds, <covariates>``; CSV or
    Parquet), its ``ds`` read as time stamps (numbers stay numbers)."""
    import pandas as pd

    from seqfusion.files import read_table
    from seqfusion.frames import to_datetime

    df = read_table(path, sep, decimal)
    missing = [c for c in KEYS if c not in df.columns]
    if missing:
        raise SeqFusionError(f"{path}: future covariates need columns unique_id, ds (missing {', '.join(missing)})")
    if not pd.api.types.is_numeric_dtype(df["ds"]):
        df["ds"] = to_datetime(df["ds"], "ds", dayfirst, date_format)
    return df


def future_rows(X_df: pd.DataFrame, ids: Any) -> pd.DataFrame:
    """The rows of ``X_df`` for the series ``ids`` (a chunk's or a partition's), compared
    as text as the chunked reader compares ids."""
    import pandas as pd

    want = pd.Index(pd.unique(pd.Series(ids).astype(str)))
    keep = pd.Index(X_df["unique_id"].astype(str)).isin(want)
    out = X_df[keep].reset_index(drop=True)
    kind = pd.Series(ids).dtype
    text = pd.api.types.is_object_dtype(kind) or pd.api.types.is_string_dtype(kind)
    out["unique_id"] = out["unique_id"].astype(str) if text else out["unique_id"].astype(kind)
    return out
