"""Turning user input (arrays, wide or long DataFrames) into series and back.

Accepted input:
- numpy array ``[T]`` (one series) or ``[T, C]`` (C variates, time along axis 0);
- wide DataFrame: a DatetimeIndex (or a ``date``/``ds``/``timestamp``/``time``/``datetime``
  column) and one numeric column per variate;
- long DataFrame: columns ``unique_id``, ``ds``, ``y`` (statsforecast layout).

Values may be integer, float (NaN allowed), nullable (``pd.NA`` counts as NaN) or bool;
complex and text values are rejected. Time stamps keep their unit and time zone in the
output.
"""
from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
import pandas as pd

from seqfusion.errors import SeqFusionError
from seqfusion.frequency import UNIT_NS
from seqfusion.preprocess import array_series, series_label

TIME_COLUMNS = ("date", "ds", "timestamp", "time", "datetime")
LONG_COLUMNS = ("unique_id", "ds", "y")


class SeriesIndexes(Sequence[pd.Index]):
    """The time index of every series of a long input, as slices of one sorted index,
    made on demand (a million series need not hold a million index objects).

    ``rows``: all rows' stamps sorted by series then time; series ``i`` is
    ``rows[starts[i]:ends[i]]``. ``stamps``: the same stamps as int64 counts of their own
    unit (UTC for zone-aware ones), ``unit_ns`` nanoseconds each, or None for integer /
    float stamps. (Counting in the stamps' unit keeps dates outside the nanosecond range,
    1677-2262, exact.)
    """

    def __init__(self, rows: pd.Index, starts: np.ndarray, ends: np.ndarray,
                 stamps: np.ndarray | None, unit_ns: int = 1) -> None:
        self.rows, self.starts, self.ends, self.stamps, self.unit_ns = rows, starts, ends, stamps, unit_ns
        self.lengths = ends - starts

    def __len__(self) -> int:
        return len(self.starts)

    @overload
    def __getitem__(self, i: int) -> pd.Index: ...

    @overload
    def __getitem__(self, i: slice) -> list[pd.Index]: ...

    def __getitem__(self, i: int | slice) -> pd.Index | list[pd.Index]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return self.rows[int(self.starts[i]): int(self.ends[i])]

    def stack(self, rows: np.ndarray) -> np.ndarray:
        """Stamps (in units of ``unit_ns`` nanoseconds) of series ``rows``, all of one
        length: ``[len(rows), L]``."""
        if self.stamps is None:
            raise ValueError("integer or float stamps have no time unit")
        rows = np.asarray(rows, dtype=np.int64)
        width = int(self.lengths[rows[0]]) if len(rows) else 0
        return self.stamps[self.starts[rows][:, None] + np.arange(width)[None, :]]


@dataclass
class Parsed:
    """Series extracted from an input and what is needed to shape the output alike."""

    kind: str  # "array1d", "array2d", "wide", "long"
    series: list[np.ndarray]  # one float64 array per variate / id (may hold NaN)
    names: list[Any]
    index: Sequence[pd.Index | None] = field(default_factory=list)  # time index per series
    time_column: str | None = None


def parse(y: Any, dayfirst: bool | None = None, date_format: str | None = None) -> Parsed:
    """Parse a supported input into a :class:`Parsed`; raise SeqFusionError otherwise.

    ``dayfirst`` / ``date_format`` say how text dates are read (see :func:`to_datetime`).
    """
    if isinstance(y, pd.Series):
        y = y.to_frame(name=y.name if y.name is not None else "y")
    if isinstance(y, pd.DataFrame):
        if set(LONG_COLUMNS) <= set(y.columns):
            return _parse_long(y, dayfirst, date_format)
        if "unique_id" in y.columns:
            missing = [c for c in LONG_COLUMNS if c not in y.columns]
            others = [str(c) for c in y.columns if c not in LONG_COLUMNS]
            raise SeqFusionError(f"long format needs columns unique_id, ds, y: missing {', '.join(missing)}"
                                 + (f" (other columns: {', '.join(others)}; rename the values column to y)"
                                    if others else ""))
        return _parse_wide(y, dayfirst, date_format)
    if isinstance(y, (np.ndarray, list, tuple)):
        kind, cols = array_series(y)
        return Parsed(kind, cols, list(range(len(cols))), [None] * len(cols))
    raise SeqFusionError(
        f"unsupported input type {type(y).__name__}: give a numpy array [T] or [T, C], "
        "a wide DataFrame or a long DataFrame with unique_id, ds, y"
    )


