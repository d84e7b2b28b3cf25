"""The whole-history layer: seasons, Theta, back-test weights."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from seqfusion import SeqFusion, history


@pytest.fixture(scope="module")
def model() -> SeqFusion:
    return SeqFusion.from_pretrained()


def test_season_lengths_follow_the_frequency() -> None:
    import pandas as pd

    assert [history.season_length(c) for c in ("yearly", "quarterly", "monthly", "weekly", "daily", "hourly",
                                                "unknown")] == [1, 4, 12, 52, 7, 24, 1]
    assert history.season_length("subhourly", pd.Timedelta("30min")) == 48
    assert history.season_length("subhourly", pd.tseries.frequencies.to_offset("15min")) == 96
    assert history.season_length("subhourly", pd.Timedelta("7min")) == 1  # not a divisor of a day
    assert history.season_length("subhourly") == 1


def test_seasonal_indices_recover_a_multiplicative_season() -> None:
    m = 12
    season = 1 + 0.3 * np.sin(2 * np.pi * np.arange(m) / m)
    x = (100 + np.arange(120)) * np.tile(season, 10)
    idx, mult = history.seasonal_rows(x[None], m)
    assert mult[0]
    np.testing.assert_allclose(idx[0], season / season.mean(), atol=0.01)
    adjusted = x / idx[0, np.arange(120) % m]
    assert np.std(np.diff(adjusted)) < 0.1 * np.std(np.diff(x))


def test_no_season_where_there_is_none() -> None:
    rng = np.random.default_rng(0)
    for x, m in [(rng.normal(size=200), 12), (np.sin(np.arange(20.0)), 12), (np.ones(100), 4), (np.ones(100), 1)]:
        idx, mult = history.seasonal_rows(x[None], m)  # noise; fewer than 3 cycles; constant; no season
        assert np.isnan(idx).all() and not mult[0]


def test_theta_is_level_plus_half_the_trend() -> None:
    x = 5.0 + 2.0 * np.arange(100)
    f = history.theta([x], 3)[0]
    # alpha 1 on a line: the last value plus half the slope per step
    np.testing.assert_allclose(f, x[-1] + 0.5 * 2.0 * np.arange(1, 4), rtol=1e-9)
    # left-padding with the first value does not change a series' smoothing
    a, b = np.r_[3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0], np.r_[2.0, 7.0, 1.0, 8.0]
    np.testing.assert_allclose(history.theta([a, b], 2)[1], history.theta([b], 2)[0])


def test_drift_extends_the_mean_step() -> None:
    x = np.r_[1.0, 4.0, 2.0, 7.0]  # mean step 2
    np.testing.assert_allclose(history.drift([x, np.r_[3.0]], 3), [[9.0, 11.0, 13.0], [3.0, 3.0, 3.0]])


def test_damped_trend_follows_a_line_and_damps_it() -> None:
    """On a clean line the forecast goes on near the line, with shrinking steps; it is
    equivariant under shifts and scales, and padding does not change a series."""
    x = 5.0 + 2.0 * np.arange(40)
    f = history.damped([x], 5)[0]
    steps = np.diff(np.r_[x[-1], f])
    assert (steps > 1.5).all() and (steps <= 2.0 + 1e-9).all() and steps[-1] < steps[1]
    rng = np.random.default_rng(2)
    y = 100 + np.cumsum(1 + rng.normal(0, 1, 60))
    np.testing.assert_allclose(history.damped([3 * y + 1e6], 4)[0], 3 * history.damped([y], 4)[0] + 1e6,
                               rtol=1e-9)
    np.testing.assert_allclose(history.damped([y, y[:25]], 4)[1], history.damped([y[:25]], 4)[0], rtol=1e-10)
    assert history.damped([], 3).shape == (0, 3)


def test_zoo_forecasts_cycle_means_of_long_seasonal_histories() -> None:
    """``zoo_aggregated``: the zoo sees the means of whole cycles (at most 36, ending at the
    origin) and each forecast mean is held over its cycle; histories with fewer than
    AGG_MIN_CYCLES cycles (or no season) do not have it and take no weight."""
    seen = []

    def zoo(contexts, h, rows):
        seen.append([np.asarray(c) for c in contexts])
        return np.stack([np.arange(1.0, h + 1) * 100 + c[-1] for c in contexts])

    m = 7
    long = np.arange(40 * m + 3, dtype=float)  # 40 cycles and 3 points
    short = np.arange(10.0 * m)
    out, has = history._zoo_aggregated([long, short, long], np.array([m, m, 1]), 10, zoo,
                                       np.arange(3), np.full((3, 10), -1.0))
    assert has.tolist() == [True, False, False]
    means = seen[0][0]
    assert len(seen[0]) == 1 and len(means) == 36
    np.testing.assert_allclose(means[-1], long[-m:].mean())
    np.testing.assert_allclose(means[0], long[-36 * m: -35 * m].mean())
    np.testing.assert_allclose(out[0], np.r_[np.full(7, 100.0), np.full(3, 200.0)] + long[-m:].mean())
    np.testing.assert_array_equal(out[1:], -1.0)

    def flat(contexts, h, rows):
        return np.stack([np.full(h, c[-1]) for c in contexts])

    t = np.arange(10 * m)
    x = 5 + np.sin(2 * np.pi * t / m) + 0.01 * t
    fc = history.forecast([x], m, np.array([m]), flat)
    assert fc.n_backtests[0] > 0
    assert fc.weights[0, history.CANDIDATES.index("zoo_aggregated")] == 0.0


def test_back_tests_weigh_the_candidate_that_fits() -> None:
    """A clean weekly cycle with a long history: the seasonal candidates win the weight."""
    t = np.arange(400)
    x = 10 + 3 * np.sin(2 * np.pi * t / 7)
    calls = []

    def zoo(contexts, h, rows):
        calls.append(len(contexts))
        return np.stack([np.full(h, c[-1]) for c in contexts])  # a zoo that repeats the last value

    fc = history.forecast([x], 14, np.array([7]), zoo)
    assert fc.n_backtests[0] == history.BACKTESTS and fc.seasonal[0]
    assert fc.weights[0, 0] < 0.01  # "repeat the last value" loses
    np.testing.assert_allclose(fc.point[0], 10 + 3 * np.sin(2 * np.pi * np.arange(400, 414) / 7), atol=0.05)
    assert np.nanmax(np.abs(fc.residuals)) < 0.1


def test_candidates_are_each_candidates_own_forecast() -> None:
    """``candidates [n, C, H]``: the fused forecast is their weighted sum; the drift and
    the seasonal naive columns are those functions on the history; a history with no
    back-test (the zoo alone) has NaN in every other column."""
    rng = np.random.default_rng(3)
    long = 50 + np.cumsum(rng.normal(size=300)) + 5 * np.sin(2 * np.pi * np.arange(300) / 7)
    short = np.arange(30.0)

    def zoo(contexts, h, rows):
        return np.stack([np.full(h, c[-1] + 0.5) for c in contexts])

    fc = history.forecast([long, short], 14, np.array([7, 7]), zoo, min_context=36)
    assert fc.candidates.shape == (2, len(history.CANDIDATES), 14)
    np.testing.assert_allclose(fc.point[0], np.einsum("c,ch->h", fc.weights[0], fc.candidates[0]), rtol=1e-12)
    np.testing.assert_array_equal(fc.candidates[0, history.CANDIDATES.index("seasonal_naive")],
                                  history.seasonal_naive([long], 14, np.array([7]))[0])
    assert np.isfinite(fc.candidates[0]).all()
    np.testing.assert_array_equal(fc.candidates[1, 0], fc.point[1])
    assert np.isnan(fc.candidates[1, 1:]).all()


def test_short_histories_get_the_zoo_alone() -> None:
    def zoo(contexts, h, rows):
        return np.stack([np.full(h, 1.0) for _ in contexts])

    fc = history.forecast([np.arange(36.0), np.arange(20.0)], 5, np.array([1, 1]), zoo, min_context=36)
    np.testing.assert_array_equal(fc.weights[:, 0], 1.0)
    np.testing.assert_array_equal(fc.point, 1.0)
    assert (fc.n_backtests == 0).all()


def test_short_low_frequency_histories_lean_on_theta() -> None:
    """No room for a back-test and a low frequency: SHORT_WEIGHTS over the candidates
    (Theta, the damped trend and the drift on the seasonally adjusted history)."""
    rng = np.random.default_rng(4)
    t = np.arange(32.0)
    quarterly = 50 + 0.5 * t + 4 * np.tile([1.0, -1.0, 2.0, -2.0], 8) + rng.normal(0, 0.2, 32)
    trend = 10 + 2 * np.arange(20.0) + rng.normal(0, 0.5, 20)

    def zoo(contexts, h, rows):
        return np.stack([np.full(h, c[-1]) for c in contexts])

    fc = history.forecast([quarterly, trend], 8, np.array([4, 1]), zoo, min_context=36,
                          short=np.array([True, True]))
    np.testing.assert_array_equal(fc.weights, np.tile(history.SHORT_WEIGHTS, (2, 1)))
    assert history.SHORT_WEIGHTS.sum() == 1.0 and (history.SHORT_WEIGHTS >= 0).all()
    assert fc.seasonal[0] and not fc.seasonal[1] and (fc.n_backtests == 0).all()
    w = dict(zip(history.CANDIDATES, history.SHORT_WEIGHTS))
    expected = (w["zoo_adjusted"] * trend[-1] + w["theta"] * history.theta([trend], 8)[0]
                + w["damped"] * history.damped([trend], 8)[0] + w["drift"] * history.drift([trend], 8)[0])
    np.testing.assert_allclose(fc.point[1], expected, rtol=1e-12)
    assert fc.point[1, -1] > trend[-1]  # the trend goes on
    plain = history.forecast([quarterly, trend], 8, np.array([4, 1]), zoo, min_context=36)
    np.testing.assert_array_equal(plain.weights[:, 0], 1.0)  # without ``short``: the zoo alone


def test_forecaster_applies_the_short_rule_to_low_frequencies_only() -> None:
    model = SeqFusion.from_pretrained()
    y = 10 + 2 * np.arange(20.0) + np.random.default_rng(5).normal(0, 0.5, 20)
    yearly = model.explain(y, freq="YS", horizon=6)
    np.testing.assert_allclose(yearly[[f"weight_{c}" for c in history.CANDIDATES]].iloc[0], history.SHORT_WEIGHTS)
    daily = model.explain(y, freq="D", horizon=6)
    assert daily["weight_zoo"].iloc[0] == 1.0
    zoo_alone = model.predict(y, 6, freq="YS", history="last")
    assert not np.allclose(model.predict(y, 6, freq="YS"), zoo_alone)
    np.testing.assert_array_equal(model.predict(y, 6, freq="D"), model.predict(y, 6, freq="D", history="last"))
    np.testing.assert_array_equal(model.predict(y, 6), model.predict(y, 6, history="last"))  # frequency unknown


def test_forecaster_is_deterministic_and_equivariant_on_whole_histories() -> None:
    model = SeqFusion.from_pretrained()
    rng = np.random.default_rng(3)
    t = np.arange(300)
    y = 50 + 5 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, 300)
    a = model.predict(y, 18, freq="MS")
    np.testing.assert_array_equal(a, model.predict(y, 18, freq="MS"))
    np.testing.assert_allclose(model.predict(y * 1e6, 18, freq="MS"), a * 1e6, rtol=1e-6)
    assert not np.allclose(a, model.predict(y, 18))  # the frequency sets the season


@pytest.mark.parametrize("bad", ["all", "", None])
def test_history_option_is_validated(bad) -> None:
    from seqfusion.errors import SeqFusionError

    with pytest.raises(SeqFusionError, match="history must be one of"):
        SeqFusion.from_pretrained().predict(np.arange(50.0), 3, history=bad)


def test_nan_in_whole_histories() -> None:
    model = SeqFusion.from_pretrained()
    rng = np.random.default_rng(5)
    y = 20 + np.cumsum(rng.normal(size=120))
    gappy = y.copy()
    gappy[[0, 1, 50, 51]] = np.nan
    gappy[-2:] = np.nan
    filled = np.r_[y[2:50], np.interp([50, 51], [49, 52], [y[49], y[52]]), y[52:-2], [y[-3]] * 2]
    np.testing.assert_allclose(model.predict(gappy, 6), model.predict(filled, 6))


def test_seasonal_rows_match_one_history_at_a_time() -> None:
    rng = np.random.default_rng(11)
    t = np.arange(90)
    x = np.stack([50 + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, 90),   # multiplicative
                  np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.1, 90),           # additive (crosses 0)
                  rng.normal(size=90)])                                          # no season
    idx, mult = history.seasonal_rows(x, 12)
    assert list(mult) == [True, False, False] and np.isnan(idx[2]).all()
    for row in range(3):  # each history alone gets the same indices
        one, one_mult = history.seasonal_rows(x[row:row + 1], 12)
        assert one_mult[0] == mult[row]
        np.testing.assert_array_equal(one[0], idx[row])
    np.testing.assert_allclose(np.mean(idx[0]), 1.0)
    np.testing.assert_allclose(np.mean(idx[1]), 0.0, atol=1e-12)


def test_back_tests_have_the_frequency_s_horizon_whatever_the_horizon_asked() -> None:
    """``backtest_horizon`` fixes the back-tests: weights and residuals do not move with the
    horizon, and the forecast to h1 is the first h1 steps of the forecast to h2 (bit for
    bit, also past the back-tests' length); without it they follow the horizon."""
    rng = np.random.default_rng(8)
    t = np.arange(300)
    hists = [50 + np.cumsum(rng.normal(size=300)) + 4 * np.sin(2 * np.pi * t / 7), 10 + rng.normal(size=60),
             np.arange(30.0)]

    def zoo(contexts, h, rows):  # a prefix-consistent stand-in: the last value plus a damped step
        return np.stack([c[-1] + 0.3 * (c[-1] - c[-2]) * np.cumsum(0.8 ** np.arange(1, h + 1)) for c in contexts])

    seasons = np.array([7, 1, 1])
    fcs = {h: history.forecast(hists, h, seasons, zoo, backtest_horizon=np.array([14, 8, 8])) for h in (1, 3, 14, 40)}
    for h1, h2 in ((1, 3), (3, 14), (14, 40), (1, 40)):
        np.testing.assert_array_equal(fcs[h1].point, fcs[h2].point[:, :h1])
        np.testing.assert_array_equal(fcs[h1].weights, fcs[h2].weights)
        np.testing.assert_array_equal(fcs[h1].candidates, fcs[h2].candidates[:, :, :h1])
    fc = fcs[3]
    assert fc.n_backtests.tolist() == [5, 3, 0]  # 60 points: 3 back-tests of 8 from >= 36 points
    assert np.isfinite(fc.residuals[0, :, :14]).all() and np.isnan(fc.residuals[0, :, 14:]).all()
    assert np.isfinite(fc.residuals[1, :3, :8]).all() and np.isnan(fc.residuals[1, :, 8:]).all()
    assert fc.backtest_horizon.tolist() == [14, 8, 8]
    # the old behaviour (back-tests of the requested horizon) moves the weights
    assert not np.array_equal(history.forecast(hists, 3, seasons, zoo).weights[0],
                              history.forecast(hists, 14, seasons, zoo).weights[0])
    assert history.backtest_horizons(["daily", "yearly", "unknown", "hourly", "subhourly", "monthly"]).tolist() == \
        [14, 6, 8, 48, 48, 18]
    # weights per step (the sweep's other variant) keep the prefix too, and differ
    steps = {h: history.forecast(hists, h, seasons, zoo, backtest_horizon=np.array([14, 8, 8]), step_weights=True)
             for h in (3, 40)}
    np.testing.assert_array_equal(steps[3].point, steps[40].point[:, :3])
    assert not np.array_equal(steps[40].point, fcs[40].point)


def test_the_forecaster_back_tests_the_longer_of_the_frequency_s_and_the_asked_horizon(model, monkeypatch) -> None:
    y = 50 + np.cumsum(np.random.default_rng(3).normal(size=600))
    seen: list[list[int]] = []
    real = history.forecast

    def spy(*args, **kwargs):
        seen.append(kwargs["backtest_horizon"].tolist())
        return real(*args, **kwargs)

    monkeypatch.setattr(history, "forecast", spy)
    for h in (3, 14, 30):
        model.predict(y, h, freq="D")
    assert seen == [[14], [14], [30]]  # daily: B = 14
    assert history.backtest_lengths(["daily", "hourly", "yearly"], 20).tolist() == [20, 48, 20]


@settings(max_examples=25, deadline=None)
@given(st.integers(10, 400), st.integers(1, 60), st.integers(1, 60),
       st.sampled_from([None, "D", "W", "MS", "QS", "YS", "h", "30min"]), st.integers(0, 2**31 - 1))
@example(200, 2, 3, "D", 0).via("the reported case: first step with horizon 2 and 3")
@example(300, 14, 14, "D", 1).via("up to the daily back-tests' 14 points")
@example(60, 5, 6, "YS", 2).via("a short yearly history with back-tests of 6 points")
def test_shorter_horizon_is_a_prefix_of_a_longer_one(model, length, ha, hb, freq, seed) -> None:
    """``predict(y, h1)`` is the first ``h1`` rows of ``predict(y, h2)`` for
    ``h1 < h2 <= B`` (the frequency's back-test horizon), point forecasts and quantiles, bit
    for bit: up to ``B`` the back-tests' length comes from the frequency, not from the
    horizon."""
    from seqfusion.frequency import frequency_class

    bound = int(history.backtest_horizons([frequency_class(freq)])[0])
    h1, h2 = sorted((min(ha, bound), min(hb, bound)))
    if h1 == h2:
        h1 -= 1
    if h1 < 1:
        return
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    y = 30 + np.cumsum(rng.normal(size=length)) + 3 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, length)
    np.testing.assert_array_equal(model.predict(y, h1, freq=freq), model.predict(y, h2, freq=freq)[:h1])
    levels = [0.05, 0.5, 0.9]
    np.testing.assert_array_equal(model.predict_quantiles(y, h1, quantiles=levels, freq=freq),
                                  model.predict_quantiles(y, h2, quantiles=levels, freq=freq)[:h1])


