"""Input parsing and output shaping: time stamps (units, zones, day-first text), dtypes,
missing keys, and property tests over random frames."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from seqfusion.errors import SeqFusionError
from seqfusion.frames import assemble, future_index, parse, to_datetime

FREQS = ["D", "h", "15min", "W", "MS", "ME", "QS", "YS", "B", "2D", "30min"]
ZONES = [None, "UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]


def _expected_future(index: pd.DatetimeIndex, freq: str, horizon: int) -> pd.DatetimeIndex:
    return pd.date_range(index[-1], periods=horizon + 1, freq=freq, tz=index.tz)[1:]


# ---------------------------------------------------------------------- stamps
@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_long_output_stamps_continue_the_input_in_its_unit(unit) -> None:
    ds = pd.date_range("2021-01-01", periods=40, freq="D").as_unit(unit)
    df = pd.DataFrame({"unique_id": "a", "ds": ds, "y": np.arange(40.0)})
    out = assemble(parse(df), np.zeros((1, 3)), 3)
    assert list(out["ds"]) == list(pd.date_range("2021-02-10", periods=3, freq="D"))
    assert out["ds"].dtype == ds.dtype


def test_csv_dates_read_by_pandas_continue_correctly(tmp_path) -> None:
    """pandas 3 parses CSV dates as datetime64[us]: the forecast must not land in 1970."""
    path = tmp_path / "x.csv"
    pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2020-01-01", periods=30, freq="D"),
                  "y": np.arange(30.0)}).to_csv(path, index=False)
    df = pd.read_csv(path, parse_dates=["ds"])
    out = assemble(parse(df), np.zeros((1, 2)), 2)
    assert list(out["ds"]) == [pd.Timestamp("2020-01-31"), pd.Timestamp("2020-02-01")]


def test_zone_aware_stamps_across_dst_keep_their_zone() -> None:
    ds = pd.date_range("2020-03-28 20:00", periods=48, freq="h", tz="Europe/Berlin")
    long = pd.DataFrame({"unique_id": "a", "ds": ds, "y": np.arange(48.0)})
    out = assemble(parse(long), np.zeros((1, 3)), 3)
    assert str(out["ds"].dt.tz) == "Europe/Berlin"
    assert list(out["ds"]) == list(pd.date_range(ds[-1], periods=4, freq="h")[1:])
    wide = pd.DataFrame({"v": np.arange(48.0)}, index=ds)
    assert assemble(parse(wide), np.zeros((1, 3)), 3).index.equals(
        pd.date_range(ds[-1], periods=4, freq="h")[1:])


def test_text_stamps_with_mixed_utc_offsets_are_read_as_utc() -> None:
    ds = pd.date_range("2020-03-28 20:00", periods=12, freq="h", tz="Europe/Berlin")
    text = pd.Series([str(t) for t in ds])
    got = to_datetime(text, "ds")
    assert str(got.tz) == "UTC" and got.equals(ds.tz_convert("UTC"))


def test_day_first_dates_that_also_read_month_first_are_not_guessed() -> None:
    days = pd.date_range("2020-01-01", periods=40, freq="D")
    text = pd.Series(days.strftime("%d/%m/%Y"))
    # month-first fails at day 13: the day-first reading is the only one and is used
    assert to_datetime(text, "date").equals(pd.DatetimeIndex(days))
    short = pd.Series(days[:12].strftime("%d/%m/%Y"))
    # 01/01 .. 12/01: month-first gives 12 months, day-first 12 days; both regular -> warning
    with pytest.warns(UserWarning, match="month-first or day-first"):
        to_datetime(short, "date")
    assert to_datetime(short, "date", dayfirst=True).equals(pd.DatetimeIndex(days[:12]))
    assert to_datetime(short, "date", date_format="%d/%m/%Y").equals(pd.DatetimeIndex(days[:12]))


def test_ambiguous_dates_regular_only_day_first_are_an_error() -> None:
    # month starts over two years, day-first: read month-first they are Jan 1-12 twice
    days = pd.date_range("2020-01-01", periods=24, freq="MS")
    text = pd.Series(days.strftime("%d/%m/%Y"))
    with pytest.raises(SeqFusionError, match="dayfirst") as info:
        to_datetime(text, "date")
    assert "\n" not in str(info.value)


def test_unreadable_dates_give_one_line() -> None:
    with pytest.raises(SeqFusionError) as info:
        to_datetime(pd.Series(["01/02/2020", "31/31/2020", "x"]), "date")
    assert "\n" not in str(info.value) and "You might want" not in str(info.value)


def test_iso_dates_are_not_ambiguous() -> None:
    text = pd.Series(pd.date_range("2020-01-01", periods=20, freq="MS").strftime("%Y-%m-%d"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert to_datetime(text, "date").equals(pd.date_range("2020-01-01", periods=20, freq="MS"))


def test_future_index_uses_the_given_alias_for_irregular_stamps() -> None:
    ix = pd.DatetimeIndex(["2020-01-31", "2020-03-31", "2020-04-30"])
    assert list(future_index(ix, 2, "ME")) == [pd.Timestamp("2020-05-31"), pd.Timestamp("2020-06-30")]


# ---------------------------------------------------------------------- values and keys
def test_empty_unique_id_is_an_error() -> None:
    df = pd.DataFrame({"unique_id": [None, "a", "a"], "ds": pd.date_range("2020", periods=3), "y": 1.0})
    with pytest.raises(SeqFusionError, match="'unique_id' has 1 empty"):
        parse(df)


def test_missing_timestamps_are_an_error() -> None:
    df = pd.DataFrame({"unique_id": "a", "ds": [pd.Timestamp("2020-01-01"), pd.NaT], "y": 1.0})
    with pytest.raises(SeqFusionError, match="missing timestamp"):
        parse(df)


def test_complex_values_are_refused() -> None:
    with pytest.raises(SeqFusionError, match="complex"):
        parse(np.arange(40) * (1 + 1j))
    with pytest.raises(SeqFusionError, match="complex"):
        parse(pd.DataFrame({"a": np.arange(40) * (1 + 1j)}))
    with pytest.raises(SeqFusionError, match="complex"):
        parse(pd.DataFrame({"unique_id": "a", "ds": np.arange(40), "y": np.arange(40) * 1j}))


def test_nullable_and_bool_columns() -> None:
    df = pd.DataFrame({"a": pd.array([1, None, 3], dtype="Int64"), "b": [True, False, True]})
    p = parse(df)
    np.testing.assert_array_equal(p.series[0], [1.0, np.nan, 3.0])
    np.testing.assert_array_equal(p.series[1], [1.0, 0.0, 1.0])


# ---------------------------------------------------------------------- properties
@st.composite
def long_frames(draw: st.DrawFn) -> tuple[pd.DataFrame, dict, str, int]:
    freq = draw(st.sampled_from(FREQS))
    tz = draw(st.sampled_from(ZONES))
    unit = draw(st.sampled_from(["s", "ms", "us", "ns"]))
    n_series = draw(st.integers(1, 4))
    dtype = draw(st.sampled_from(["float64", "float32", "int64", "Float64"]))
    frames, starts = [], {}
    for i in range(n_series):
        length = draw(st.integers(8 if freq == "B" else 3, 50))  # B: a weekend tells it from D
        start = pd.Timestamp("2001-01-01") + pd.Timedelta(days=draw(st.integers(0, 4000)))
        ds = pd.date_range(start, periods=length, freq=freq, tz=tz).as_unit(unit)
        y = draw(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=length, max_size=length))
        vals = pd.Series(np.round(y) if dtype in ("int64",) else y).astype(dtype)
        if dtype == "Float64" and length > 3:
            vals.iloc[draw(st.integers(0, length - 1))] = pd.NA
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": ds, "y": vals}))
        starts[f"s{i}"] = ds
    df = pd.concat(frames, ignore_index=True)
    order = draw(st.permutations(range(len(df))))
    return df.iloc[list(order)].reset_index(drop=True), starts, freq, draw(st.integers(1, 12))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(long_frames())
def test_long_frames_round_trip_and_stamps_continue(case) -> None:
    df, stamps, freq, horizon = case
    parsed = parse(df)
    assert parsed.kind == "long" and sorted(parsed.names) == sorted(stamps)
    for name, series, index in zip(parsed.names, parsed.series, parsed.index):
        assert index.equals(stamps[name]) and len(series) == len(index)
    out = assemble(parsed, np.zeros((len(parsed.names), horizon)), horizon)
    assert len(out) == horizon * len(stamps)
    for name, g in out.groupby("unique_id", sort=False):
        expected = _expected_future(stamps[name], freq, horizon)
        assert list(g["ds"]) == list(expected), (name, freq)
        assert g["ds"].dt.tz == stamps[name].tz


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(FREQS), st.sampled_from(ZONES), st.integers(3, 40), st.integers(1, 3),
       st.sampled_from(["index", "date", "ds"]), st.integers(1, 10))
def test_wide_frames_round_trip(freq, tz, length, n_cols, where, horizon) -> None:
    assume(freq != "B" or length >= 8)  # three business days look daily: a weekend tells them apart
    ds = pd.date_range("2010-06-01", periods=length, freq=freq, tz=tz)
    values = {f"v{c}": np.arange(length, dtype=float) * (c + 1) for c in range(n_cols)}
    df = pd.DataFrame(values, index=ds) if where == "index" else pd.DataFrame({where: ds, **values})
    parsed = parse(df)
    assert parsed.kind == "wide" and parsed.names == list(values)
    out = assemble(parsed, np.ones((n_cols, horizon)), horizon)
    fut = out.index if where == "index" else pd.DatetimeIndex(out[where])
    assert list(fut) == list(_expected_future(ds, freq, horizon))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=False, width=64),
                          st.just(np.nan)), min_size=1, max_size=60))
def test_arrays_with_any_nan_pattern_parse_or_fail_cleanly(values) -> None:
    parsed = parse(np.array(values))
    assert parsed.kind == "array1d"
    np.testing.assert_array_equal(np.isnan(parsed.series[0]), np.isnan(np.array(values)))


@pytest.mark.parametrize("freq", ["2D", "D", "3h"])
def test_multi_day_steps_continue_in_wall_time_across_dst(freq) -> None:
    # found by the property test above on pandas 2: '2D' stamps ending the day before DST began
    # were continued at 01:00 (48 absolute hours) instead of midnight
    ds = pd.date_range("2001-01-20", "2001-03-31", freq=freq, tz="America/New_York").as_unit("s")
    out = assemble(parse(pd.DataFrame({"unique_id": "a", "ds": ds, "y": 0.0})), np.zeros((1, 5)), 5)
    assert list(out["ds"]) == list(_expected_future(ds, freq, 5))


@pytest.mark.parametrize("tz", [None, "Europe/Berlin"])
def test_long_input_indexes_are_slices_made_on_demand(tz) -> None:
    """A long input keeps one sorted index; each series' index, their stacked stamps and
    their median steps equal what separate indexes give."""
    from seqfusion.frames import SeriesIndexes
    from seqfusion.frequency import median_step_ns, median_steps_ns

    rng = np.random.default_rng(3)
    parts = []
    for i, (n, f) in enumerate([(5, "D"), (7, "h"), (5, "W"), (3, "MS"), (5, "D")]):
        ds = pd.date_range("2021-03-20", periods=n, freq=f, tz=tz).as_unit("us")
        parts.append(pd.DataFrame({"unique_id": f"s{i}", "ds": ds, "y": rng.normal(size=n)}))
    df = pd.concat(parts).sample(frac=1.0, random_state=0)  # rows in any order
    parsed = parse(df)
    assert isinstance(parsed.index, SeriesIndexes) and len(parsed.index) == 5
    for i, name in enumerate(parsed.names):  # ids in order of appearance
        part = parts[int(name[1:])]
        pd.testing.assert_index_equal(parsed.index[i], pd.DatetimeIndex(part["ds"]), check_names=False)
    assert [len(ix) for ix in parsed.index[1:3]] == [len(parts[int(n[1:])]) for n in parsed.names[1:3]]
    same = np.flatnonzero(parsed.index.lengths == 5)
    np.testing.assert_array_equal(parsed.index.stack(same),
                                  np.stack([parsed.index[int(i)].asi8 for i in same]))
    assert median_steps_ns(parsed.index) == [median_step_ns(ix) for ix in parsed.index]


def test_long_input_with_integer_stamps_has_no_time_unit() -> None:
    from seqfusion.frequency import median_steps_ns

    parsed = parse(pd.DataFrame({"unique_id": ["a"] * 4, "ds": [1, 2, 3, 4], "y": [1.0, 2, 3, 4]}))
    assert parsed.index.stamps is None and median_steps_ns(parsed.index) == [None]
    with pytest.raises(ValueError, match="no time unit"):
        parsed.index.stack(np.array([0]))
