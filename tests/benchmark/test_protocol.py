"""The multivariate protocol: golden naive numbers of the paper's Table 2, and window logic."""
from __future__ import annotations

import numpy as np
import pytest

from benchmarks.harness.baselines import Last, Mean, SeasonalNaive
from benchmarks.harness.protocol import (
    DATASETS,
    HORIZONS,
    dataset_path,
    evaluate,
    from_array,
    load_dataset,
    subsample_rows,
    windows,
)

GOLDEN = {
    "Last": {"ECL": 0.7360, "ETTh1": 0.7640, "ETTh2": 0.2639, "Exchange": 0.0217,
             "Illness": 4.7867, "Weather": 1.4799},
    "Mean": {"ECL": 0.6755, "ETTh1": 0.6314, "ETTh2": 0.3550, "Exchange": 0.0376,
             "Illness": 4.8981, "Weather": 1.4063},
    "SeasonalNaive": {"ECL": 0.6091, "ETTh1": 0.8539, "ETTh2": 0.3315, "Exchange": 0.0272,
                      "Illness": 6.0760, "Weather": 1.6105},
}


def _data_or_skip(name: str):
    try:
        path = dataset_path(DATASETS[name])
    except FileNotFoundError:
        pytest.fail("data folder not available")
    if not path.is_file():
        pytest.fail(f"{path} missing")
    return load_dataset(name)


@pytest.mark.parametrize("dataset", list(DATASETS))
@pytest.mark.data
def test_golden_naive_scores(dataset: str) -> None:
    data = _data_or_skip(dataset)
    for method in (Last(), Mean(), SeasonalNaive(7)):
        key = "SeasonalNaive" if isinstance(method, SeasonalNaive) else method.name
        got = evaluate(method, data, HORIZONS).mse
        assert round(got, 4) == pytest.approx(GOLDEN[key][dataset], abs=1e-9), (key, dataset, got)


@pytest.mark.data
def test_split_sizes_ecl() -> None:
    data = _data_or_skip("ECL")
    assert data.values.shape == (1097, 321)
    assert data.n_train == 767 and data.n_test == 219 and data.border1 == 1097 - 219 - 36
    x, y = windows(data, 6)
    assert x.shape == (214 * 321, 36) and y.shape == (214 * 321, 6)


def _toy(n: int = 200, c: int = 3) -> np.ndarray:
    t = np.arange(n, dtype=float)[:, None]
    return np.sin(t / 5 + np.arange(c)) * (1 + np.arange(c)) + t / 50


def test_scaler_is_population_std_on_train_rows() -> None:
    raw = _toy()
    data = from_array(raw)
    tr = raw[: int(0.7 * len(raw))]
    np.testing.assert_allclose(data.mean, tr.mean(0))
    np.testing.assert_allclose(data.std, tr.std(0, ddof=0))
    np.testing.assert_allclose(data.values, (raw - tr.mean(0)) / tr.std(0))


def test_windows_layout_matches_loop() -> None:
    raw = _toy(150, 2)
    data = from_array(raw)
    h = 8
    x, y = windows(data, h)
    test = data.values[data.border1 :]
    nw = len(test) - 36 - h + 1
    assert nw == data.n_windows(h) and x.shape == (nw * 2, 36)
    for i in (0, nw // 2, nw - 1):
        for c in range(2):
            np.testing.assert_array_equal(x[i * 2 + c], test[i : i + 36, c])
            np.testing.assert_array_equal(y[i * 2 + c], test[i + 36 : i + 36 + h, c])


class _Recorder:
    def __init__(self, invariant: bool) -> None:
        self.horizon_invariant = invariant
        self.calls: list[tuple[int, int]] = []

    def __call__(self, x: np.ndarray, horizon: int) -> np.ndarray:
        self.calls.append((len(x), horizon))
        return np.repeat(x[:, -1:], horizon, axis=1)


def test_horizon_invariant_called_once_and_equal() -> None:
    data = from_array(_toy(300, 4))
    inv, per = _Recorder(True), _Recorder(False)
    r1 = evaluate(inv, data, HORIZONS)
    r2 = evaluate(per, data, HORIZONS)
    assert inv.calls == [(data.n_series_rows(6), 48)]
    assert [h for _, h in per.calls] == list(HORIZONS)
    for a, b in zip(r1.horizons, r2.horizons):
        assert a.n == b.n and a.mse == pytest.approx(b.mse) and a.mae == pytest.approx(b.mae)
    assert r1.mse == pytest.approx(np.mean([h.mse for h in r1.horizons]))


def test_subsample_is_spread_and_shared() -> None:
    data = from_array(_toy(400, 5))
    rows = subsample_rows(data, 6, 37)
    assert len(rows) == 37 and len(np.unique(rows)) == 37
    assert set(rows % 5) == set(range(5))
    assert rows.min() == 0 and rows.max() > 0.9 * data.n_series_rows(6)
    inv, per = _Recorder(True), _Recorder(False)
    r1 = evaluate(inv, data, (6, 24), max_rows=37)
    r2 = evaluate(per, data, (6, 24), max_rows=37)
    assert r1.extra["subsampled"] and r1.mse == pytest.approx(r2.mse)


def test_bad_shape_is_reported() -> None:
    data = from_array(_toy())
    with pytest.raises(ValueError, match="shape"):
        evaluate(lambda x, h: np.zeros((len(x), h + 1)), data, (6,))
