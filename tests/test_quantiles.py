"""Quantiles and intervals: shapes, columns, monotonicity, and coverage on synthetic data."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqfusion import SeqFusion, history
from seqfusion import quantiles as qmod
from seqfusion.errors import SeqFusionError


@pytest.fixture(scope="module")
def model() -> SeqFusion:
    return SeqFusion.from_pretrained()


def test_t_quantiles_match_the_distribution_function() -> None:
    q = np.array([0.025, 0.1, 0.5, 0.9, 0.975])
    t = qmod.t_quantile(q)
    np.testing.assert_allclose(qmod._t_cdf3(t), q, atol=1e-10)
    np.testing.assert_allclose(t[[0, 1]], -t[[4, 3]], atol=1e-9)
    assert abs(t[2]) < 1e-9 and abs(t[4] - 3.182446) < 1e-5  # Student t(3) table value


def test_shapes_of_array_inputs(model) -> None:
    rng = np.random.default_rng(0)
    y = np.cumsum(rng.normal(size=(120, 3)), axis=0)
    assert model.predict_quantiles(y[:, 0], 7).shape == (7, 9)
    out = model.predict_quantiles(y, 7, quantiles=[0.05, 0.5, 0.95])
    assert out.shape == (7, 3, 3)
    np.testing.assert_allclose(out[:, :, 1], model.predict(y, 7), rtol=1e-9)  # the median is the forecast
    assert model.predict_histories([y[:, 0], y[:50, 1]], 7, quantiles=[0.1, 0.9]).shape == (2, 7, 2)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0.01, 0.99), min_size=1, max_size=6, unique=True),
       st.integers(10, 200), st.integers(1, 30), st.integers(0, 2**31 - 1))
def test_quantiles_never_cross(levels, length, horizon, seed) -> None:
    model = SeqFusion.from_pretrained()
    y = np.cumsum(np.random.default_rng(seed).normal(size=length)) + 50
    out = model.predict_quantiles(y, horizon, quantiles=levels)
    order = np.argsort(levels)
    assert (np.diff(out[:, order], axis=1) >= 0).all()
    assert np.isfinite(out).all()


def test_frame_columns(model) -> None:
    ds = pd.date_range("2021-01-01", periods=90, freq="D")
    rng = np.random.default_rng(1)
    wide = pd.DataFrame({"date": ds, "a": rng.normal(size=90).cumsum(), "b": rng.normal(size=90)})
    out = model.predict_quantiles(wide, 4, quantiles=[0.1, 0.9])
    assert list(out.columns) == ["date", "a", "b", "a_q0.1", "a_q0.9", "b_q0.1", "b_q0.9"]
    assert (out["a_q0.1"] <= out["a"]).all() and (out["a"] <= out["a_q0.9"]).all()
    lv = model.predict(wide, 4, level=[80, 95])
    assert list(lv.columns) == ["date", "a", "b", "a-lo-80", "a-hi-80", "a-lo-95", "a-hi-95",
                                "b-lo-80", "b-hi-80", "b-lo-95", "b-hi-95"]
    assert (lv["a-lo-95"] <= lv["a-lo-80"]).all() and (lv["a-hi-80"] <= lv["a-hi-95"]).all()
    np.testing.assert_allclose(lv["a-lo-80"], out["a_q0.1"])
    last = model.predict(wide, 4, level=[80], history="last")  # intervals keep predict's point forecast
    pd.testing.assert_frame_equal(last[["date", "a", "b"]], model.predict(wide, 4, history="last"))
    long = wide.melt(id_vars="date", var_name="unique_id", value_name="y").rename(columns={"date": "ds"})
    lq = model.predict_quantiles(long, 4)
    assert list(lq.columns) == ["unique_id", "ds", "y"] + [f"q{q:g}" for q in qmod.DEFAULT_QUANTILES]
    ll = model.predict(long, 4, level=80)
    assert list(ll.columns) == ["unique_id", "ds", "y", "y-lo-80", "y-hi-80"]
    np.testing.assert_allclose(ll["y-lo-80"], lq["q0.1"])


def test_bad_quantiles_and_levels_are_one_line_errors(model) -> None:
    y = np.arange(50.0)
    for bad in ([0.0], [1.0], [], [0.5, 0.5], ["x"], [-0.1]):
        with pytest.raises(SeqFusionError, match="quantiles"):
            model.predict_quantiles(y, 3, quantiles=bad)
    df = pd.DataFrame({"ds": pd.date_range("2020", periods=50, freq="D"), "a": y})
    for bad in ([0], [100], [True], ["x"], []):
        with pytest.raises(SeqFusionError, match="level"):
            model.predict(df, 3, level=bad)
    with pytest.raises(SeqFusionError, match="predict_quantiles"):
        model.predict(y, 3, level=[80])


def test_coverage_on_noise_with_known_spread(model) -> None:
    """White noise around a level: the intervals cover at least their level, and not absurdly
    more (the t(3) shape, calibrated on real series with heavier tails, is conservative for
    Gaussian noise: about 85% / 99%, as the README says)."""
    rng = np.random.default_rng(7)
    n, T, H = 300, 200, 10
    y = 100 + rng.normal(0, 2.0, size=(n, T + H))
    out = model.predict_histories(list(y[:, :T]), H, quantiles=[0.025, 0.1, 0.9, 0.975])
    truth = y[:, T:]
    cov80 = np.mean((truth >= out[..., 1]) & (truth <= out[..., 2]))
    cov95 = np.mean((truth >= out[..., 0]) & (truth <= out[..., 3]))
    assert 0.80 <= cov80 <= 0.90 and 0.95 <= cov95 <= 0.999, (cov80, cov95)
    width80 = np.mean(out[..., 2] - out[..., 1])
    assert 5.0 < width80 < 8.0  # the true 80% interval of N(0, 2) is 5.13 wide


def test_spread_without_back_tests_is_a_capped_random_walk() -> None:
    res = np.full((2, 1, 5), np.nan)
    walk = np.cumsum(np.ones(30))  # one-step differences of 1
    flat = np.tile([0.0, 1.0], 15)  # differences of 1, standard deviation 0.5
    s = qmod.spread(res, [walk, flat])
    f = qmod.FALLBACK_FACTOR
    np.testing.assert_allclose(s[0], f * np.minimum(np.sqrt(np.arange(1, 6)), np.std(walk)))
    np.testing.assert_allclose(s[1], f * np.full(5, 0.5))  # capped at its standard deviation, 0.5


def test_spread_never_shrinks_and_extends_past_short_back_tests() -> None:
    res = np.full((1, 2, 8), np.nan)
    res[0, :, :4] = [[1.0, -2.0, 2.0, -3.0], [1.0, 2.0, -2.0, 3.0]]
    s = qmod.spread(res, [np.arange(50.0)])[0]
    assert (np.diff(s) >= 0).all() and np.all(s > 0)
    np.testing.assert_allclose(s[5] / s[3], np.sqrt(6 / 4))


def test_constant_series_have_no_spread(model) -> None:
    out = model.predict_quantiles(np.full(80, 3.5), 5)
    np.testing.assert_array_equal(out, 3.5)


def test_explain_says_where_the_spread_comes_from(model) -> None:
    ds = pd.date_range("2021-01-01", periods=120, freq="D")
    y = 10 + np.sin(2 * np.pi * np.arange(120) / 7) + np.random.default_rng(2).normal(0, 0.1, 120)
    df = pd.DataFrame({"date": ds, "long": y, "short": np.r_[np.full(90, np.nan), y[-30:]]})
    ex = model.explain(df, horizon=7)
    first = ex.groupby("variate").first()
    assert first.loc["long", "spread"].startswith("errors of 5 back-test(s) of 7 points")
    assert first.loc["short", "spread"].startswith("random walk")
    assert first.loc["long", "season_removed"] == 7
    w = first[[f"weight_{c}" for c in history.CANDIDATES]].to_numpy()
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    assert "spread" not in model.explain(df).columns