def test_long_frame_of_several_frequencies_is_prefix_consistent(model) -> None:
    """A long frame whose series have different frequencies (each inferred from its stamps)
    and lengths: per series the forecast, its quantiles and its intervals to a shorter
    horizon are the first rows of those to a longer one, up to the back-test horizon."""
    import pandas as pd

    rng = np.random.default_rng(12)
    parts = []
    for uid, freq, n in (("daily", "D", 400), ("monthly", "MS", 150), ("hourly", "h", 700), ("weekly", "W", 90),
                         ("yearly", "YS", 30), ("quarterly", "QS", 70), ("short", "D", 25)):
        t = np.arange(n)
        y = 100 + np.cumsum(rng.normal(size=n)) + 5 * np.sin(2 * np.pi * t / 7)
        parts.append(pd.DataFrame({"unique_id": uid, "ds": pd.date_range("2000-01-01", periods=n, freq=freq), "y": y}))
    long = pd.concat(parts, ignore_index=True)
    full = {h: model.predict_quantiles(long, h, level=[80, 95]) for h in (2, 3, 6, 60)}
    for h1, h2 in ((2, 3), (3, 6), (2, 6)):  # within every frequency's back-test horizon (yearly: 6)
        head = full[h2].groupby("unique_id", sort=False).head(h1).reset_index(drop=True)
        pd.testing.assert_frame_equal(full[h1].reset_index(drop=True), head, check_exact=True)
        points = model.predict(long, h1)
        pd.testing.assert_frame_equal(points.reset_index(drop=True), head[list(points.columns)], check_exact=True)
    assert len(full[60]) == 7 * 60
    # past a series' back-test horizon the back-tests follow the horizon (validation:
    # benchmarks/results/sweep_backtest_weights.md): the forecast may then change
    daily = full[60][full[60]["unique_id"] == "daily"]["y"].to_numpy()
    assert daily.shape == (60,) and np.isfinite(daily).all()


