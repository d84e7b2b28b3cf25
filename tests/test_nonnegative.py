"""Option ``nonnegative``: series that never go below zero get no negative forecast."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqfusion import SeqFusion


@pytest.fixture(scope="module")
def model() -> SeqFusion:
    return SeqFusion.from_pretrained()


def _falling(n: int = 120) -> np.ndarray:
    """Counts falling towards zero: unfloored forecasts and lower quantiles go below it."""
    t = np.arange(n, dtype=np.float64)
    return np.maximum(60.0 - 0.5 * t + 3 * np.sin(2 * np.pi * t / 12), 0.0) + 0.1


def test_a_nonnegative_series_gets_nonnegative_forecasts_and_quantiles(model) -> None:
    y = _falling()
    free = model.with_options(nonnegative=False)
    raw_q = free.predict_quantiles(y, 24, freq="MS")
    assert (raw_q < 0).any()  # the case this option is for
    q = model.predict_quantiles(y, 24, freq="MS")
    point = model.predict(y, 24, freq="MS")
    assert (q >= 0).all() and (point >= 0).all()
    np.testing.assert_array_equal(q, np.maximum(raw_q, 0.0))
    np.testing.assert_array_equal(point, np.maximum(free.predict(y, 24, freq="MS"), 0.0))
    np.testing.assert_allclose(q[:, 4], point, rtol=0, atol=1e-9)  # the median is still the point


def test_a_series_with_a_negative_value_is_left_as_it_comes(model) -> None:
    y = _falling()
    y[5] = -0.5
    free = model.with_options(nonnegative=False)
    np.testing.assert_array_equal(model.predict_quantiles(y, 24, freq="MS"), free.predict_quantiles(y, 24, freq="MS"))
    assert (model.predict(y, 24, freq="MS") < 0).any()


def test_each_series_of_a_frame_is_judged_on_its_own_history(model) -> None:
    a, b = _falling(), _falling() - 5.0  # b has negative values
    ds = pd.date_range("2000-01-01", periods=len(a), freq="MS")
    df = pd.concat([pd.DataFrame({"unique_id": "a", "ds": ds, "y": a}),
                    pd.DataFrame({"unique_id": "b", "ds": ds, "y": b})])
    out = model.predict(df, 24, level=[80])
    assert (out[out.unique_id == "a"].drop(columns=["unique_id", "ds"]) >= 0).all().all()
    assert (out[out.unique_id == "b"]["y-lo-80"] < 0).any()


def test_short_histories_are_floored_too(model) -> None:
    y = np.linspace(30.0, 0.5, 30)  # no room for a back-test: the zoo's forecast alone
    assert (model.with_options(nonnegative=False).predict(y, 20) < 0).any()
    assert (model.predict(y, 20) >= 0).all()


def test_the_option_is_checked() -> None:
    with pytest.raises(Exception, match="nonnegative must be True or False"):
        SeqFusion.from_pretrained(nonnegative="yes")


@settings(max_examples=25, deadline=None)
@given(st.integers(10, 200), st.floats(0.0, 5.0), st.integers(0, 2**31 - 1))
def test_nonnegative_inputs_give_nonnegative_outputs(n: int, drop: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = np.maximum(50.0 - drop * np.arange(n) + rng.normal(scale=5.0, size=n), 0.0)
    m = SeqFusion.from_pretrained()
    assert (m.predict_quantiles(y, 12) >= 0).all()
    spread = m.with_options(intermittent=False)  # a run of zeros may make y intermittent: median 0
    q = spread.predict_quantiles(y, 12)
    assert (q >= 0).all()
    np.testing.assert_allclose(q[:, 4], m.predict(y, 12), rtol=0, atol=1e-9 * max(1.0, float(np.abs(y).max())))


def test_covariate_forecasts_of_a_nonnegative_series_are_nonnegative(model) -> None:
    rng = np.random.default_rng(4)
    n, h = 400, 24
    ds = pd.date_range("2020-01-01", periods=n + h, freq="h")
    x = rng.normal(size=n + h)
    y = np.maximum(2.0 + 3.0 * x + rng.normal(scale=0.3, size=n + h), 0.0)  # many zeros
    hist = pd.DataFrame({"unique_id": "a", "ds": ds[:n], "y": y[:n], "x": x[:n]})
    fut = pd.DataFrame({"unique_id": "a", "ds": ds[n:], "x": x[n:]})
    free = model.with_options(nonnegative=False).predict_quantiles(hist, h, X_df=fut, level=[80])
    out = model.predict_quantiles(hist, h, X_df=fut, level=[80])
    values = out.drop(columns=["unique_id", "ds"]).to_numpy()
    assert (free.drop(columns=["unique_id", "ds"]).to_numpy() < 0).any()
    assert (values >= 0).all()
    np.testing.assert_array_equal(values, np.maximum(free.drop(columns=["unique_id", "ds"]).to_numpy(), 0.0))
