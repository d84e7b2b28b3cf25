"""Series of the shared data folder whose covariates are treated as known over the
forecast (fev-bench's convention for "known" covariates: a weather forecast, a planned
event, the calendar).

Each dataset is one regular series (gaps in the time grid filled by linear
interpolation, for every method alike) with its covariates as columns ``[T, p]``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from seqfusion.covariates import calendar
from seqfusion.training.data.paths import data_root


@dataclass
class Dataset:
    """One series ``y [T]`` at time stamps ``ds`` with covariates ``X [T, p]`` (``names``);
    ``freq``: the pandas alias; ``frequency``: the class (sets the horizon); ``season``:
    the MASE season; ``note``: what the covariates are."""

    name: str
    ds: pd.DatetimeIndex
    y: np.ndarray
    X: np.ndarray
    names: list[str]
    freq: str
    frequency: str
    horizon: int
    season: int
    note: str


def _regular(df: pd.DataFrame, freq: str) -> pd.DataFrame:
    """``df`` (indexed by time) on the full grid of ``freq``, gaps linearly interpolated
    (leading gaps: the first value)."""
    full = pd.date_range(df.index.min(), df.index.max(), freq=freq)
    out = df[~df.index.duplicated()].reindex(full).astype(float)
    return out.interpolate(limit_direction="both")


def bike_hourly(root: Path) -> Dataset:
    raw = pd.read_csv(root / "misc" / "bike_sharing_hour.csv")
    raw.index = pd.to_datetime(raw["dteday"]) + pd.to_timedelta(raw["hr"], unit="h")
    cols = ["holiday", "workingday", "weathersit", "temp", "atemp", "hum", "windspeed"]
    df = _regular(raw[["cnt", *cols]], "h")
    return Dataset("bike_hourly", pd.DatetimeIndex(df.index), df["cnt"].to_numpy(), df[cols].to_numpy(), cols,
                   "h", "hourly", 48, 24, "rentals per hour; weather (situation, temperature, humidity, wind), "
                   "holiday, working day")


def bike_daily(root: Path) -> Dataset:
    raw = pd.read_csv(root / "misc" / "bike_sharing_day.csv")
    raw.index = pd.to_datetime(raw["dteday"])
    cols = ["holiday", "workingday", "weathersit", "temp", "atemp", "hum", "windspeed"]
    df = _regular(raw[["cnt", *cols]], "D")
    return Dataset("bike_daily", pd.DatetimeIndex(df.index), df["cnt"].to_numpy(), df[cols].to_numpy(), cols,
                   "D", "daily", 14, 7, "rentals per day; weather, holiday, working day")


def prsa(root: Path) -> Dataset:
    raw = pd.read_csv(root / "misc" / "PRSA_data_2010.1.1-2014.12.31.csv")
    raw.index = pd.to_datetime(raw[["year", "month", "day", "hour"]])
    for d in ("NE", "NW", "SE"):  # wind direction (cv: calm/variable, the reference)
        raw[f"wind_{d}"] = (raw["cbwd"] == d).astype(float)
    cols = ["DEWP", "TEMP", "PRES", "Iws", "Is", "Ir", "wind_NE", "wind_NW", "wind_SE"]
    df = raw[["pm2.5", *cols]]
    df = df.loc[df["pm2.5"].first_valid_index():]  # the first day has no measurement
    df = _regular(df, "h")
    return Dataset("prsa_pm25", pd.DatetimeIndex(df.index), df["pm2.5"].to_numpy(), df[cols].to_numpy(), cols,
                   "h", "hourly", 48, 24, "Beijing PM2.5 per hour; dew point, temperature, pressure, wind "
                   "(speed, direction), snow and rain hours")


def births(root: Path) -> Dataset:
    raw = pd.read_csv(root / "misc" / "US_births_2000-2014_SSA.csv")
    raw.index = pd.to_datetime(raw.rename(columns={"date_of_month": "day"})[["year", "month", "day"]])
    df = _regular(raw[["births"]], "D")
    cal = calendar(pd.Series(df.index), day_of_week=False, country="US")
    hol = cal["holiday"].to_numpy()
    near = np.zeros_like(hol)  # the days next to a holiday (births are moved off it)
    near[1:] = np.maximum(near[1:], hol[:-1])
    near[:-1] = np.maximum(near[:-1], hol[1:])
    near = near * (1 - hol)
    X = np.stack([hol, near], axis=1)
    return Dataset("us_births", pd.DatetimeIndex(df.index), df["births"].to_numpy(), X, ["holiday", "near_holiday"],
                   "D", "daily", 14, 7, "US births per day; public holidays (holidays package) and the days "
                   "next to them")


def wind(root: Path) -> Dataset:
    raw = pd.read_csv(root / "misc" / "wind_turbine_scada_T1.csv", encoding="latin-1")
    raw.index = pd.to_datetime(raw["Date/Time"], format="%d %m %Y %H:%M")
    df = raw[["ActivePower", "Wind Speed (m/s)"]].rename(columns={"Wind Speed (m/s)": "wind_speed"})
    df = _regular(df, "10min")
    return Dataset("wind_power", pd.DatetimeIndex(df.index), df["ActivePower"].to_numpy(),
                   df[["wind_speed"]].to_numpy(), ["wind_speed"], "10min", "subhourly", 48, 144,
                   "turbine power per 10 minutes; measured wind "
                   "speed (as a perfect wind forecast)")


#: Prophet's example of lockdowns as one-off events (its "Handling shocks" guide)
LOCKDOWNS = (("2020-03-21", "2020-06-06"), ("2020-07-09", "2020-10-27"), ("2021-02-13", "2021-02-17"),
             ("2021-05-28", "2021-06-10"))


def pedestrians(root: Path) -> Dataset:
    raw = pd.read_csv(root / "misc" / "prophet_example_pedestrians_covid.csv")
    raw.index = pd.to_datetime(raw["ds"])
    df = _regular(raw[["y"]], "D")
    lock = np.zeros(len(df))
    for a, b in LOCKDOWNS:
        lock[(df.index >= a) & (df.index <= b)] = 1.0
    return Dataset("pedestrians", pd.DatetimeIndex(df.index), df["y"].to_numpy(), lock[:, None], ["lockdown"],
                   "D", "daily", 14, 7, "Melbourne pedestrian counts per day; lockdown periods (Prophet's example)")


READERS: dict[str, Callable[[Path], Dataset]] = {
    "bike_hourly": bike_hourly, "bike_daily": bike_daily, "prsa_pm25": prsa, "us_births": births,
    "wind_power": wind, "pedestrians": pedestrians}


def load(name: str, root: Path | None = None) -> Dataset:
    return READERS[name](root or data_root())
