"""Frequency classes from names, pandas aliases and time stamps."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqfusion.errors import SeqFusionError
from seqfusion.frequency import (
    CLASSES,
    UNKNOWN,
    aggregated_class,
    frequency_class,
    frequency_index,
    infer_frequency,
    median_step_ns,
    median_steps_ns,
    one_hot,
    to_offset,
)


@pytest.mark.parametrize("alias, expected", [
    ("D", "daily"), ("B", "daily"), ("2D", "daily"), ("W", "weekly"), ("W-SUN", "weekly"),
    ("MS", "monthly"), ("ME", "monthly"), ("M", "monthly"), ("QS", "quarterly"), ("Q-DEC", "quarterly"),
    ("YS", "yearly"), ("A", "yearly"), ("h", "hourly"), ("H", "hourly"), ("15min", "subhourly"),
    ("weekly", "weekly"), ("Monthly", "monthly"), ("unknown", UNKNOWN), (None, UNKNOWN),
])
def test_aliases_and_names_map_to_classes(alias, expected) -> None:
    assert frequency_class(alias) == expected
    assert CLASSES[frequency_index(alias)] == expected


def test_bad_frequencies_are_refused_clearly() -> None:
    with pytest.raises(SeqFusionError, match="unknown frequency 'fortnightly-ish'"):
        frequency_class("fortnightly-ish")
    with pytest.raises(SeqFusionError, match="must be a string"):
        frequency_class(7)


@pytest.mark.parametrize("alias, expected", [
    ("D", "daily"), ("B", "daily"), ("W", "weekly"), ("MS", "monthly"), ("ME", "monthly"),
    ("QS", "quarterly"), ("YS", "yearly"), ("h", "hourly"), ("10min", "subhourly"),
])
def test_frequency_is_inferred_from_time_stamps(alias, expected) -> None:
    assert infer_frequency(pd.date_range("2001-01-01", periods=40, freq=alias)) == expected


def test_inference_tolerates_gaps_and_says_unknown_without_dates() -> None:
    days = pd.date_range("2020-01-01", periods=60, freq="D").delete([5, 6, 30])
    assert infer_frequency(days) == "daily"
    assert infer_frequency(None) == UNKNOWN
    assert infer_frequency(pd.RangeIndex(50)) == UNKNOWN
    assert infer_frequency(pd.date_range("2020", periods=2, freq="D")) == UNKNOWN


def test_aggregation_moves_to_the_coarser_class() -> None:
    assert aggregated_class("monthly", 12) == "yearly"
    assert aggregated_class("monthly", 3) == "quarterly"
    assert aggregated_class("daily", 7) == "weekly"
    assert aggregated_class("hourly", 24) == "daily"
    assert aggregated_class("weekly", 1) == "weekly"
    assert aggregated_class("", 12) == UNKNOWN


def test_one_hot_rows() -> None:
    oh = one_hot(np.array([0, len(CLASSES) - 1]))
    assert oh.shape == (2, len(CLASSES)) and oh.dtype == np.float32
    np.testing.assert_array_equal(oh.sum(1), [1, 1])
    assert oh[0, 0] == 1 and oh[1, -1] == 1


@pytest.mark.parametrize("alias, expected", [
    ("M", "monthly"), ("A", "yearly"), ("H", "hourly"), ("Q", "quarterly"), ("Q-DEC", "quarterly"),
    ("QE-DEC", "quarterly"), ("YE", "yearly"), ("ME", "monthly"), ("h", "hourly"), ("min", "subhourly"),
    ("T", "subhourly"), ("2M", "monthly"), ("3H", "hourly"), ("A-JUN", "yearly"), ("15T", "subhourly"),
    ("BQ", "quarterly"), ("Y", "yearly"),
])
def test_old_and_new_pandas_aliases_are_accepted(alias, expected) -> None:
    """Every alias pandas accepts, and the older ones it names a replacement for."""
    assert frequency_class(alias) == expected
    assert to_offset(alias).n >= 1


@pytest.mark.parametrize("alias", ["-1D", "0D", "-2h", "0min"])
def test_zero_or_negative_steps_are_refused(alias) -> None:
    with pytest.raises(SeqFusionError, match="must step forward"):
        frequency_class(alias)


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("alias, expected", [("QS", "quarterly"), ("D", "daily"), ("h", "hourly"),
                                             ("MS", "monthly"), ("W", "weekly")])
def test_inference_does_not_depend_on_the_stamps_unit(unit, alias, expected) -> None:
    """pandas 3 reads CSV dates as datetime64[us]; the class must not change with the unit."""
    index = pd.date_range("2001-01-01", periods=40, freq=alias).as_unit(unit)
    assert infer_frequency(index) == expected
    assert infer_frequency(index.tz_localize("Europe/Berlin", nonexistent="shift_forward",
                                             ambiguous="NaT").dropna()) == expected


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.sampled_from([60, 3600, 86_400, 7 * 86_400, 31 * 86_400, 92 * 86_400]),
                         min_size=0, max_size=8), min_size=1, max_size=10),
       st.sampled_from(["s", "ms", "us", "ns"]), st.sampled_from([None, "UTC", "America/New_York"]))
def test_many_indexes_at_once_equal_one_by_one(steps, unit, tz) -> None:
    """``median_steps_ns`` of a long input's indexes stacks the series of one length; each
    entry must equal the one-index function, whatever the lengths, steps, unit or zone."""
    from seqfusion.frames import parse

    parts = []
    for i, st_ in enumerate(steps):
        ds = pd.DatetimeIndex(np.cumsum([0, *st_]).astype("datetime64[s]")).as_unit(unit)
        if tz is not None:  # instants in UTC shown in the zone (local wall times may be ambiguous)
            ds = ds.tz_localize("UTC").tz_convert(tz)
        parts.append(pd.DataFrame({"unique_id": f"s{i}", "ds": ds, "y": 1.0}))
    parsed = parse(pd.concat(parts, ignore_index=True))
    one_by_one = [median_step_ns(ix) for ix in parsed.index]
    assert median_steps_ns(parsed.index) == one_by_one
    assert median_steps_ns(list(parsed.index)) == one_by_one
