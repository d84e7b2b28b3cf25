"""Covariates (seqfusion.covariates): the X_df convention, its one-line errors, the
method's numbers (a covariate with signal helps, an unrelated one costs next to nothing),
the command line, chunked files and Dask; forecasts without covariates stay as they were
at the branch point."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqfusion import SeqFusion
from seqfusion import covariates as cov
from seqfusion.errors import SeqFusionError

H = 24


@pytest.fixture(scope="module")
def model() -> SeqFusion:
    return SeqFusion.from_pretrained()


def make(n: int = 600, ids: tuple[str, ...] = ("a", "b"), effect: float = 4.0, seed: int = 0,
         noise_cov: bool = False) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Hourly series ``y = season + effect * x + noise`` with covariate ``x`` (and an
    unrelated ``noise`` column): (history, X_df, truth ``[n_ids, H]``)."""
    rng = np.random.default_rng(seed)
    hist, fut, truth = [], [], []
    for uid in ids:
        t = np.arange(n + H)
        x = rng.normal(size=n + H)
        y = 20 + 3 * np.sin(2 * np.pi * t / 24) + effect * x + rng.normal(size=n + H) * 0.3
        ds = pd.date_range("2024-01-01", periods=n + H, freq="h")
        h = pd.DataFrame({"unique_id": uid, "ds": ds[:n], "y": y[:n], "x": x[:n]})
        f = pd.DataFrame({"unique_id": uid, "ds": ds[n:], "x": x[n:]})
        if noise_cov:
            h["noise"] = rng.normal(size=n)
            f["noise"] = rng.normal(size=H)
        hist.append(h)
        fut.append(f)
        truth.append(y[n:])
    return pd.concat(hist, ignore_index=True), pd.concat(fut, ignore_index=True), np.stack(truth)


# ------------------------------------------------------------------ forecasts without covariates


# ------------------------------------------------------------------ numbers


def test_a_covariate_with_signal_lowers_the_error_and_takes_the_weight(model: SeqFusion) -> None:
    hist, fut, truth = make()
    with_x = model.predict(hist, H, X_df=fut)["y"].to_numpy().reshape(2, H)
    without = model.predict(hist[["unique_id", "ds", "y"]], H)["y"].to_numpy().reshape(2, H)
    mae_x, mae_0 = np.abs(with_x - truth).mean(), np.abs(without - truth).mean()
    assert mae_x < 0.3 * mae_0, (mae_x, mae_0)
    inputs = cov.parse_inputs(hist, fut, H)
    fc = cov.forecast(model, inputs, H, None, model._input_frequency(inputs.parsed, None), None)
    assert (fc.weight > 0.9).all()
    assert (fc.gain < 0.2).all()  # the regression explains most of the back-test windows' changes


@pytest.mark.parametrize("mode", ["adjust", "both"])
@pytest.mark.parametrize("lag", [0, 1])
def test_the_other_designs_learn_the_signal_too(model: SeqFusion, monkeypatch: pytest.MonkeyPatch, mode: str,
                                                lag: int) -> None:
    monkeypatch.setattr(cov, "MODE", mode)
    monkeypatch.setattr(cov, "DIFF_LAG", lag)
    monkeypatch.setattr(cov, "KNOTS", (0, 4))
    hist, fut, truth = make()
    with_x = model.predict_quantiles(hist, H, X_df=fut, quantiles=[0.1, 0.9])
    without = model.predict(hist[["unique_id", "ds", "y"]], H)["y"].to_numpy().reshape(2, H)
    mae_x = np.abs(with_x["y"].to_numpy().reshape(2, H) - truth).mean()
    assert mae_x < 0.5 * np.abs(without - truth).mean()
    assert (with_x["q0.1"] < with_x["q0.9"]).all()


