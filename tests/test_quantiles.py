"""Quantiles and intervals: shapes, columns, monotonicity, and coverage on synthetic data."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
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
    for bad in ([0], [100], [True], ["x"], [], "80", [80, "95"], [np.nan]):
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
    # daily back-tests are 14 points long (history.BACKTEST_HORIZONS), whatever the horizon
    assert first.loc["long", "spread"].startswith("errors of 5 back-test(s) of 14 points")
    assert first.loc["short", "spread"].startswith("random walk")
    assert first.loc["long", "season_removed"] == 7
    w = first[[f"weight_{c}" for c in history.CANDIDATES]].to_numpy()
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    assert "spread" not in model.explain(df).columns


SCALES = (1e300, 1e-300, 1e160, 1e-200)


@settings(max_examples=30, deadline=None)
@given(st.floats(-300, 300), st.integers(10, 250), st.integers(1, 20), st.sampled_from([None, "D", "MS", "W"]),
       st.integers(0, 2**31 - 1))
@example(300.0, 200, 14, "D", 1).via("1e300, back-tests")
@example(-300.0, 200, 14, "D", 1).via("1e-300, back-tests")
@example(300.0, 30, 6, None, 2).via("1e300, no back-test")
@example(-300.0, 30, 6, None, 2).via("1e-300, no back-test")
@example(160.0, 120, 12, "MS", 3).via("1e160")
@example(-200.0, 120, 12, "MS", 3).via("1e-200")
def test_quantiles_are_scale_equivariant(model, exponent, length, horizon, freq, seed) -> None:
    """Quantiles of ``c * y`` are ``c`` times those of ``y`` for ``c`` in 1e-300 .. 1e300,
    like the point forecast; the intervals keep their width (squares of errors at these
    scales overflow or underflow float64: the spread is computed at a power-of-two scale)."""
    c = 10.0 ** exponent
    rng = np.random.default_rng(seed)
    y = 50 + np.cumsum(rng.normal(size=length)) + 5 * np.sin(2 * np.pi * np.arange(length) / 12)
    levels = [0.025, 0.1, 0.5, 0.9, 0.975]
    q = model.predict_quantiles(y, horizon, quantiles=levels, freq=freq)
    qc = model.predict_quantiles(y * c, horizon, quantiles=levels, freq=freq)
    assert np.isfinite(qc).all()
    np.testing.assert_allclose(qc / c, q, rtol=0, atol=1e-9 * np.max(np.abs(q)))
    width, width_c = q[:, -1] - q[:, 0], qc[:, -1] - qc[:, 0]
    assert (width > 0).all() and (width_c > 0).all()
    np.testing.assert_allclose(width_c / c, width, rtol=1e-7)
    np.testing.assert_allclose(model.predict(y * c, horizon, freq=freq) / c, model.predict(y, horizon, freq=freq),
                               rtol=0, atol=1e-9 * np.max(np.abs(q)))


@pytest.mark.parametrize("c", SCALES)
def test_interval_columns_at_extreme_scales(model, c) -> None:
    """``level=`` columns of a long frame with several series (one too short for a back-test)
    scale with the series."""
    rng = np.random.default_rng(4)
    frames = []
    for uid, n in (("a", 150), ("b", 90), ("c", 30)):
        y = 20 + np.cumsum(rng.normal(size=n)) + 3 * np.sin(2 * np.pi * np.arange(n) / 7)
        frames.append(pd.DataFrame({"unique_id": uid, "ds": pd.date_range("2022-01-01", periods=n, freq="D"),
                                    "y": y}))
    long = pd.concat(frames, ignore_index=True)
    base = model.predict(long, 10, level=[80, 95])
    scaled = model.predict(long.assign(y=long["y"] * c), 10, level=[80, 95])
    cols = ["y", "y-lo-80", "y-hi-80", "y-lo-95", "y-hi-95"]
    np.testing.assert_allclose(scaled[cols].to_numpy() / c, base[cols].to_numpy(), rtol=1e-9)
    assert (scaled["y-hi-95"] - scaled["y-lo-95"] > 0).all()
    assert (scaled["y-hi-80"] - scaled["y-lo-80"] > 0).all()


@pytest.mark.parametrize("c", SCALES + (2.0**-1000, 3.0**600))
def test_spread_is_scale_equivariant(c) -> None:
    """``spread(c * errors, c * histories) == c * spread(errors, histories)`` (with and
    without back-tests, NaN where a series had fewer), to rounding of the scaled inputs."""
    rng = np.random.default_rng(9)
    res = rng.normal(size=(3, 5, 12))
    res[1, 3:] = np.nan  # fewer back-tests
    res[1, :, 7:] = np.nan  # shorter back-tests
    res[2] = np.nan  # none: the random walk of the history
    hists = [rng.normal(size=80), rng.normal(size=60), np.cumsum(rng.normal(size=50))]
    base = qmod.spread(res, hists, 16, np.array([12, 14, 12]))
    scaled = qmod.spread(res * c, [h * c for h in hists], 16, np.array([12, 14, 12]))
    assert (base > 0).all()
    np.testing.assert_allclose(scaled / c, base, rtol=1e-12)


def test_spread_near_and_beyond_float64() -> None:
    """Errors as large as float64 allows give their spread (their squares would overflow);
    a spread beyond float64 is inf (the forecaster's error), never 0."""
    big = np.finfo(np.float64).max
    res = np.full((2, 1, 4), np.nan)
    res[0, 0] = [big, -big, big, -big]
    res[1, 0, :2] = [np.inf, 1.0]  # an error beyond float64
    s = qmod.spread(res, [np.zeros(50), np.zeros(50)])
    np.testing.assert_allclose(s[0], qmod.BACKTEST_FACTOR * big, rtol=1e-15)
    assert np.isinf(s[1]).all()
    tiny = np.full((1, 1, 4), 3e-308)  # squares would underflow to 0
    np.testing.assert_allclose(qmod.spread(tiny, [np.zeros(50)]), qmod.BACKTEST_FACTOR * 3e-308, rtol=1e-15)
    # no back-test: a random walk of steps of 2 x 0.9 max, capped at 0.9 max, times 1.2
    s = qmod.spread(np.full((1, 1, 3), np.nan), [np.tile([0.9 * big, -0.9 * big], 10)])
    assert np.isinf(s).all()


def test_quantiles_without_a_float64_answer_are_a_one_line_error(model, tmp_path) -> None:
    """Alternating +-1.7e308. With back-tests the lag regression forecasts the alternation
    and its back-test errors are small, so the interval exists and stays within float64.
    Without a back-test the spread is a random walk of the steps (2 x 1.7e308): the interval
    does not exist, an error, not a zero-width interval (the docs promise it)."""
    y = np.tile([1.7e308, -1.7e308], 50)
    q = model.predict_quantiles(y, 3)
    assert np.isfinite(q).all() and (np.diff(q, axis=1) >= 0).all()
    assert (q[[0, 2]] > 1.69e308).all() and (q[1] < -1.69e308).all()
    with pytest.raises(SeqFusionError, match=r"^the (quantiles of series 0 overflow|forecast of series 0 "
                                             r"overflows) float64.*; rescale the series$"):
        model.predict_quantiles(y[:20], 3)
    df = pd.DataFrame({"ds": pd.date_range("2020-01-01", periods=20, freq="D"), "x": y[:20]})
    with pytest.raises(SeqFusionError, match="the (quantiles of series 'x' overflow|forecast of series 'x' overflows) "
                                             "float64"):
        model.predict(df, 3, level=[80])
    path = tmp_path / "huge.csv"
    df.to_csv(path, index=False)
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "seqfusion.cli", "forecast", str(path), "-H", "3", "--level", "80"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().count("\n") == 0 and "float64" in r.stderr, r.stderr