def _values(col: pd.Series, name: Any) -> np.ndarray:
    """Column values as float64 (NaN for missing); SeqFusionError for complex or text."""
    if pd.api.types.is_complex_dtype(col):
        raise SeqFusionError(f"column {name!r} holds complex values: give the real part (or both "
                             "parts as two columns)")
    if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
        raise SeqFusionError(f"column {name!r} must be numeric, got {col.dtype}")
    return col.to_numpy(dtype=np.float64, na_value=np.nan)


def _parse_wide(df: pd.DataFrame, dayfirst: bool | None, date_format: str | None) -> Parsed:
    time_col = None
    index: pd.Index | None
    if isinstance(df.index, pd.DatetimeIndex):
        index = df.index
        if index.hasnans:
            raise SeqFusionError("the time index has missing timestamps (NaT)")
    else:
        time_col = next((c for c in TIME_COLUMNS if c in df.columns), None)
        if time_col:
            index = to_datetime(df[time_col], time_col, dayfirst, date_format)
        elif pd.api.types.is_numeric_dtype(df.index):
            index = df.index
        else:
            index = pd.RangeIndex(len(df))
    values = df.drop(columns=[time_col]) if time_col else df
    if values.shape[1] == 0:
        raise SeqFusionError("the DataFrame has no value columns")
    if len(values) == 0:
        raise SeqFusionError("the input is empty")
    bad = [c for c in values.columns
           if not (pd.api.types.is_numeric_dtype(values[c]) or pd.api.types.is_bool_dtype(values[c]))]
    if bad:
        raise SeqFusionError(f"non-numeric column(s): {', '.join(map(str, bad))}")
    _check_time_order(index, "the time index")
    series = [_values(values.iloc[:, j], c) for j, c in enumerate(values.columns)]
    return Parsed("wide", series, list(values.columns), [index] * len(series), time_col)


def _parse_long(df: pd.DataFrame, dayfirst: bool | None, date_format: str | None) -> Parsed:
    extra = [c for c in df.columns if c not in LONG_COLUMNS]
    if extra:
        raise SeqFusionError(f"unknown column(s) in long input: {', '.join(map(str, extra))}")
    if len(df) == 0:
        raise SeqFusionError("the input is empty")
    y = _values(df["y"], "y")
    codes, ids = pd.factorize(df["unique_id"], sort=False)  # ids in order of appearance
    if (codes < 0).any():
        raise SeqFusionError(f"column 'unique_id' has {int((codes < 0).sum())} empty value(s) "
                             f"(first at row {int(np.argmax(codes < 0))})")
    ds_col = df["ds"]
    is_time = not pd.api.types.is_numeric_dtype(ds_col)
    if is_time:
        ds: pd.Index = to_datetime(ds_col, "ds", dayfirst, date_format)
        stamps = ds.asi8  # in ds's unit, UTC for zone-aware stamps: order is absolute time
    else:
        ds = pd.Index(ds_col.to_numpy())
        if ds.hasnans:
            raise SeqFusionError("column 'ds' has missing values")
        stamps = np.asarray(ds)
    order = np.lexsort((stamps, codes))
    codes, stamps = codes[order], stamps[order]
    same = (codes[1:] == codes[:-1]) & (stamps[1:] == stamps[:-1])
    if same.any():
        raise SeqFusionError(f"series {series_label(ids[codes[1:][same][0]])} has duplicate timestamps "
                             f"(first: {ds[order][1:][same][0]})")
    ends = np.cumsum(np.bincount(codes, minlength=len(ids)))
    starts = np.concatenate([[0], ends[:-1]])
    y, ds = y[order], ds[order]
    series = [y[a:b] for a, b in zip(starts, ends)]
    index = SeriesIndexes(ds, starts, ends, stamps if is_time else None,
                          UNIT_NS[ds.unit] if isinstance(ds, pd.DatetimeIndex) else 1)
    return Parsed("long", series, list(ids), index, "ds")