def test_a_multiplicative_effect_is_taken_as_one_when_allowed(model: SeqFusion,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """``MULTIPLICATIVE`` (off by default): a promotion that doubles sales whatever the
    level, on a series whose level triples, is fitted on the logarithm and forecast well."""
    rng = np.random.default_rng(5)
    n = 600
    t = np.arange(n + H)
    x = (rng.random(n + H) < 0.15).astype(float)
    y = (10 + 0.05 * t) * (1 + 0.5 * np.sin(2 * np.pi * t / 24)) * np.exp(0.7 * x) * np.exp(rng.normal(0, 0.02, n + H))
    ds = pd.date_range("2024-01-01", periods=n + H, freq="h")
    hist = pd.DataFrame({"unique_id": "a", "ds": ds[:n], "y": y[:n], "x": x[:n]})
    fut = pd.DataFrame({"unique_id": "a", "ds": ds[n:], "x": x[n:]})
    additive = np.abs(model.predict(hist, H, X_df=fut)["y"].to_numpy() - y[n:]).mean()
    monkeypatch.setattr(cov, "MULTIPLICATIVE", True)
    inputs = cov.parse_inputs(hist, fut, H)
    fc = cov.forecast(model, inputs, H, None, model._input_frequency(inputs.parsed, None), None)
    multiplicative = np.abs(fc.point[0] - y[n:]).mean()
    assert multiplicative < 0.8 * additive, (multiplicative, additive)
    assert fc.weight[0] > 0.5


def test_an_unrelated_covariate_changes_the_forecast_little(model: SeqFusion) -> None:
    hist, fut, truth = make(effect=0.0, ids=("a", "b", "c", "d"), seed=3, noise_cov=True)
    hist = hist.drop(columns="x")
    fut = fut.drop(columns="x")
    with_noise = model.predict(hist, H, X_df=fut)["y"].to_numpy().reshape(4, H)
    without = model.predict(hist[["unique_id", "ds", "y"]], H)["y"].to_numpy().reshape(4, H)
    mae_n, mae_0 = np.abs(with_noise - truth).mean(), np.abs(without - truth).mean()
    assert mae_n <= 1.02 * mae_0, (mae_n, mae_0)


def test_an_event_that_reshapes_the_day_is_learnt_per_hour(model: SeqFusion) -> None:
    """A two-valued covariate (an event on some days) that doubles the morning peak only:
    its effect is learnt per hour of the day."""
    rng = np.random.default_rng(4)
    days = 60
    t = np.arange(days * 24)
    event = np.repeat((rng.random(days) < 0.3).astype(float), 24)
    event[-24:] = 1.0  # the forecast day is an event day
    peak = np.exp(-0.5 * ((t % 24 - 8) / 1.5) ** 2)
    y = 10 + 5 * peak * (1 + event) + rng.normal(0, 0.2, len(t))
    ds = pd.date_range("2024-01-01", periods=len(t), freq="h")
    hist = pd.DataFrame({"unique_id": "a", "ds": ds[:-24], "y": y[:-24], "event": event[:-24]})
    fut = pd.DataFrame({"unique_id": "a", "ds": ds[-24:], "event": event[-24:]})
    with_event = model.predict(hist, 24, X_df=fut)["y"].to_numpy()
    without = model.predict(hist[["unique_id", "ds", "y"]], 24)["y"].to_numpy()
    mae_e, mae_0 = np.abs(with_event - y[-24:]).mean(), np.abs(without - y[-24:]).mean()
    assert mae_e < 0.5 * mae_0, (mae_e, mae_0)


def test_series_without_covariate_gain_keep_their_forecast_bit_for_bit(model: SeqFusion) -> None:
    """Where the regression does not beat no regression on the back-test windows, the
    forecast (and its quantiles) is exactly the one without covariates; the forecast
    without covariates made in the same call as the covariate candidates is that too."""
    hist, fut, _ = make(ids=("a", "b", "c"), seed=5, noise_cov=True)
    hist.loc[hist.unique_id == "c", "x"] = np.random.default_rng(9).normal(size=600)  # unrelated for series c
    fut.loc[fut.unique_id == "c", "x"] = np.random.default_rng(10).normal(size=H)
    inputs = cov.parse_inputs(hist, fut, H)
    fc = cov.forecast(model, inputs, H, None, model._input_frequency(inputs.parsed, None), None)
    assert fc.weight[0] > 0.5 and fc.weight[1] > 0.5 and fc.weight[2] == 0.0 and fc.gain[2] >= cov.MIN_GAIN
    plain = hist[["unique_id", "ds", "y"]]
    np.testing.assert_array_equal(fc.base.point, model.predict(plain, H)["y"].to_numpy().reshape(3, H))
    with_cov = model.predict_quantiles(hist, H, X_df=fut, quantiles=[0.1, 0.5, 0.9])
    without = model.predict_quantiles(plain, H, quantiles=[0.1, 0.5, 0.9])
    c = (with_cov.unique_id == "c").to_numpy()
    cols = ["y", "q0.1", "q0.9"]
    np.testing.assert_array_equal(with_cov[c][cols].to_numpy(), without[c][cols].to_numpy())
    assert not np.array_equal(with_cov[~c]["y"].to_numpy(), without[~c]["y"].to_numpy())


def test_quantiles_and_levels_with_covariates(model: SeqFusion) -> None:
    hist, fut, truth = make()
    out = model.predict_quantiles(hist, H, X_df=fut, quantiles=[0.1, 0.5, 0.9], level=[80])
    assert list(out.columns) == ["unique_id", "ds", "y", "q0.1", "q0.5", "q0.9", "y-lo-80", "y-hi-80"]
    q = out[["q0.1", "q0.5", "q0.9"]].to_numpy()
    assert (np.diff(q, axis=1) > 0).all()
    np.testing.assert_allclose(out["q0.5"], out["y"])
    np.testing.assert_array_equal(out["y-lo-80"], out["q0.1"])
    point = model.predict(hist, H, X_df=fut)
    np.testing.assert_array_equal(out["y"], point["y"])
    inside = ((truth.ravel() >= out["q0.1"]) & (truth.ravel() <= out["q0.9"])).mean()
    assert inside > 0.5  # the spread follows the covariate model's errors, not the base's wider ones
    width_x = (out["q0.9"] - out["q0.1"]).mean()
    base = model.predict_quantiles(hist[["unique_id", "ds", "y"]], H, quantiles=[0.1, 0.9])
    # narrower than without covariates; the long-context member's own spread (half of the
    # total, quantiles.LONG_SPREAD) reads the series the covariates leave, so not half as narrow
    assert width_x < 0.6 * (base["q0.9"] - base["q0.1"]).mean()
    levels = model.predict(hist, H, X_df=fut, level=[80])
    np.testing.assert_array_equal(levels["y-hi-80"], out["y-hi-80"])


def test_a_series_alone_gets_the_forecast_it_gets_in_a_batch(model: SeqFusion) -> None:
    hist, fut, _ = make(ids=("a", "b", "c"))
    together = model.predict(hist, H, X_df=fut)
    alone = model.predict(hist[hist.unique_id == "b"], H, X_df=fut[fut.unique_id == "b"])
    np.testing.assert_array_equal(together[together.unique_id == "b"]["y"].to_numpy(), alone["y"].to_numpy())


def test_ridge_recovers_coefficients_and_refuses_noise() -> None:
    rng = np.random.default_rng(1)
    F = rng.normal(size=(800, 3))
    y = np.cumsum(rng.normal(size=800)) * 0.01 + F @ np.array([2.0, -1.0, 0.5])
    windows = [(800 - 48 * j, 800 - 48 * (j - 1)) for j in range(1, 6)]
    beta, lam, gain = cov.ridge(y, F, windows, 1)
    np.testing.assert_allclose(beta, [2.0, -1.0, 0.5], atol=0.02)
    assert gain < 0.01 and lam in cov.PENALTIES
    _, _, gain_noise = cov.ridge(rng.normal(size=800).cumsum(), F, windows, 1)
    assert gain_noise > 0.95


def test_features_hinges_only_for_covariates_of_many_values() -> None:
    past = np.stack([np.r_[np.zeros(50), np.ones(50)], np.linspace(0, 1, 100), np.full(100, 3.0)], axis=1)
    F, Ff = cov.features(past, past[:5], 4)
    assert F.shape == (100, 1 + 1 + 4) and Ff.shape == (5, F.shape[1])  # constant column dropped
    np.testing.assert_allclose(Ff, F[:5])
    assert cov.features(past, past[:5], 0)[0].shape == (100, 2)
    np.testing.assert_allclose(F.mean(axis=0)[:2], 0.0, atol=1e-12)


# ------------------------------------------------------------------ errors


def test_errors_are_one_line(model: SeqFusion) -> None:
    hist, fut, _ = make()
    cases = [
        (lambda: model.predict(hist, H), "x of the history are covariates: give their future values as X_df"),
        (lambda: model.predict(hist, H, X_df=fut.iloc[1:]), "X_df has 23 row\\(s\\) for series 'a'"),
        (lambda: model.predict(hist, H + 1, X_df=fut), "it needs exactly the horizon, 25"),
        (lambda: model.predict(hist, H, X_df=fut.assign(ds=fut.ds + pd.Timedelta("1h"))),
         "X_df's time stamps for series 'a' do not match the forecast's: step 1 should be"),
        (lambda: model.predict(hist, H, X_df=fut.assign(x=fut.x.astype(str))), "X_df column 'x' must be numeric"),
        (lambda: model.predict(hist, H, X_df=fut.assign(x=np.where(np.arange(len(fut)) == 30, np.nan, fut.x))),
         "X_df column 'x' has a missing or infinite value \\(series 'b', ds 2024-01-26 06:00:00\\)"),
        (lambda: model.predict(hist, H, X_df=fut.assign(z=1.0)), "covariate\\(s\\) z in X_df but not in the history"),
        (lambda: model.predict(hist.assign(z=1.0), H, X_df=fut), "covariate\\(s\\) z in the history but not in X_df"),
        (lambda: model.predict(hist[["unique_id", "ds", "y"]], H, X_df=fut),
         "covariate\\(s\\) x in X_df but not in the history"),
        (lambda: model.predict(hist, H, X_df=fut.assign(unique_id=fut.unique_id.replace("b", "q"))),
         "X_df holds series 'q', which the history does not"),
        (lambda: model.predict(hist, H, X_df=fut.assign(y=1.0)), "X_df holds column 'y'"),
        (lambda: model.predict(hist, H, X_df=fut.drop(columns="ds")), "X_df needs columns unique_id and ds"),
        (lambda: model.predict(hist, H, X_df=fut.to_numpy()), "X_df must be a DataFrame"),
        (lambda: model.predict(hist.assign(x=hist.x.astype(str)), H, X_df=fut), "covariate 'x' must be numeric"),
        (lambda: model.predict(hist.assign(x=np.inf), H, X_df=fut), "covariate 'x' of series 'a' holds inf"),
        (lambda: model.predict(hist, H, X_df=fut, history="last"), "covariates need history='whole'"),
        (lambda: model.predict(np.arange(100.0), H, X_df=fut), "covariates need a long frame"),
    ]
    for call, message in cases:
        with pytest.raises(SeqFusionError, match=message) as info:
            call()
        assert "\n" not in str(info.value)


def test_time_zones_and_integer_stamps(model: SeqFusion) -> None:
    hist, fut, _ = make()
    aware = model.predict(hist.assign(ds=hist.ds.dt.tz_localize("Europe/Paris")), H,
                          X_df=fut.assign(ds=fut.ds.dt.tz_localize("Europe/Paris")))
    assert str(aware["ds"].dt.tz) == "Europe/Paris"
    with pytest.raises(SeqFusionError, match="differ in time zone awareness"):
        model.predict(hist.assign(ds=hist.ds.dt.tz_localize("UTC")), H, X_df=fut)
    steps = hist.groupby("unique_id").cumcount()
    ints = model.predict(hist.assign(ds=steps), H, X_df=fut.assign(ds=fut.groupby("unique_id").cumcount() + 600))
    assert ints["ds"].tolist()[:2] == [600, 601]
    with pytest.raises(SeqFusionError, match="step 1 should be 600"):
        model.predict(hist.assign(ds=steps), H, X_df=fut.assign(ds=fut.groupby("unique_id").cumcount() + 601))


def test_history_gaps_in_covariates_are_filled(model: SeqFusion) -> None:
    hist, fut, _ = make()
    gappy = hist.assign(x=np.where(np.arange(len(hist)) % 50 == 7, np.nan, hist.x))
    out = model.predict(gappy, H, X_df=fut)
    assert np.isfinite(out["y"]).all()
    with pytest.raises(SeqFusionError, match="covariate 'x' of series 'a' has no value in the history"):
        model.predict(hist.assign(x=np.where(hist.unique_id == "a", np.nan, hist.x)), H, X_df=fut)


# ------------------------------------------------------------------ alignment rules (property-based)


@pytest.fixture(scope="module")
def small() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    from seqfusion import SeqFusion

    hist, fut, _ = make(n=300, ids=("a", "b", "c"), seed=7)
    expected = SeqFusion.from_pretrained().predict(hist, H, X_df=fut)
    return hist, fut, expected


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_row_order_of_either_frame_does_not_matter(model: SeqFusion, small: tuple, seed: int) -> None:
    hist, fut, expected = small
    rng = np.random.default_rng(seed)
    out = model.predict(hist.iloc[rng.permutation(len(hist))], H, X_df=fut.iloc[rng.permutation(len(fut))])
    out = out.set_index(["unique_id", "ds"]).loc[expected.set_index(["unique_id", "ds"]).index]
    np.testing.assert_array_equal(out["y"].to_numpy(), expected["y"].to_numpy())


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(row=st.integers(0, 3 * H - 1), change=st.sampled_from(["drop", "shift", "duplicate", "nan", "extra"]))
def test_any_misaligned_row_is_refused(model: SeqFusion, small: tuple, row: int, change: str) -> None:
    hist, fut, _ = small
    uid = fut["unique_id"].iloc[row]
    if change == "drop":
        bad, message = fut.drop(index=fut.index[row]), f"X_df has {H - 1} row\\(s\\) for series '{uid}'"
    elif change == "duplicate":
        bad = pd.concat([fut, fut.iloc[[row]]], ignore_index=True)
        message = f"X_df has {H + 1} row\\(s\\) for series '{uid}'"
    elif change == "extra":
        extra = fut.iloc[[row]].assign(ds=fut["ds"].max() + pd.Timedelta("1h"))
        bad, message = pd.concat([fut, extra], ignore_index=True), f"X_df has {H + 1} row\\(s\\) for series '{uid}'"
    elif change == "shift":
        ds = fut["ds"].copy()
        ds.iloc[row] = ds.iloc[row] + pd.Timedelta("30min")
        bad, message = fut.assign(ds=ds), f"X_df's time stamps for series '{uid}' do not match"
    else:
        x = fut["x"].copy()
        x.iloc[row] = np.nan
        bad, message = fut.assign(x=x), f"X_df column 'x' has a missing or infinite value \\(series '{uid}'"
    with pytest.raises(SeqFusionError, match=message):
        model.predict(hist, H, X_df=bad)


# ------------------------------------------------------------------ calendar


def test_calendar_covariates() -> None:
    ds = pd.Series(pd.date_range("2024-07-01", periods=10, freq="D"))  # a Monday
    cal = cov.calendar(ds, country="US")
    assert list(cal.columns) == [f"dow_{d}" for d in range(1, 7)] + ["holiday"]
    assert cal.loc[0, [f"dow_{d}" for d in range(1, 7)]].sum() == 0 and cal.loc[6, "dow_6"] == 1
    assert cal["holiday"].tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]  # July 4th
    hist = pd.DataFrame({"unique_id": "a", "ds": ds, "y": np.arange(10.0)})
    h2, f2 = cov.add_calendar(hist, hist[["unique_id", "ds"]], day_of_week=False, country="US")
    assert f2 is not None and list(h2.columns) == ["unique_id", "ds", "y", "holiday"]
    with pytest.raises(SeqFusionError, match="knows no country 'ZZ'"):
        cov.calendar(ds, country="ZZ")


