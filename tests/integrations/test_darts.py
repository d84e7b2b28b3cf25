"""The darts model: forecasts equal SeqFusion's, samples reproduce its quantiles, and darts'
own historical_forecasts and backtest run through it (each forecast the direct one)."""
from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pandas as pd
import pytest

from seqfusion import SeqFusion

pytestmark = pytest.mark.darts


def _series(n: int = 60, columns: tuple[str, ...] = ("a", "b"), seed: int = 0, freq: str | None = "MS") -> Any:
    from darts import TimeSeries

    values = np.random.default_rng(seed).normal(size=(n, len(columns))).cumsum(axis=0) + 30
    if freq is None:
        return TimeSeries.from_values(values, columns=list(columns))
    return TimeSeries.from_times_and_values(pd.date_range("2015-01-01", periods=n, freq=freq), values,
                                            columns=list(columns))


def _model(**params: Any) -> Any:
    from seqfusion.integrations.darts import SeqFusionModel

    return SeqFusionModel(**params)


@pytest.mark.parametrize(("columns", "freq"), [(("a",), "MS"), (("a", "b", "c"), "D"), (("a", "b"), None)])
def test_predict_equals_seqfusion(columns: tuple[str, ...], freq: str | None) -> None:
    ts = _series(columns=columns, freq=freq)
    fc = _model().fit(ts).predict(7)
    values = ts.values()
    want = SeqFusion.from_pretrained().predict_histories(list(values.T), 7, freq=freq)
    np.testing.assert_array_equal(fc.values(), want.T)
    assert list(fc.components) == list(columns) and fc.n_timesteps == 7
    assert fc.start_time() == ts.end_time() + ts.freq


def test_several_series_and_options() -> None:
    a, b = _series(seed=1), _series(n=45, columns=("a", "b"), seed=2, freq="W")
    model = _model(options={"history": "last", "k": 2}).fit([a, b])
    with pytest.raises(ValueError, match="pass the series"):
        model.predict(3)
    out = model.predict(3, series=[a, b])
    sf = SeqFusion.from_pretrained(history="last", k=2)
    for ts, fc, freq in zip((a, b), out, ("MS", "W-SUN")):
        np.testing.assert_array_equal(fc.values(), sf.predict_histories(list(ts.values().T), 3, freq=freq).T)


def test_samples_are_the_forecasters_quantiles() -> None:
    ts = _series(columns=("a",))
    model = _model().fit(ts)
    samples = model.predict(6, num_samples=5)
    assert samples.all_values().shape == (6, 1, 5)
    levels = [0.1, 0.3, 0.5, 0.7, 0.9]  # (i + 0.5) / 5
    want = SeqFusion.from_pretrained().predict_histories([ts.values()[:, 0]], 6, quantiles=levels, freq="MS")[0]
    np.testing.assert_allclose(samples.all_values()[:, 0, :], want, rtol=0, atol=0)
    # an odd number of samples: the samples' median is the point forecast
    np.testing.assert_allclose(samples.quantile(0.5).values(), model.predict(6).values(), rtol=1e-12)


def test_historical_forecasts_match_direct_predict() -> None:
    ts = _series(n=70, seed=3)
    model = _model().fit(ts)
    hist = model.historical_forecasts(ts, start=50, forecast_horizon=4, stride=5, retrain=False,
                                      last_points_only=False, verbose=False)
    assert [h.start_time() for h in hist] == [ts.time_index[i] for i in (50, 55, 60, 65)]
    for h, cut in zip(hist, (50, 55, 60, 65)):
        np.testing.assert_array_equal(h.values(), model.predict(4, series=ts[:cut]).values())
    retrained = model.historical_forecasts(ts, start=60, forecast_horizon=4, stride=5, retrain=True,
                                           last_points_only=False, verbose=False)
    for h, again in zip(hist[2:], retrained):
        np.testing.assert_array_equal(h.values(), again.values())
    error = model.backtest(ts, historical_forecasts=hist, last_points_only=False)
    assert np.isfinite(error) and error > 0


def test_covariates_stochastic_and_short_series_are_refused() -> None:
    ts = _series()
    with pytest.raises(ValueError, match="covariates"):
        _model().fit(ts, past_covariates=ts)
    from darts import TimeSeries

    stochastic = TimeSeries.from_times_and_values(ts.time_index, np.ones((len(ts), 1, 3)))
    with pytest.raises(ValueError, match="deterministic"):
        _model().fit(ts).predict(2, series=stochastic)
    with pytest.raises(ValueError, match="too short"):
        _model().fit(ts[:5])


def test_fitted_model_pickles() -> None:
    ts = _series()
    model = _model(options={"k": 2}).fit(ts)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(3).values(), model.predict(3).values())
    assert again.untrained_model().model_params == model.model_params