def _is_regular(ix: pd.DatetimeIndex) -> bool:
    return bool(ix.is_monotonic_increasing) and (len(ix) < 3 or infer_offset(ix) is not None)


def to_datetime(col: pd.Series, name: str, dayfirst: bool | None = None,
                date_format: str | None = None) -> pd.DatetimeIndex:
    """Read a column as time stamps (a DatetimeIndex keeping unit and time zone).

    Text dates are read with ``date_format`` when given, else with ``dayfirst`` when it is
    True or False. With ``dayfirst=None`` both readings are tried: if only one succeeds it is
    used; if they differ and only the day-first reading gives evenly spaced stamps, a
    SeqFusionError asks for ``dayfirst``; if both are even, the month-first reading is used
    and a UserWarning says so. Stamps with mixed UTC offsets (zone-aware text across a
    daylight-saving change) are read as UTC. Errors are one line.
    """
    if pd.api.types.is_datetime64_any_dtype(col):
        out = pd.DatetimeIndex(col)
    elif date_format is not None or dayfirst is not None or not _is_text(col):
        out = _read_dates(col, name, dayfirst=bool(dayfirst), format=date_format)
    elif (iso := _iso(col)) is not None:
        out = iso
    else:
        month_first: pd.DatetimeIndex | SeqFusionError
        day_first: pd.DatetimeIndex | SeqFusionError
        try:
            month_first = _read_dates(col, name, dayfirst=False)
        except SeqFusionError as exc:
            month_first = exc
        try:
            day_first = _read_dates(col, name, dayfirst=True)
        except SeqFusionError as exc:
            day_first = exc
        if isinstance(month_first, SeqFusionError) and isinstance(day_first, SeqFusionError):
            raise month_first
        if isinstance(month_first, SeqFusionError):
            out = day_first
        elif isinstance(day_first, SeqFusionError) or month_first.equals(day_first):
            out = month_first
        elif _is_regular(day_first) and not _is_regular(month_first):
            raise SeqFusionError(
                f"column {name!r}: dates such as {col.iloc[0]!r} read month-first give irregular stamps, "
                "day-first regular ones: pass dayfirst=True (--dayfirst) or a date_format (--date-format)")
        else:
            warnings.warn(f"column {name!r}: dates such as {col.iloc[0]!r} could be month-first or "
                          "day-first; read month-first (pass dayfirst=True or date_format to choose)",
                          UserWarning, stacklevel=3)
            out = month_first
    if out.hasnans:
        raise SeqFusionError(f"column {name!r} has {int(out.isna().sum())} missing timestamp(s)")
    return out