# ------------------------------------------------------------------ the lag regression


def _daily_weekly(n: int, seed: int, level: float = 50.0) -> np.ndarray:
    """An hourly series with a daily and a weekly pattern and small AR(1) noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    day = 10 * np.sin(2 * np.pi * t / 24) + 4 * np.cos(4 * np.pi * t / 24)
    week = np.where((t // 24) % 7 >= 5, -8.0, 2.0)
    noise = np.zeros(n)
    for i in range(1, n):
        noise[i] = 0.5 * noise[i - 1] + rng.normal(scale=0.5)
    return level + day + week + noise


def test_lag_sets_follow_season_week_and_length() -> None:
    assert history.lag_set(2000, 24, 168) == (1, 2, 3, 23, 24, 25, 48, 167, 168, 169)
    assert history.lag_set(300, 24, 168) == (1, 2, 3, 23, 24, 25, 48)  # a week is more than a third
    assert history.lag_set(60, 12, 1) == (1, 2, 3, 11, 12, 13)  # 2m is more than a third
    assert history.lag_set(100, 1, 1) == (1, 2, 3)
    assert history.lag_set(8, 1, 1) == (1, 2)


def test_lag_regression_learns_a_daily_and_weekly_pattern() -> None:
    x = _daily_weekly(24 * 7 * 8 + 48, seed=1)
    past, future = x[:-48], x[-48:]
    point, has = history.lag_regression([past], 48, np.array([24]), np.array([168]))
    assert has[0]
    mae = np.abs(point[0] - future).mean()
    naive = np.abs(past[-24:].repeat(1)[np.arange(48) % 24] - future).mean()
    assert mae < 0.6 * naive, (mae, naive)


def test_lag_regression_does_not_depend_on_the_batch_and_is_equivariant() -> None:
    lengths = (204, 252, 300, 400, 450, 700, 1500, 2600)  # some share a width bucket
    series = [_daily_weekly(n, seed=s) for s, n in enumerate(lengths)]
    seasons, weeks = np.full(len(series), 24), np.full(len(series), 168)
    for differences in (False, True):
        together, has = history.lag_regression(series, 30, seasons, weeks, differences)
        assert has.all()
        for i, s in enumerate(series):
            alone, _ = history.lag_regression([s], 30, seasons[:1], weeks[:1], differences)
            np.testing.assert_array_equal(alone[0], together[i])
        scaled, _ = history.lag_regression([3.0 * s - 7.0 for s in series], 30, seasons, weeks, differences)
        np.testing.assert_allclose(scaled, 3.0 * together - 7.0, rtol=1e-9, atol=1e-9)


def test_lag_regression_stays_in_bounds_and_handles_short_and_constant_histories() -> None:
    rng = np.random.default_rng(3)
    wild = np.cumprod(1 + 0.2 * rng.normal(size=400))  # a fit that may be unstable
    short, const = np.arange(10.0), np.full(300, 4.0)
    point, has = history.lag_regression([wild, short, const], 500, np.array([12, 12, 12]), np.ones(3))
    span = wild.max() - wild.min()
    assert point[0].max() <= wild.max() + span + 1e-9 and point[0].min() >= wild.min() - span - 1e-9
    assert not has[1] and (point[1] == 9.0).all()
    assert has[2] and np.allclose(point[2], 4.0)


def test_whole_histories_weigh_the_lag_regression_where_it_fits(model) -> None:
    import pandas as pd

    x = _daily_weekly(24 * 7 * 10, seed=5)
    frame = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=len(x), freq="h"), "y": x})
    weights = model.explain(frame, 48)
    assert weights["weight_lags"].iloc[0] > 0.5


def test_lag_regression_on_differences_carries_a_trend_on() -> None:
    t = np.arange(24 * 30 + 48, dtype=np.float64)
    x = 0.05 * t + 3 * np.sin(2 * np.pi * t / 24)
    past, future = x[:-48], x[-48:]
    on_diffs, has = history.lag_regression([past], 48, np.array([24]), np.array([1]), differences=True)
    assert has[0]
    assert np.abs(on_diffs[0] - future).max() < 0.3  # a tenth of the season's amplitude
    seasonal_naive = past[-24:][np.arange(48) % 24]  # misses the trend: 1.2 and 2.4 off
    assert np.abs(on_diffs[0] - future).mean() < 0.1 * np.abs(seasonal_naive - future).mean()
