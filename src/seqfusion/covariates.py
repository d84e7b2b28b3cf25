"""Covariates: forecasts that use what is known about the future.

Input convention (as statsforecast's): the extra columns of a long frame
``unique_id, ds, y, <covariates...>`` are covariates, and their values over the forecast
come as ``X_df``: ``unique_id, ds, <covariates...>``, exactly ``horizon`` rows per series,
at the time stamps the forecast will have. :func:`parse_inputs` aligns the two (one-line
:class:`~seqfusion.errors.SeqFusionError` for what does not fit).

The method (:func:`forecast`), per series, without per-series iterative fitting (the
settings were chosen on the validation origins of the covariate benchmark,
``benchmarks/covariates``; see ``benchmarks/results/covariates_sweep.md``):

1. **Features.** Each covariate is standardized on the history (constant ones dropped);
   a covariate of two values (a holiday, a working day, an event) also gets one column
   per phase of the series' season (:data:`PHASES`: hourly data's effect of a holiday
   may differ by hour of the day); optionally (:data:`KNOTS`) a covariate with more than
   two distinct values also gets hinge functions ``max(0, x - knot)`` at its history's
   quantiles.
2. **Regression with the penalty chosen on the back-tests.** A ridge regression of the
   series' differences at lag :data:`DIFF_LAG` (the series' season by default; 1; or 0
   for levels) on the features' differences, in closed form, on the last
   :data:`REG_HISTORY` points. Its penalty comes from :data:`PENALTIES` by
   forward-chaining on the back-test windows of :mod:`seqfusion.history`: for each window,
   the regression fitted on the points before it predicts the window's differences; the
   penalty of least squared error wins. A series where that error is not below
   :data:`MIN_GAIN` times the error of no regression keeps the forecast without
   covariates (an unrelated covariate costs nothing there but the regression).
3. **The forecaster on what the covariates leave** (:data:`MODE` ``"refit"``):
   ``z = y - F beta`` is forecast by the whole-history forecaster (zoo, Theta, damped
   trend, ... weighed by their own back-tests), in the same call as the series
   themselves; the covariate candidate is ``F_future beta + forecast(z)``.
4. **Weights from the same back-tests.** The candidate and the forecast without
   covariates are weighed per series by a softmax of ``-log(mean absolute back-test
   error) / temperature`` (the temperature of :mod:`seqfusion.history`); the covariate
   candidate's back-test errors are those of ``z``'s forecast (``y - F beta`` minus its
   forecast). ``beta`` is fitted on the whole history, the back-test windows included, so
   these errors are a little optimistic; the penalty itself was chosen out of sample.
5. **Quantiles** from the fused back-test errors, as without covariates
   (:mod:`seqfusion.quantiles`).

:data:`MODE` ``"adjust"`` is a cheaper variant without the second forecast: candidates
``forecast(y) + F_future beta - anchor`` (``anchor``: what the forecast without covariates
already extrapolates of the past effect, :data:`ANCHORS`); ``"both"`` weighs all of them.
Both scored below ``"refit"`` on validation.

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

#: hinge knots per covariate with more than two distinct values (history quantiles); a
#: tuple: each series takes the one whose regression has the lowest back-test window error
KNOTS: int | tuple[int, ...] = 0
#: lag of the differences the regression is fitted on: an int, or "season"
DIFF_LAG: int | str = "season"
#: ridge penalties tried (relative to the number of points: ``lambda * n``); chosen per series
PENALTIES: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
#: two-valued covariates (holidays, working days, events) get one column per phase of the
#: season (hour of the day, day of the week) when the season has at most MAX_PHASES steps
PHASES = True
MAX_PHASES = 48
#: fit the final regression on the points before the first back-test window only (True:
#: the covariate candidate's back-test errors are out of sample) or on every point (False)
BEFORE_BACKTESTS = False
#: points of history (the last ones) the regression is fitted on
REG_HISTORY = 5000
#: a penalty must lower the back-test windows' squared error of the differences below this
#: share of no regression's for the covariate candidate to be computed
MIN_GAIN = 0.98
#: how the covariate candidates are made: ``"adjust"``: the forecast without covariates
#: plus the covariate effect's departure from what that forecast already extrapolates
#: (each of :data:`ANCHORS`; no second forecast), ``"refit"``: the whole-history
#: forecaster on ``y - effect`` plus the future effect (a second forecast per series), or
#: ``"both"``: all of these candidates
MODE = "refit"
#: what the forecast without covariates is taken to extrapolate of the past effect, one
#: candidate each: ``last`` (its last value), ``season`` (its last cycle repeated),
#: ``mean`` (the mean of its last cycle)
ANCHORS: tuple[str, ...] = ("last", "season", "mean")
#: a positive series may take a multiplicative effect: the regression is fitted on the
#: logarithm too, and the one whose back-test windows' error ratio (``gain``) is lower is
#: used; the second forecast then reads ``y / exp(effect)`` and is multiplied back. Off:
#: on validation it helped PRSA (0.669 -> 0.598) and bike hourly but hurt bike daily
#: (0.831 -> 0.986), geo-mean MASE 0.919 -> 0.921, WQL 0.871 -> 0.886
#: (``benchmarks/results/covariates_sweep_multiplicative.md``)
MULTIPLICATIVE = False

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

    if col.dtype == np.float64:  # no copy
        return np.asarray(col.to_numpy())
    if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)) \
            or pd.api.types.is_complex_dtype(col):
        raise SeqFusionError(f"{what} must be numeric, got {col.dtype}")
    return col.to_numpy(dtype=np.float64, na_value=np.nan)


@dataclass
class Inputs:
    """A long history with covariates, parsed: ``parsed`` (series as
    :func:`seqfusion.frames.parse` gives them), ``names`` (the covariates), ``past`` (one
    ``[L_i, p]`` array per series, its last ``L_i`` points, at most :data:`REG_HISTORY`;
    gaps filled), ``future`` (``[n, H, p]``) and ``frame``: the forecast's ``unique_id,
    ds`` (as :func:`seqfusion.frames.assemble` makes them)."""

    parsed: Parsed
    names: list[str]
    past: list[np.ndarray]
    future: np.ndarray
    frame: pd.DataFrame


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
    columns = [_numeric(df[c], f"covariate {c!r}") for c in names]
    for c, col in zip(names, columns):
        inf = np.isinf(col)
        if inf.any():
            raise SeqFusionError(f"covariate {c!r} of series "
                                 f"{preprocess.series_label(df['unique_id'].iloc[int(np.argmax(inf))])} holds inf")
    # parse the keys once with row positions as values: the series' rows in parse's order
    keys = pd.DataFrame({"unique_id": df["unique_id"].to_numpy(), "ds": df["ds"].to_numpy(),
                         "y": np.arange(len(df), dtype=np.float64)}, copy=False)  # no copy of the big columns
    pos = parse(keys, dayfirst, date_format)
    rows = [p.astype(np.int64) for p in pos.series]
    parsed = Parsed("long", [y[r] for r in rows], pos.names, pos.index, "ds")
    past = []
    for name, r in zip(parsed.names, rows):
        tail = r[-REG_HISTORY:]  # the regression's points at most
        x = np.stack([col[tail] for col in columns], axis=1)
        bad = ~np.isfinite(x).any(axis=0)
        if bad.any():
            raise SeqFusionError(f"covariate {names[int(np.argmax(bad))]!r} of series "
                                 f"{preprocess.series_label(name)} has no value in the history")
        if not np.isfinite(x).all():  # gaps filled as the series' own
            x = preprocess.fill_gaps(x.T).T
        past.append(x)
    future, frame = _future(parsed, X_df, names, horizon, freq, dayfirst, date_format)
    return Inputs(parsed, [str(c) for c in names], past, future, frame)


def _future(parsed: Parsed, X_df: pd.DataFrame, names: list[str], horizon: int, freq: Any,
            dayfirst: bool | None, date_format: str | None) -> tuple[np.ndarray, pd.DataFrame]:
    """``X_df``'s covariates at the forecast's stamps (``[n, H, p]``) and the forecast's
    ``unique_id, ds``."""
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
    return values.reshape(n, H, len(names)), expected[["unique_id", "ds"]]


# ------------------------------------------------------------------ features and regression


def features(past: np.ndarray, future: np.ndarray, knots: int | None = None, season: int = 1
             ) -> tuple[np.ndarray, np.ndarray]:
    """Regression features of one series' covariates (``past [L, p]``, ``future [H, p]``):
    each covariate standardized on the past, plus ``knots`` hinge functions at its past
    quantiles when it takes more than two values; constant covariates are dropped. With
    :data:`PHASES` and a season ``1 < m <= MAX_PHASES``, a covariate of two values also
    gets one column per phase of the season (its effect may differ by hour of the day).
    Returns (``[L, d]``, ``[H, d]``)."""
    if knots is None:
        knots = KNOTS if isinstance(KNOTS, int) else max(KNOTS)
    L = len(past)
    phase_p = (np.arange(L) - L) % season if season > 1 else None
    phase_f = np.arange(len(future)) % season if season > 1 else None
    cols_p: list[np.ndarray] = []  # blocks [L, c]
    cols_f: list[np.ndarray] = []  # blocks [H, c]
    for j in range(past.shape[1]):
        x, xf = past[:, j], future[:, j]
        sd = float(np.std(x))
        if not sd > 0:
            continue
        mu = float(np.mean(x))
        zp, zf = (x - mu) / sd, (xf - mu) / sd
        cols_p.append(zp[:, None])
        cols_f.append(zf[:, None])
        distinct = len(np.unique(x[-min(len(x), 2000):]))
        if knots > 0 and distinct > 2:
            kn = np.unique(np.quantile(x, np.arange(1, knots + 1) / (knots + 1)))
            cols_p.append(np.maximum(x[:, None] - kn[None, :], 0.0) / sd)
            cols_f.append(np.maximum(xf[:, None] - kn[None, :], 0.0) / sd)
        if PHASES and distinct == 2 and phase_p is not None and phase_f is not None and season <= MAX_PHASES:
            phases = np.arange(season)[None, :]
            cols_p.append(np.where(phase_p[:, None] == phases, zp[:, None], 0.0))
            cols_f.append(np.where(phase_f[:, None] == phases, zf[:, None], 0.0))
    if not cols_p:
        return np.zeros((len(past), 0)), np.zeros((len(future), 0))
    return np.concatenate(cols_p, axis=1), np.concatenate(cols_f, axis=1)


def _lag(season: int, lag: int | str | None = None) -> int:
    """The differencing lag of a series of season ``season`` (:data:`DIFF_LAG`'s)."""
    lag = DIFF_LAG if lag is None else lag
    return max(int(season), 1) if lag == "season" else int(lag)


def ridge(y: np.ndarray, F: np.ndarray, windows: Sequence[tuple[int, int]], lag: int,
          penalties: Sequence[float] | None = None) -> tuple[np.ndarray, float, float]:
    """Ridge coefficients of ``y [L]`` on ``F [L, d]`` fitted on differences at ``lag``
    (0: on the levels, with an intercept), the penalty chosen by forward-chaining on
    ``windows`` (``(start, end)`` positions in ``y``): for each window, the fit on the
    points before it predicts the window's differences. Returns (``beta [d]``, the chosen
    penalty, the windows' squared error with it over their error without regression;
    ``inf`` when there is nothing to fit)."""
    penalties = PENALTIES if penalties is None else penalties
    d = F.shape[1]
    if d == 0 or len(y) <= lag + d + 1:
        return np.zeros(d), float("nan"), float("inf")
    if lag > 0:
        dy, dF = y[lag:] - y[:-lag], F[lag:] - F[:-lag]
    else:
        dy, dF = y, np.concatenate([F, np.ones((len(F), 1))], axis=1)
    off = lag  # row r of the differences is point r + lag
    k_cols = dF.shape[1]
    eye = np.eye(k_cols)
    if lag == 0:
        eye[-1, -1] = 1e-6  # the intercept is hardly penalized
    folds = sorted((a - off, e - off) for a, e in windows if k_cols + 1 <= a - off < e - off <= len(dy))
    # Gram matrices of the points before each window, by blocks in time order (closed form)
    G = np.zeros((k_cols, k_cols))
    b = np.zeros(k_cols)
    done = 0
    sse = np.zeros(len(penalties))
    base = 0.0
    first: tuple[np.ndarray, np.ndarray] | None = None
    for a, e in folds:
        G = G + dF[done:a].T @ dF[done:a]
        b = b + dF[done:a].T @ dy[done:a]
        done = a
        if first is None:
            first = (G.copy(), b.copy())
        target = dy[a:e]
        if lag == 0:  # no regression: the mean of the points before the window
            base += float(np.sum((target - b[-1] / max(G[-1, -1], 1.0)) ** 2))
        else:
            base += float(target @ target)
        scale = max(float(np.trace(G)) / k_cols, 1e-12)
        lams = np.asarray(penalties, dtype=np.float64)[:, None, None] * scale
        betas = np.linalg.solve(G[None] + lams * eye[None], np.broadcast_to(b[:, None], (len(lams), k_cols, 1)))
        r = target[:, None] - dF[a:e] @ betas[:, :, 0].T  # [window, penalties]
        sse += np.einsum("wp,wp->p", r, r)
    if not folds or not base > 0:
        return np.zeros(d), float("nan"), float("inf")
    k = int(np.argmin(sse))
    lam = float(penalties[k])
    if BEFORE_BACKTESTS and first is not None:  # fitted on the points before every back-test window
        G, b = first
    else:
        G = G + dF[done:].T @ dF[done:]
        b = b + dF[done:].T @ dy[done:]
    beta = np.linalg.solve(G + lam * max(float(np.trace(G)) / k_cols, 1e-12) * eye, b)
    return beta[:d], lam, float(sse[k] / base)


# ------------------------------------------------------------------ the forecast


@dataclass
class CovariateForecast:
    """What :func:`forecast` returns for ``n`` series: ``point [n, H]``; ``weight [n]``:
    the covariate candidate's weight (0 where it was not computed); ``residuals [n, J, W]``:
    back-test errors of the fused forecast; ``gain [n]``: the back-test windows' squared
    error of the differences with the chosen penalty over that without regression (inf
    where there is no back-test window); ``base``: the forecast without
    covariates (:class:`seqfusion.history.HistoryForecast`); ``histories``: the series as
    the forecaster read them."""

    point: np.ndarray
    weight: np.ndarray
    residuals: np.ndarray
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


def _settings(model: SeqFusion, parsed: Parsed, hists: list[np.ndarray], horizon: int, classes: Any,
              freq: Any) -> tuple[np.ndarray, np.ndarray]:
    """Each series' season and back-test length, as the whole-history forecast sets them."""
    n = len(hists)
    per_row = np.asarray(classes if isinstance(classes, list) else [classes] * n, dtype=object)
    seasons = np.array([history.season_length(c) for c in per_row], dtype=np.int64)
    sub = np.flatnonzero(per_row == "subhourly")
    if len(sub):
        steps = model._steps(parsed, freq, n)
        seasons[sub] = [history.season_length("subhourly", steps[i]) for i in sub]
    return seasons, history.backtest_lengths(per_row, horizon)


def fit(h: np.ndarray, past: np.ndarray, future: np.ndarray, windows: Sequence[tuple[int, int]], lag: int,
        season: int = 1) -> tuple[np.ndarray, np.ndarray, float]:
    """One series' covariate effect: the regression of :func:`ridge` on the features of
    each :data:`KNOTS` setting (one, or a tuple to choose from by the back-test windows),
    on the last ``len(past)`` points of ``h`` (``windows``: positions in those points).
    Returns (the effect on those points, on the forecast ``[H]``, the windows' error ratio)."""
    cap = min(len(h), len(past))
    best: tuple[np.ndarray, np.ndarray, float] = (np.zeros(cap), np.zeros(len(future)), float("inf"))
    for knots in (KNOTS,) if isinstance(KNOTS, int) else KNOTS:
        F, Ff = features(past[-cap:], future, knots, season)
        beta, _, g = ridge(h[-cap:], F, windows, lag)
        if g < best[2]:
            best = (F @ beta, Ff @ beta, g)
    return best


def anchor(past: np.ndarray, n: int, how: str, season: int) -> np.ndarray:
    """What a forecaster of the series extrapolates of its past effect ``past`` over ``n``
    steps, as :data:`ANCHORS` names it."""
    m = season if len(past) >= season > 1 else 1
    if how == "last" or m == 1:
        return np.full(n, past[-1])
    if how == "season":
        return np.resize(past[-m:], n)
    return np.full(n, float(np.mean(past[-m:])))


def forecast(model: SeqFusion, inputs: Inputs, horizon: int, k: int | None, classes: Any,
             freq: Any) -> CovariateForecast:
    """The covariate forecast of ``inputs`` (see the module's docstring)."""
    parsed = inputs.parsed
    hists = preprocess.histories(parsed.series, model.options.min_length, parsed.names)
    n = len(hists)
    seasons, spans = _settings(model, parsed, hists, horizon, classes, freq)
    min_context = max(model.input_length, model.options.min_length)
    gain = np.full(n, np.inf)
    multiplicative = np.zeros(n, dtype=bool)
    effects: dict[int, tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]] = {}
    for i, h in enumerate(hists):
        span = int(min(int(spans[i]), max(len(h) - min_context, 0)))
        cap = min(len(h), len(inputs.past[i]))
        shift = len(h) - cap
        # back-test windows in the regression's points (positions from its first point);
        # every one must keep a zoo input before it, so the series without its effect
        # (``refit``) has the same back-tests as the series
        windows = [(a - shift, e - shift) for a, e in _windows(len(h), span, history.BACKTESTS, min_context)]
        if not windows or windows[-1][0] < min_context:
            continue
        past_effect, future_effect, gain[i] = fit(h, inputs.past[i][-cap:], inputs.future[i], windows,
                                                  _lag(int(seasons[i])), int(seasons[i]))
        if MULTIPLICATIVE and MODE == "refit" and (h[-cap:] > 0).all():
            log_past, log_future, log_gain = fit(np.log(h[-cap:]), inputs.past[i][-cap:], inputs.future[i], windows,
                                                 _lag(int(seasons[i])), int(seasons[i]))
            if log_gain < gain[i]:
                # the future effect kept within the past one's range widened by that range
                lo, hi = float(log_past.min()), float(log_past.max())
                log_future = np.clip(log_future, 2 * lo - hi, 2 * hi - lo)
                past_effect, future_effect, gain[i] = log_past, log_future, log_gain
                multiplicative[i] = True
        if gain[i] < MIN_GAIN:
            effects[i] = (past_effect, future_effect, windows)
    rows = np.asarray(sorted(effects), dtype=np.int64)
    if MODE in ("refit", "both"):
        # the regression's points without the covariates' effect
        z = [hists[r][-len(effects[int(r)][0]):] / np.exp(effects[int(r)][0]) if multiplicative[r]
             else hists[r][-len(effects[int(r)][0]):] - effects[int(r)][0] for r in rows]
        # one call: the series and what their covariates leave
        both = _with_rows(parsed, rows, z)
        both_classes = (list(classes) + [classes[r] for r in rows]) if isinstance(classes, list) else classes
        fc, _ = model._forecast_histories(both.series, both, horizon, k, both_classes, freq)
        base, refit = _take(fc, np.arange(n)), _take(fc, np.arange(n, n + len(rows)))
        cand_point = cand_res = None
        if len(rows):
            cand_point = np.empty_like(refit.point)[:, None]
            cand_res = refit.residuals.copy()[:, None]
            for a, r in enumerate(rows):
                past, future, windows = effects[int(r)]
                if not multiplicative[r]:
                    cand_point[a, 0] = refit.point[a] + future
                    continue
                cand_point[a, 0] = refit.point[a] * np.exp(future)
                # y - forecast * exp(effect) = (z - forecast) * exp(effect) at each back-test point
                for j, (start, end) in enumerate(windows):
                    cand_res[a, 0, j, : end - start] *= np.exp(past[start:end])
        if MODE == "both" and cand_point is not None and cand_res is not None:
            adj_point, adj_res = _adjusted(base, rows, effects, seasons, horizon)
            assert adj_point is not None and adj_res is not None
            cand_point = np.concatenate([cand_point, adj_point], axis=1)
            cand_res = np.concatenate([cand_res, adj_res], axis=1)
    else:
        base, _ = model._forecast_histories(parsed.series, parsed, horizon, k, classes, freq)
        cand_point, cand_res = _adjusted(base, rows, effects, seasons, horizon)
    point = base.point.copy()
    residuals = base.residuals.copy()
    weight = np.zeros(n)
    if len(rows) and cand_point is not None and cand_res is not None:
        res = np.concatenate([base.residuals[rows][:, None], cand_res], axis=1)  # [r, 1 + C, J, W]
        pts = np.concatenate([base.point[rows][:, None], cand_point], axis=1)  # [r, 1 + C, H]
        err = np.nanmean(np.abs(res), axis=(2, 3))
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log(np.maximum(err, 1e-300))
        logs = np.where(np.isfinite(logs), logs, np.inf)
        logs -= logs.min(axis=1, keepdims=True)
        sw = np.exp(-logs / history.TEMPERATURE)
        sw /= sw.sum(axis=1, keepdims=True)
        weight[rows] = 1.0 - sw[:, 0]
        point[rows] = np.einsum("rc,rch->rh", sw, pts)
        residuals[rows] = np.einsum("rc,rcjw->rjw", sw, res)
    long_weight = (1.0 - weight) * base.weights[:, history.CANDIDATES.index("long")]
    return CovariateForecast(point, weight, residuals, gain, base, hists, long_weight)