# ------------------------------------------------------------------ command line, chunked files, Dask


@pytest.fixture()
def files(tmp_path: Path) -> tuple[Path, Path, pd.DataFrame, pd.DataFrame]:
    hist, fut, _ = make(n=300, ids=("a", "b", "c"), seed=11)
    hist.to_csv(tmp_path / "hist.csv", index=False)
    fut.to_csv(tmp_path / "future.csv", index=False)
    return tmp_path / "hist.csv", tmp_path / "future.csv", hist, fut


def test_cli_future_in_memory_and_chunked(files: tuple, tmp_path: Path, model: SeqFusion) -> None:
    from seqfusion.cli import main

    hist_path, fut_path, hist, fut = files
    expected = model.predict(hist, H, X_df=fut, level=[80])
    for extra in ([], ["--chunk-size", "1"], ["--plot", str(tmp_path / "p.png")]):
        out = tmp_path / "out.csv"
        assert main(["forecast", str(hist_path), "-H", str(H), "--future", str(fut_path), "--level", "80",
                     "-o", str(out), *extra]) == 0
        got = pd.read_csv(out)
        np.testing.assert_allclose(got["y"], expected["y"], rtol=1e-12)
        np.testing.assert_allclose(got["y-hi-80"], expected["y-hi-80"], rtol=1e-12)


