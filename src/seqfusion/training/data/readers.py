"""Readers for the file formats of the shared data folder.

Every reader takes a file path plus reader-specific keyword options and returns a
list of 1-D float64 arrays, one per series, in file order. Missing values are NaN;
cleaning (gap filling, splitting) is done later by :mod:`seqfusion.training.data.sources`.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

Series = list[np.ndarray]
PathLike = str | Path

#: FRED-MD columns holding exchange rates (overlap with the ``exchange_rate`` target).
FRED_EXCHANGE_COLUMNS: tuple[str, ...] = (
    "EXSZUSx", "EXJPUSx", "EXUSUKx", "EXCAUSx", "TWEXAFEGSMTHx",
)


def _floats(text: str, sep: str = ",") -> np.ndarray:
    """Parse ``sep``-separated numbers; ``?`` and empty fields become NaN."""
    fields = [f.strip() for f in text.strip().strip(sep).split(sep)]
    return np.array([f if f not in ("", "?") else "nan" for f in fields], dtype=np.float64)


def parse_tsf(path: PathLike) -> tuple[dict[str, str], list[dict[str, str]], Series]:
    """Parse a Monash ``.tsf`` file (read as latin-1).

    Returns ``(header, attributes, values)``: the ``@`` header keys (lower-case, e.g.
    ``frequency``, ``horizon``), one dict of attribute values per series, and the
    series values (NaN for ``?``).
    """
    header: dict[str, str] = {}
    names: list[str] = []
    attrs: list[dict[str, str]] = []
    values: Series = []
    in_data = False
    with open(path, encoding="latin-1") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                if not line.startswith("@"):
                    raise ValueError(f"{path}:{lineno}: expected an @ header line")
                key, _, rest = line[1:].partition(" ")
                key = key.lower()
                if key == "attribute":
                    names.append(rest.split()[0])
                elif key == "data":
                    in_data = True
                else:
                    header[key] = rest.strip()
                continue
            parts = line.split(":", len(names))
            if len(parts) != len(names) + 1:
                raise ValueError(f"{path}:{lineno}: expected {len(names)} attributes")
            attrs.append(dict(zip(names, parts[:-1])))
            values.append(_floats(parts[-1]))
    if not in_data:
        raise ValueError(f"{path}: no @data section")
    return header, attrs, values


def read_tsf(path: PathLike, exclude_test: bool = False) -> Series:
    """Read a Monash ``.tsf`` file; ``exclude_test`` drops the last ``@horizon`` values."""
    header, _, values = parse_tsf(path)
    if exclude_test:
        if "horizon" not in header:
            raise ValueError(f"{path}: exclude_test needs an @horizon header line")
        h = int(header["horizon"])
        values = [v[:-h] for v in values]
    return values


def read_weekly_txt(path: PathLike, with_results: bool = False) -> Series:
    """Read a WeeklyForecasting ``*_dataset.txt`` (one comma-separated series per line).

    With ``with_results`` the matching ``*_results.txt`` test values (``;``-separated,
    first field a constant to ignore) are appended to each series.
    """
    path = Path(path)
    lines = [ln for ln in path.read_text(encoding="latin-1").splitlines() if ln.strip()]
    series = [_floats(ln) for ln in lines]
    if with_results:
        res_path = path.with_name(path.name.replace("_dataset.txt", "_results.txt"))
        if res_path == path or not res_path.is_file():
            raise FileNotFoundError(f"results file for {path} not found: {res_path}")
        res = [ln for ln in res_path.read_text(encoding="latin-1").splitlines() if ln.strip()]
        if len(res) != len(series):
            raise ValueError(f"{res_path}: {len(res)} lines, expected {len(series)}")
        series = [np.concatenate([s, _floats(r, ";")[1:]]) for s, r in zip(series, res)]
    return series


def read_m3_tidy(
    path: PathLike, split: str = "train", categories: Sequence[str] | None = None
) -> Series:
    """Read a tidy M3 CSV (``series_id, category, ..., t, split, value``).

    ``split``: ``"train"`` (competition test part excluded), ``"test"`` or ``"all"``.
    ``categories``: keep only these M3 categories (e.g. ``["MICRO"]``).
    """
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be train/test/all, got {split!r}")
    df = pd.read_csv(path, usecols=["series_id", "category", "t", "split", "value"])
    if split != "all":
        df = df[df["split"] == split]
    if categories is not None:
        df = df[df["category"].isin(list(categories))]
    df = df.sort_values(["t"], kind="stable")
    return [g["value"].to_numpy(np.float64) for _, g in df.groupby("series_id", sort=False)]


def _wide_rows(path: PathLike) -> dict[str, np.ndarray]:
    """Rows of an M4-style wide CSV: id column, then values padded with empty cells."""
    df = pd.read_csv(path, index_col=0)
    values = df.to_numpy(np.float64)
    out: dict[str, np.ndarray] = {}
    for key, row in zip(df.index.astype(str), values):
        finite = np.flatnonzero(~np.isnan(row))
        out[key] = row[: finite[-1] + 1] if finite.size else row[:0]
    return out


def read_m4_wide(path: PathLike, include_test: bool = False) -> Series:
    """Read an M4 ``Train/<Freq>-train.csv`` (trailing padding removed).

    With ``include_test`` the rows of the matching ``Test/<Freq>-test.csv`` are appended.
    """
    path = Path(path)
    train = _wide_rows(path)
    if not include_test:
        return list(train.values())
    test_path = path.parent.parent / "Test" / path.name.replace("-train", "-test")
    if test_path == path or not test_path.is_file():
        raise FileNotFoundError(f"test file for {path} not found: {test_path}")
    test = _wide_rows(test_path)
    missing = set(train) - set(test)
    if missing:
        raise ValueError(f"{test_path}: {len(missing)} series ids missing, e.g. {min(missing)}")
    return [np.concatenate([v, test[k]]) for k, v in train.items()]


def _timestamps(df: pd.DataFrame, time: str | Mapping[str, str], fmt: str | None) -> pd.Series:
    """Build timestamps from one column, or from parts ``{year=..., month=..., day=...,
    hour=...}`` or ``{date=..., hour=...}`` (column names as values)."""
    if isinstance(time, str):
        return pd.to_datetime(df[time], format=fmt)
    parts = dict(time)
    if "date" in parts:
        ts = pd.to_datetime(df[parts.pop("date")], format=fmt)
        for unit, col in parts.items():
            ts = ts + pd.to_timedelta(df[col], unit={"hour": "h", "minute": "min"}[unit])
        return ts
    return pd.to_datetime(pd.DataFrame({unit: df[col] for unit, col in parts.items()}))


def read_csv_columns(
    path: PathLike,
    columns: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    time: str | Mapping[str, str] | None = None,
    time_format: str | None = None,
    freq: str | None = None,
    skiprows: Sequence[int] | None = None,
    split_column: str | None = None,
    split: str | Sequence[str] | None = None,
) -> Series:
    """Read a CSV with one series per column (time along rows).

    ``columns``: value columns to keep (default: every numeric column not excluded and
    not used for time/split). ``exclude``: columns to drop. ``time``/``time_format``:
    timestamp column (or parts, see :func:`_timestamps`); with ``freq`` (pandas alias,
    e.g. ``"h"``, ``"10min"``) rows are placed on a regular grid so absent timestamps
    become NaN. ``skiprows``: file line numbers to skip (0 = header). ``split_column`` /
    ``split``: keep only rows whose split value is in ``split``.
    """
    df = pd.read_csv(path, skiprows=list(skiprows) if skiprows else None, encoding="latin-1")
    df.columns = [str(c).strip() for c in df.columns]
    used: set[str] = set(exclude)
    if split_column is not None:
        used.add(split_column)
        if split is not None:
            keep = [split] if isinstance(split, str) else list(split)
            df = df[df[split_column].isin(keep)]
    if time is not None:
        used.update([time] if isinstance(time, str) else time.values())
        if freq is not None:
            ts = _timestamps(df, time, time_format)
            if ts.isna().any() or ts.duplicated().any():
                raise ValueError(f"{path}: invalid or duplicate timestamps")
            df = df.set_index(ts).sort_index()
            df = df.reindex(pd.date_range(df.index[0], df.index[-1], freq=freq))
    elif freq is not None:
        raise ValueError("freq needs a time column")
    if columns is None:
        columns = [c for c in df.columns
                   if c not in used and pd.api.types.is_numeric_dtype(df[c])]
    else:
        absent = [c for c in columns if c not in df.columns]
        if absent:
            raise KeyError(f"{path}: columns not found: {absent}")
        columns = [c for c in columns if c not in used]
    return [pd.to_numeric(df[c], errors="coerce").to_numpy(np.float64) for c in columns]


def read_fred_md(path: PathLike, exclude: Sequence[str] = FRED_EXCHANGE_COLUMNS) -> Series:
    """Read FRED-MD (``sasdate`` + series); the ``Transform:`` code row and the
    exchange-rate columns (:data:`FRED_EXCHANGE_COLUMNS`, by default) are dropped."""
    df = pd.read_csv(path, encoding="latin-1")
    first = df.columns[0]
    df = df[~df[first].astype(str).str.strip().str.lower().str.startswith("transform")]
    cols = [c for c in df.columns[1:] if c not in set(exclude)]
    return [pd.to_numeric(df[c], errors="coerce").to_numpy(np.float64) for c in cols]


def read_csv_rows(path: PathLike, exclude: Sequence[str] = (), diff: bool = False) -> Series:
    """Read a CSV with one series per row (time along columns), e.g. the JHU COVID file.

    ``exclude``: non-value columns to drop (ids, coordinates). ``diff``: return first
    differences (e.g. daily counts from cumulative counts).
    """
    df = pd.read_csv(path, encoding="latin-1").drop(columns=list(exclude))
    values = df.apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    if diff:
        values = np.diff(values, axis=1)
    return list(values)


#: Reader functions by the name used in ``sources.toml``.
READERS: dict[str, Callable[..., Series]] = {
    "read_tsf": read_tsf,
    "read_weekly_txt": read_weekly_txt,
    "read_m3_tidy": read_m3_tidy,
    "read_m4_wide": read_m4_wide,
    "read_csv_columns": read_csv_columns,
    "read_fred_md": read_fred_md,
    "read_csv_rows": read_csv_rows,
}