def _adjusted(base: history.HistoryForecast, rows: np.ndarray,
              effects: dict[int, tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]], seasons: np.ndarray,
              horizon: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The ``adjust`` candidates of series ``rows``: forecasts ``[r, A, H]`` and back-test
    errors ``[r, A, J, W]`` (``A``: one per anchor of :data:`ANCHORS`)."""
    if not len(rows):
        return None, None
    J, W = base.residuals.shape[1:]
    pts = np.empty((len(rows), len(ANCHORS), horizon))
    res = np.full((len(rows), len(ANCHORS), J, W), np.nan)
    for a, r in enumerate(rows):
        past, future, windows = effects[int(r)]
        m = int(seasons[r])
        for c, how in enumerate(ANCHORS):
            pts[a, c] = base.point[r] + future - anchor(past, horizon, how, m)
            for j, (start, end) in enumerate(windows):
                b = end - start
                res[a, c, j, :b] = base.residuals[r, j, :b] - (past[start:end] - anchor(past[:start], b, how, m))
    return pts, res


def _take(fc: history.HistoryForecast, rows: np.ndarray) -> history.HistoryForecast:
    """The rows of a whole-history forecast."""
    from dataclasses import replace

    lq = fc.long_quantiles
    return replace(fc, point=fc.point[rows], weights=fc.weights[rows], residuals=fc.residuals[rows],
                   seasonal=fc.seasonal[rows], season=fc.season[rows], candidates=fc.candidates[rows],
                   backtest_horizon=fc.backtest_horizon[rows], long_quantiles=None if lq is None else lq[rows])


def _with_rows(parsed: Parsed, rows: np.ndarray, series: list[np.ndarray]) -> Parsed:
    """``parsed`` followed by ``series`` as more series (names and stamps of ``rows``)."""
    from seqfusion.frames import Parsed

    if not len(rows):
        return parsed
    index = [parsed.index[i] for i in range(len(parsed.names))] + [parsed.index[int(r)] for r in rows]
    return Parsed(parsed.kind, list(parsed.series) + series, list(parsed.names) + [parsed.names[int(r)] for r in rows],
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