def _iso(col: pd.Series) -> pd.DatetimeIndex | None:
    """Text dates read as ISO 8601 (year first, the same either way), or None when they are
    not ISO dates."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # pandas 2 on mixed UTC offsets
        try:
            return pd.DatetimeIndex(pd.to_datetime(col, format="ISO8601"))
        except ValueError as exc:
            if "utc=True" in str(exc):  # mixed UTC offsets: read as UTC
                return pd.DatetimeIndex(pd.to_datetime(col, format="ISO8601", utc=True))
            return None
        except (TypeError, OverflowError):
            return None


def _is_text(col: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)


def _read_dates(col: pd.Series, name: str, **kwargs: Any) -> pd.DatetimeIndex:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pandas' "could not infer format" notes
        warnings.simplefilter("ignore", FutureWarning)  # pandas 2 on mixed offsets (handled below)
        try:
            try:
                return pd.DatetimeIndex(pd.to_datetime(col, **kwargs))
            except ValueError as exc:
                if "utc=True" not in str(exc):
                    raise
                return pd.DatetimeIndex(pd.to_datetime(col, utc=True, **kwargs))  # mixed offsets
        except (ValueError, TypeError, OverflowError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            first = re.sub(r"\. You might want to try:.*", "", first)
            if "Out of bounds nanosecond" in first:
                first += "; pandas < 3 reads text dates in nanoseconds, 1677-09-21 to 2262-04-11 (pandas 3 reads "\
                         "them in a unit that holds them)"
            raise SeqFusionError(f"column {name!r} cannot be read as timestamps ({first})") from None


def _check_time_order(index: pd.Index | None, what: str) -> None:
    if index is None:
        return
    if index.has_duplicates:
        raise SeqFusionError(f"{what} has duplicate timestamps")
    if not index.is_monotonic_increasing:
        raise SeqFusionError(f"{what} is not sorted in increasing time order")


def infer_offset(index: pd.DatetimeIndex) -> pd.offsets.BaseOffset | None:
    """The regular frequency of ``index`` as a pandas offset (None when irregular or fewer
    than 3 stamps)."""
    if len(index) < 3:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas' notes on infer_freq's future return type
        try:
            freq = pd.infer_freq(index)
        except (TypeError, ValueError):
            return None
    if freq is None:
        return None
    return freq if isinstance(freq, pd.offsets.BaseOffset) else pd.tseries.frequencies.to_offset(freq)


def future_index(index: pd.Index | None, horizon: int, freq: Any = None) -> pd.Index:
    """The ``horizon`` time stamps after ``index`` (same unit and time zone).

    Uses the frequency pandas infers from the stamps; else ``freq`` (a pandas alias or
    offset, when given); else, for irregular stamps, the most common step (a ``UserWarning``
    says so). Integer indices continue by their last step; no index gives positions
    ``0..horizon-1``.
    """
    if index is None or len(index) == 0:
        return pd.RangeIndex(horizon)
    if isinstance(index, pd.DatetimeIndex):
        offset = infer_offset(index)
        if offset is None and freq is not None:
            from seqfusion.frequency import to_offset

            try:
                offset = to_offset(freq)
            except SeqFusionError:
                offset = None  # a class name such as "daily": use the stamps' own step
        if offset is not None:  # from the last stamp, so that pandas steps in local (wall) time
            with _stamp_range(index, horizon):
                return pd.date_range(index[-1], periods=horizon + 1, freq=offset, unit=index.unit)[1:]
        if len(index) < 2:
            raise SeqFusionError("cannot infer a time step from a single timestamp: pass freq")
        steps = pd.Series(np.diff(index.asi8))
        step = int(steps.mode().iloc[0])
        warnings.warn(
            f"irregular timestamps: forecast stamps use the most common step ({pd.Timedelta(step, unit=index.unit)})",
            UserWarning,
            stacklevel=3,
        )
        last = int(index.asi8[-1])
        grid = _extend(np.array([[last]]), np.array([[step]]), horizon, index)[0]
        out = pd.DatetimeIndex(grid.view(f"datetime64[{index.unit}]"))
        return out.tz_localize("UTC").tz_convert(index.tz) if index.tz is not None else out
    vals = np.asarray(index)
    step = vals[-1] - vals[-2] if len(vals) >= 2 else 1
    return pd.Index(vals[-1] + step * np.arange(1, horizon + 1))


def _stamp_error(index: pd.DatetimeIndex, horizon: int) -> SeqFusionError:
    end = "2262-04-11" if index.unit == "ns" else "year 9999"
    return SeqFusionError(f"the forecast's time stamps ({horizon} steps after {index[-1]}) run past the last date "
                          f"datetime64[{index.unit}] holds ({end}): shorten the horizon"
                          + (" or give the stamps in seconds (datetime64[s])" if index.unit == "ns" else ""))


@contextmanager
def _stamp_range(index: pd.DatetimeIndex, horizon: int) -> Iterator[None]:
    """Stamps that overflow their unit become a one-line SeqFusionError."""
    try:
        yield
    except (OverflowError, pd.errors.OutOfBoundsDatetime, pd.errors.OutOfBoundsTimedelta):
        raise _stamp_error(index, horizon) from None


def _extend(last: np.ndarray, step: np.ndarray, horizon: int, index: pd.DatetimeIndex) -> np.ndarray:
    """``last + step * (1..horizon)`` ``[n, H]`` in int64, refused when it would overflow
    (or pass year 9999, where pandas' stamps end)."""
    end = last.astype(np.float64) + step.astype(np.float64) * horizon
    limit = min(float(np.iinfo(np.int64).max), 253402300799.0 * 10**9 / UNIT_NS[index.unit])
    if (np.abs(end) > limit * (1 - 1e-9)).any():  # float64 rounding: a few seconds of slack
        raise _stamp_error(index, horizon)
    return last + step * np.arange(1, horizon + 1)


def assemble(parsed: Parsed, forecast: np.ndarray, horizon: int, freq: Any = None) -> Any:
    """Shape forecasts ``[n_series, H]`` like the input ``parsed`` came from."""
    if parsed.kind == "array1d":
        return forecast[0]
    if parsed.kind == "array2d":
        return forecast.T.copy()
    if parsed.kind == "wide":
        fut = future_index(parsed.index[0], horizon, freq)
        out = pd.DataFrame(forecast.T, columns=parsed.names)
        if parsed.time_column:
            out.insert(0, parsed.time_column, fut)
        else:
            out.index = fut
        return out
    return _assemble_long(parsed, forecast, horizon, freq)


def _assemble_long(parsed: Parsed, forecast: np.ndarray, horizon: int, freq: Any = None) -> pd.DataFrame:
    """Long output. Zone-naive series with a fixed time step (or integer stamps) are
    extended without a Python loop; calendar frequencies (months, years), zone-aware and
    irregular stamps go one by one."""
    n = len(parsed.names)
    steps = np.arange(1, horizon + 1)
    first = parsed.index[0]
    indexes: Sequence[Any] = parsed.index  # every entry is set for DataFrame input
    lengths = (indexes.lengths if isinstance(indexes, SeriesIndexes)
               else np.array([len(ix) for ix in indexes]))
    ds: Any
    if not isinstance(first, pd.DatetimeIndex):  # integer / float stamps: continue the last step
        last = np.array([ix[-1] for ix in indexes])
        step = np.array([ix[-1] - ix[-2] if len(ix) > 1 else 1 for ix in indexes])
        ds = (last[:, None] + step[:, None] * steps).ravel()
    else:
        unit = first.unit  # every series of a long input shares its unit
        grid = np.empty((n, horizon), dtype=np.int64)  # counts of `unit` since the epoch (UTC when zone-aware)
        regular = np.zeros(n, dtype=bool)
        if first.tz is None and (lengths >= 4).all() and len(set(lengths.tolist())) == 1 \
                and _fixed_freq(first):
            stamps = (indexes.stack(np.arange(n)) if isinstance(indexes, SeriesIndexes)
                      else np.stack([ix.as_unit(unit).asi8 for ix in indexes]))  # [n, L]
            d = np.diff(stamps, axis=1)
            regular = (d == d[:, -1:]).all(axis=1)  # constant step: extend by that step
            grid[regular] = _extend(stamps[regular, -1:], d[regular, -1:], horizon, first)
        for i in np.nonzero(~regular)[0]:
            grid[i] = future_index(parsed.index[int(i)], horizon, freq).as_unit(unit).asi8
        flat = pd.DatetimeIndex(grid.ravel().view(f"datetime64[{unit}]"))
        if first.tz is not None:
            flat = flat.tz_localize("UTC").tz_convert(first.tz)
        ds = flat
    return pd.DataFrame({"unique_id": np.repeat(np.asarray(parsed.names, dtype=object), horizon),
                         "ds": ds, "y": forecast.ravel()})


def _fixed_freq(index: pd.DatetimeIndex) -> bool:
    """Whether ``index`` has an inferable frequency of fixed length (days and shorter)."""
    offset = infer_offset(index)
    if offset is None:
        return False
    try:
        return pd.Timedelta(offset).value > 0
    except (ValueError, TypeError):  # months, quarters, years: no fixed length
        return False
