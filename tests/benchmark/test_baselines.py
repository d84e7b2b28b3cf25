"""Baseline methods: naive rules, statsforecast wrappers, in-task deep models, SeqFusion."""
from __future__ import annotations

import numpy as np
import pytest

from benchmarks.harness import baselines as bl
from benchmarks.harness.protocol import evaluate, from_array


def test_naive_rules() -> None:
    x = np.arange(20, dtype=float).reshape(2, 10)
    np.testing.assert_array_equal(bl.Last()(x, 3), [[9, 9, 9], [19, 19, 19]])
    np.testing.assert_allclose(bl.Mean()(x, 2), [[4.5, 4.5], [14.5, 14.5]])
    sn = bl.SeasonalNaive(4)(x, 6)
    np.testing.assert_array_equal(sn[0], [6, 7, 8, 9, 6, 7])
    # period longer than the window: falls back to Last
    np.testing.assert_array_equal(bl.SeasonalNaive(12)(x, 2), [[9, 9], [19, 19]])
    for m in (bl.Last(), bl.Mean(), bl.SeasonalNaive(7)):
        assert m.horizon_invariant
        np.testing.assert_array_equal(m(x, 5)[:, :3], m(x, 3))


def test_season_length_rule() -> None:
    assert bl.season_length_for(7, 36) == 7
    assert bl.season_length_for(52, 36) == 1
    assert bl.season_length_for(18, 36) == 18
    assert bl.season_length_for(19, 36) == 1
    assert bl.season_length_for(12, 24) == 12
    assert bl.season_length_for(1, 36) == 1


@pytest.mark.baselines
def test_statsforecast_models_forecast_a_seasonal_series() -> None:
    t = np.arange(36 + 14)
    y = 3 + np.sin(2 * np.pi * t / 7) + 0.01 * t
    x = y[None, :36]
    for name in ("AutoETS", "AutoTheta"):
        m = bl.StatsForecastMethod(name, season=7)
        pred = m(x, 14)
        assert pred.shape == (1, 14) and np.isfinite(pred).all()
        assert np.mean((pred[0] - y[36:]) ** 2) < 0.1, name
        assert m.stats["fits"] == 1 and m.stats["season_length"] == 7


def test_statsforecast_fallback_is_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    m = bl.StatsForecastMethod("AutoETS", season=7)

    class Boom:
        def __init__(self, season_length: int) -> None:
            pass

        def forecast(self, y: np.ndarray, h: int) -> dict:
            if y[0] > 0:
                raise RuntimeError("no fit")
            return {"mean": np.full(h, np.nan)}

    m._cls = Boom
    x = np.vstack([np.ones(36), -np.ones(36), np.linspace(-1, 1, 36)])
    pred = m(x, 4)
    assert m.stats["fallbacks"] == 3 and m.stats["fits"] == 3
    np.testing.assert_array_equal(pred, np.repeat(x[:, -1:], 4, axis=1))


def _toy_data(n: int = 400, c: int = 3):
    t = np.arange(n, dtype=float)[:, None]
    return from_array(np.sin(2 * np.pi * t / 7 + np.arange(c)) + 0.1 * np.cos(t / 30))


def test_in_task_rows_follow_the_budget() -> None:
    data = _toy_data()
    start, stop = bl.in_task_rows(data)
    assert stop == data.n_train and start == data.n_train - 36 - 50
    x, y = bl.in_task_windows(data, 48)
    assert x.shape == (3 * 3, 36) and y.shape == (3 * 3, 48)
    x6, y6 = bl.in_task_windows(data, 6)
    assert x6.shape == (45 * 3, 36)
    # window 0 of variate 1 starts at row `start`
    np.testing.assert_array_equal(x6[1], data.values[start : start + 36, 1])
    np.testing.assert_array_equal(y6[1], data.values[start + 36 : start + 42, 1])
    # the last training target ends at n_train (no test rows used)
    np.testing.assert_array_equal(y6[-1], data.values[stop - 6 : stop, 2])


def test_in_task_dlinear_trains_and_forecasts() -> None:
    pytest.importorskip("torch")
    import torch

    torch.set_num_threads(1)
    data = _toy_data()
    m = bl.InTaskDeep("dlinear", data, epochs=2, min_steps=60, seed=1)
    res = evaluate(m, data, (6, 8))
    assert set(m.stats["train"]) == {"6", "8"}
    assert res.mse < 1.0  # a clean 7-periodic signal is learnable
    m2 = bl.InTaskDeep("dlinear", data, epochs=2, min_steps=60, seed=1)
    assert evaluate(m2, data, (6, 8)).mse == pytest.approx(res.mse, rel=1e-6)


def test_seqfusion_method_passes_options() -> None:
    calls = []

    class Dummy:
        def predict_windows(self, x, horizon, k=3, **opts):
            calls.append((x.shape, horizon, k, opts))
            return np.zeros((len(x), horizon))

    m = bl.make_method("seqfusion", k=2, seqfusion_options={"fusion": "similarity"})
    m._model = Dummy()
    out = m(np.ones((5, 36)), 12)
    assert out.shape == (5, 12)
    assert calls == [((5, 36), 12, 2, {"fusion": "similarity"})]
    assert m.options()["options"] == {"fusion": "similarity"}
    # The dataset's frequency reaches the forecaster (and the cache key via the options).
    weekly = bl.make_method("seqfusion", k=2, freq="W")
    weekly._model = Dummy()
    weekly(np.ones((2, 36)), 6)
    assert calls[-1] == ((2, 36), 6, 2, {"freq": "W"}) and weekly.options()["options"] == {"freq": "W"}


def test_make_method_rejects_unknown() -> None:
    with pytest.raises(ValueError, match="unknown method"):
        bl.make_method("prophet")
    assert isinstance(bl.make_method("snaive", season=52, snaive_period=7), bl.SeasonalNaive)
    assert bl.make_method("snaive", season=52, snaive_period=7).period == 7
