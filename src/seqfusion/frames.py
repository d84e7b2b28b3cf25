"""Turning user input (arrays, wide or long DataFrames) into series and back.

Accepted input:
- numpy array ``[T]`` (one series) or ``[T, C]`` (C variates, time along axis 0);
- wide DataFrame: a DatetimeIndex (or a ``date``/``ds`` column) and one numeric column per
  variate;
- long DataFrame: columns ``unique_id``, ``ds``, ``y`` (statsforecast layout).
"""
from __future__ import annotations

import warnings
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from seqfusion.errors import SeqFusionError

TIME_COLUMNS = ("date", "ds", "timestamp", "time", "datetime")


@dataclass
class Parsed:
    """Series extracted from an input and what is needed to shape the output alike."""

    kind: str  # "array1d", "array2d", "wide", "long"
    series: list[np.ndarray]  # one float64 array per variate / id (may hold NaN)
    names: list[Any]
    index: list[pd.Index | None] = field(default_factory=list)  # time index per series
    time_column: str | None = None


def parse(y: Any) -> Parsed:
    """Parse a supported input into a :class:`Parsed`; raise SeqFusionError otherwise."""
    if isinstance(y, pd.Series):
        y = y.to_frame(name=y.name if y.name is not None else "y")
    if isinstance(y, pd.DataFrame):
        if {"unique_id", "ds", "y"} <= set(y.columns):
            return _parse_long(y)
        return _parse_wide(y)
    if isinstance(y, (list, tuple)):
        y = np.asarray(y)
    if isinstance(y, np.ndarray):
        if y.dtype == object or not np.issubdtype(y.dtype, np.number):
            raise SeqFusionError(f"array input must be numeric, got dtype {y.dtype}")
        if y.ndim == 1:
            return Parsed("array1d", [y.astype(np.float64)], [0], [None])
        if y.ndim == 2:
            if y.shape[1] == 0:
                raise SeqFusionError("input has no variates (shape [T, 0])")
            cols = [y[:, c].astype(np.float64) for c in range(y.shape[1])]
            return Parsed("array2d", cols, list(range(y.shape[1])), [None] * y.shape[1])
        raise SeqFusionError(f"array input must be [T] or [T, C], got shape {y.shape}")
    raise SeqFusionError(
        f"unsupported input type {type(y).__name__}: give a numpy array [T] or [T, C], "
        "a wide DataFrame or a long DataFrame with unique_id, ds, y"
    )


def _parse_wide(df: pd.DataFrame) -> Parsed:
    time_col = None
    if isinstance(df.index, pd.DatetimeIndex):
        index: pd.Index | None = df.index
    else:
        for c in TIME_COLUMNS:
            if c in df.columns:
                time_col = c
                break
        if time_col:
            index = pd.DatetimeIndex(_to_datetime(df[time_col], time_col))
        elif pd.api.types.is_numeric_dtype(df.index):
            index = df.index
        else:
            index = pd.RangeIndex(len(df))
    values = df.drop(columns=[time_col]) if time_col else df
    if values.shape[1] == 0:
        raise SeqFusionError("the DataFrame has no value columns")
    bad = [c for c in values.columns if not pd.api.types.is_numeric_dtype(values[c])]
    if bad:
        raise SeqFusionError(f"non-numeric column(s): {', '.join(map(str, bad))}")
    if index is not None:
        _check_time_order(index, "the time index")
    series = [values[c].to_numpy(dtype=np.float64) for c in values.columns]
    return Parsed("wide", series, list(values.columns), [index] * len(series), time_col)


def _parse_long(df: pd.DataFrame) -> Parsed:
    extra = [c for c in df.columns if c not in ("unique_id", "ds", "y")]
    if extra:
        raise SeqFusionError(f"unknown column(s) in long input: {', '.join(map(str, extra))}")
    if not pd.api.types.is_numeric_dtype(df["y"]):
        raise SeqFusionError("column 'y' must be numeric")
    if len(df) == 0:
        raise SeqFusionError("the input is empty")
    ds = df["ds"]
    is_time = not pd.api.types.is_numeric_dtype(ds)
    ds = pd.DatetimeIndex(_to_datetime(ds, "ds")) if is_time else pd.Index(ds.to_numpy())
    codes, ids = pd.factorize(df["unique_id"], sort=False)  # ids in order of appearance
    stamps = ds.asi8 if is_time else np.asarray(ds)
    order = np.lexsort((stamps, codes))
    codes, stamps = codes[order], stamps[order]
    same = (codes[1:] == codes[:-1]) & (stamps[1:] == stamps[:-1])
    if same.any():
        raise SeqFusionError(f"series {ids[codes[1:][same][0]]!r} has duplicate timestamps")
    bounds = np.cumsum(np.bincount(codes, minlength=len(ids)))[:-1]
    series = np.split(df["y"].to_numpy(dtype=np.float64)[order], bounds)
    index = np.split(ds[order], bounds)
    return Parsed("long", series, list(ids), index, "ds")


