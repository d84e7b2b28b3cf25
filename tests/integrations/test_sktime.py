"""The sktime forecaster passes sktime's own check_estimator, and forecasts what
SeqFusion.predict forecasts on the same data."""
from __future__ import annotations

import pickle
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqfusion import SeqFusion

pytestmark = pytest.mark.sktime


def _forecaster(**params: Any) -> Any:
    from seqfusion.integrations.sktime import SeqFusionForecaster

    return SeqFusionForecaster(**params)


def _long(y: pd.DataFrame) -> pd.DataFrame:
    """A wide frame with a time index as the long frame (unique_id, ds, y) of SeqFusion.predict."""
    stamps = y.index.to_timestamp() if isinstance(y.index, pd.PeriodIndex) else y.index
    return pd.concat([pd.DataFrame({"unique_id": c, "ds": stamps, "y": y[c].to_numpy()}) for c in y.columns])


def test_check_estimator_passes_every_test() -> None:
    from sktime.utils.estimator_checks import check_estimator

    from seqfusion.integrations.sktime import SeqFusionForecaster

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(SeqFusionForecaster, raise_exceptions=False, verbose=False)
    failed = {k: repr(v)[:300] for k, v in results.items() if v != "PASSED"}
    assert not failed, failed
    ran = {k.split("[")[0] for k in results}
    assert {"test_predict_time_index", "test_predict_quantiles", "test_predict_interval", "test_update_predict_single",
            "test_unequal_length_hierarchical_fit_predict", "test_hierarchical_with_exogenous",
            "test_persistence_via_pickle", "test_doctest_examples", "test_multiprocessing_idempotent"} <= ran
    assert len(results) > 800  # both parameter sets over every scenario


@pytest.mark.parametrize("columns", [["gdp"], ["gdp", "cpi"]])
def test_predictions_equal_seqfusion_predict(columns: list[str]) -> None:
    rng = np.random.default_rng(0)
    index = pd.period_range("2001-01", periods=70, freq="M")
    y = pd.DataFrame(rng.normal(size=(70, len(columns))).cumsum(axis=0) + 50, index=index, columns=columns)
    model = SeqFusion.from_pretrained()
    expected = model.predict_quantiles(_long(y), horizon=9, quantiles=[0.1, 0.5, 0.9], freq="MS", level=[80])
    forecaster = _forecaster().fit(y if len(columns) > 1 else y[columns[0]])

    point = forecaster.predict(fh=range(1, 10))
    assert list(point.index) == list(pd.period_range("2006-11", periods=9, freq="M"))
    quantiles = forecaster.predict_quantiles(fh=range(1, 10), alpha=[0.1, 0.5, 0.9])
    intervals = forecaster.predict_interval(fh=range(1, 10), coverage=0.8)
    for c in columns:
        mine = expected[expected.unique_id == c]
        got = point[c] if len(columns) > 1 else point
        np.testing.assert_array_equal(got.to_numpy(), mine["y"].to_numpy())
        for a in (0.1, 0.5, 0.9):
            np.testing.assert_array_equal(quantiles[(c, a)].to_numpy(), mine[f"q{a}"].to_numpy())
        np.testing.assert_array_equal(intervals[(c, 0.8, "lower")].to_numpy(), mine["y-lo-80"].to_numpy())
        np.testing.assert_array_equal(intervals[(c, 0.8, "upper")].to_numpy(), mine["y-hi-80"].to_numpy())
    # a horizon with gaps picks the same steps
    gaps = forecaster.predict(fh=[2, 5, 9])
    np.testing.assert_array_equal(np.asarray(gaps).reshape(3, -1), np.asarray(point).reshape(9, -1)[[1, 4, 8]])


def test_datetime_index_and_options_reach_the_forecaster() -> None:
    rng = np.random.default_rng(1)
    y = pd.Series(rng.normal(size=80).cumsum(), index=pd.date_range("2022-01-03", periods=80, freq="D"), name="v")
    got = _forecaster(options={"history": "last", "k": 2}).fit(y).predict(fh=[1, 2, 3])
    want = SeqFusion.from_pretrained(history="last", k=2).predict(_long(y.to_frame()), horizon=3)
    np.testing.assert_array_equal(got.to_numpy(), want["y"].to_numpy())
    assert list(got.index) == list(want["ds"])
    # a stated frequency overrides the index's: the same as SeqFusion with that freq
    weekly = _forecaster(freq="W").fit(y).predict(fh=[1, 2, 3])
    np.testing.assert_array_equal(weekly.to_numpy(), SeqFusion.from_pretrained().predict_histories(
        [y.to_numpy()], 3, freq="W")[0])


@settings(max_examples=12, deadline=None)
@given(lengths=st.lists(st.integers(12, 60), min_size=2, max_size=4),
       fh=st.lists(st.integers(1, 8), min_size=1, max_size=4, unique=True), seed=st.integers(0, 2**16))
def test_panel_of_unequal_ends_forecasts_each_series_from_its_own_end(lengths: list[int], fh: list[int],
                                                                      seed: int) -> None:
    """Series of a panel may end at different times: each is forecast from its own last
    point to the panel's absolute forecast times (step = time - its own end)."""
    rng = np.random.default_rng(seed)
    parts = {f"s{i}": rng.normal(size=n).cumsum() for i, n in enumerate(lengths)}
    index = pd.MultiIndex.from_tuples([(k, t) for k, v in parts.items() for t in range(len(v))], names=["id", "t"])
    y = pd.DataFrame({"y": np.concatenate(list(parts.values()))}, index=index)
    pred = _forecaster().fit(y).predict(fh=sorted(fh))
    end = max(lengths) - 1
    model = SeqFusion.from_pretrained()
    for key, values in parts.items():
        steps = [end + h - (len(values) - 1) for h in sorted(fh)]
        want = model.predict_histories([values], max(steps))[0][np.array(steps) - 1]
        got = pred.loc[key]
        assert list(got.index) == [end + h for h in sorted(fh)]
        np.testing.assert_array_equal(got["y"].to_numpy(), want)


def test_update_extends_the_history() -> None:
    rng = np.random.default_rng(2)
    y = pd.Series(rng.normal(size=60).cumsum(), index=pd.period_range("2000Q1", periods=60, freq="Q"))
    whole = _forecaster().fit(y).predict(fh=[1, 2, 3])
    for remember in (True, False):
        f = _forecaster().set_config(remember_data=remember).fit(y.iloc[:50])
        f.update(y.iloc[50:], update_params=False)
        pd.testing.assert_series_equal(f.predict(fh=[1, 2, 3]), whole)


def test_fitted_forecaster_pickles() -> None:
    rng = np.random.default_rng(4)
    y = pd.Series(rng.normal(size=40).cumsum(), index=pd.RangeIndex(40))
    f = _forecaster().fit(y, fh=[1, 2])
    pd.testing.assert_frame_equal(pickle.loads(pickle.dumps(f)).predict_quantiles(alpha=[0.2]),
                                  f.predict_quantiles(alpha=[0.2]))


def test_in_sample_horizon_is_refused() -> None:
    y = pd.Series(np.arange(40.0))
    f = _forecaster().fit(y)
    with pytest.raises(NotImplementedError, match="in-sample"):
        f.predict(fh=[0, 1])