def test_cli_future_errors(files: tuple, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from seqfusion.cli import main

    hist_path, fut_path, hist, fut = files
    assert main(["forecast", str(hist_path), "-H", str(H), "-o", str(tmp_path / "o.csv")]) != 0
    assert "x (covariates need their future values: --future)" in capsys.readouterr().err
    assert main(["forecast", str(hist_path), "-H", str(H - 1), "--future", str(fut_path)]) != 0
    assert "it needs exactly the horizon, 23" in capsys.readouterr().err
    assert main(["forecast", str(hist_path), "-H", str(H), "--future", str(fut_path), "--explain"]) != 0
    assert "--explain does not cover covariates" in capsys.readouterr().err
    wide = tmp_path / "wide.csv"
    pd.DataFrame({"date": pd.date_range("2024-01-01", periods=100, freq="D"), "a": np.arange(100.0)}).to_csv(
        wide, index=False)
    assert main(["forecast", str(wide), "-H", str(H), "--future", str(fut_path)]) != 0
    assert "--future needs long input" in capsys.readouterr().err


def test_chunked_file_with_future_equals_in_memory(files: tuple, tmp_path: Path, model: SeqFusion) -> None:
    from seqfusion.stream import forecast_file

    hist_path, _, hist, fut = files
    expected = model.predict_quantiles(hist, H, X_df=fut, quantiles=[0.1, 0.9])
    for chunk_size in (1, 2, 10):
        out = tmp_path / f"o{chunk_size}.parquet"
        forecast_file(model, hist_path, out, H, chunk_size=chunk_size, quantiles=[0.1, 0.9], future=fut,
                      block_rows=100)
        got = pd.read_parquet(out)
        np.testing.assert_array_equal(got[["y", "q0.1", "q0.9"]].to_numpy(),
                                      expected[["y", "q0.1", "q0.9"]].to_numpy())


@pytest.mark.dask
def test_dask_partitions_with_future_equal_in_memory(files: tuple, model: SeqFusion) -> None:
    import dask.dataframe as dd

    from seqfusion.dask import forecast

    _, _, hist, fut = files
    ddf = dd.from_pandas(hist, npartitions=3)
    got = forecast(ddf, H, None, X_df=fut).compute(scheduler="sync")
    got = got.set_index(["unique_id", "ds"]).sort_index()
    expected = model.predict(hist, H, X_df=fut).set_index(["unique_id", "ds"]).sort_index()
    np.testing.assert_array_equal(got["y"].to_numpy(), expected["y"].to_numpy())
    with pytest.raises(SeqFusionError, match="covariates need their future values: X_df"):
        forecast(ddf, H, None)
    with pytest.raises(SeqFusionError, match="covariate\\(s\\) z in only one of the history and X_df"):
        forecast(ddf, H, None, X_df=fut.assign(z=1.0))


def test_the_guides_python_examples_run() -> None:
    """docs/guides/covariates.md's Python blocks run as written, in order."""
    import re

    guide = Path(__file__).resolve().parents[1] / "docs" / "guides" / "covariates.md"
    blocks = re.findall(r"```python\n(.*?)```", guide.read_text(), flags=re.S)
    assert len(blocks) == 2
    scope: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(guide), "exec"), scope)
    forecast, truth = scope["forecast"], scope["sales"][600:]
    assert isinstance(forecast, pd.DataFrame) and list(forecast.columns) == ["unique_id", "ds", "y"]
    assert np.abs(forecast["y"].to_numpy() - truth).mean() < 1.5  # the price effect is learnt
    assert "holiday" in scope["future2"].columns