def _to_datetime(col: pd.Series, name: str) -> pd.Series:
    try:
        return pd.to_datetime(col)
    except (ValueError, TypeError) as exc:
        raise SeqFusionError(f"column {name!r} cannot be read as timestamps ({exc})") from None


def _check_time_order(index: pd.Index, what: str) -> None:
    if index.has_duplicates:
        raise SeqFusionError(f"{what} has duplicate timestamps")
    if not index.is_monotonic_increasing:
        raise SeqFusionError(f"{what} is not sorted in increasing time order")


def read_csv(path: str | Path) -> pd.DataFrame:
    """Read a CSV file of series; SeqFusionError (one line) if missing, unreadable or empty."""
    p = Path(path)
    if not p.is_file():
        raise SeqFusionError(f"{path}: file not found")
    try:
        df = pd.read_csv(p)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SeqFusionError(f"{path}: cannot read as CSV ({str(exc).splitlines()[0]})") from None
    if df.empty:
        raise SeqFusionError(f"{path}: no data rows")
    return df


def future_index(index: pd.Index | None, horizon: int) -> pd.Index:
    """The ``horizon`` time stamps after ``index``.

    Uses the inferred frequency; for irregular stamps, the most common step (a
    ``UserWarning`` says so). Integer indices continue by their last step; no index gives
    ``0..horizon-1`` positions after the input.
    """
    if index is None or len(index) == 0:
        return pd.RangeIndex(horizon)
    if isinstance(index, pd.DatetimeIndex):
        freq = pd.infer_freq(index) if len(index) >= 3 else None
        if freq is not None:
            return pd.date_range(index[-1], periods=horizon + 1, freq=freq)[1:]
        if len(index) < 2:
            raise SeqFusionError("cannot infer a time step from a single timestamp")
        steps = pd.Series(np.diff(index.asi8))
        step = pd.Timedelta(int(steps.mode().iloc[0]), unit="ns")
        warnings.warn(
            f"irregular timestamps: forecast stamps use the most common step ({step})",
            UserWarning,
            stacklevel=3,
        )
        return pd.DatetimeIndex([index[-1] + step * (i + 1) for i in range(horizon)])
    vals = np.asarray(index)
    step = vals[-1] - vals[-2] if len(vals) >= 2 else 1
    return pd.Index(vals[-1] + step * np.arange(1, horizon + 1))


def assemble(parsed: Parsed, forecast: np.ndarray, horizon: int) -> Any:
    """Shape forecasts ``[n_series, H]`` like the input ``parsed`` came from."""
    if parsed.kind == "array1d":
        return forecast[0]
    if parsed.kind == "array2d":
        return forecast.T.copy()
    if parsed.kind == "wide":
        fut = future_index(parsed.index[0], horizon)
        out = pd.DataFrame(forecast.T, columns=parsed.names)
        if parsed.time_column:
            out.insert(0, parsed.time_column, fut)
        else:
            out.index = fut
        return out
    return _assemble_long(parsed, forecast, horizon)


def _assemble_long(parsed: Parsed, forecast: np.ndarray, horizon: int) -> pd.DataFrame:
    """Long output. Series with a fixed time step (or integer stamps) are extended without
    a Python loop; calendar frequencies (months, years) and irregular stamps go one by one.
    """
    n = len(parsed.names)
    steps = np.arange(1, horizon + 1)
    first = parsed.index[0]
    lengths = np.array([len(ix) for ix in parsed.index])
    if not isinstance(first, pd.DatetimeIndex):  # integer / float stamps: continue the last step
        last = np.array([ix[-1] for ix in parsed.index])
        step = np.array([ix[-1] - ix[-2] if len(ix) > 1 else 1 for ix in parsed.index])
        ds: np.ndarray = (last[:, None] + step[:, None] * steps).ravel()
    else:
        grid = np.empty((n, horizon), dtype="datetime64[ns]")
        regular = np.zeros(n, dtype=bool)
        if (lengths >= 4).all() and len(set(lengths.tolist())) == 1 and _fixed_freq(first):
            stamps = np.stack([ix.asi8 for ix in parsed.index])  # [n, L]
            d = np.diff(stamps, axis=1)
            regular = (d == d[:, -1:]).all(axis=1)  # constant step in ns: extend by that step
            grid[regular] = (stamps[regular, -1:] + d[regular, -1:] * steps).astype("datetime64[ns]")
        for i in np.nonzero(~regular)[0]:
            grid[i] = future_index(parsed.index[i], horizon).to_numpy(dtype="datetime64[ns]")
        ds = grid.ravel()
    return pd.DataFrame({"unique_id": np.repeat(np.asarray(parsed.names, dtype=object), horizon),
                         "ds": ds, "y": forecast.ravel()})


def _fixed_freq(index: pd.DatetimeIndex) -> bool:
    """Whether ``index`` has an inferable frequency of fixed length (days and shorter)."""
    freq = pd.infer_freq(index) if len(index) >= 3 else None
    if freq is None:
        return False
    try:
        return pd.tseries.frequencies.to_offset(freq).nanos > 0
    except ValueError:  # months, quarters, years: no fixed length
        return False
