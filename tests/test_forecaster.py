
import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqfusion import SeqFusion, SeqFusionError
from seqfusion.training.members import torch_module
from seqfusion.training.rollout import rollout
from tests.conftest import synthetic_windows


@pytest.fixture(scope="module")
def model(tiny_zoo):
    return SeqFusion.from_pretrained(tiny_zoo, k=2)


@pytest.fixture(scope="module")
def panel():
    rng = np.random.default_rng(3)
    return np.stack([synthetic_windows("sine", 1, 60, seed=4)[0],
                     synthetic_windows("walk", 1, 60, seed=5)[0],
                     synthetic_windows("trend", 1, 60, seed=6)[0] + rng.normal(size=60)], axis=1)


def test_shapes_follow_horizon_and_variates(model, panel):
    assert model.predict(panel, 7).shape == (7, 3)
    assert model.predict(panel[:, 0], 30).shape == (30,)
    assert model.predict_windows(panel.T, 48).shape == (3, 48)


def test_matches_manual_fusion(model, panel):
    """predict == mean over the top-k members' recursive roll-outs on z-normalized input."""
    H = 20
    x = panel[-36:, 1]
    mean, std = x.mean(), x.std()
    idx, _ = model._select(x[None])
    z = torch.tensor(((x - mean) / std)[None], dtype=torch.float32)
    manual = np.mean([rollout(torch_module(model.zoo.members[m]), z, H).numpy()[0] for m in idx[0]], axis=0)
    np.testing.assert_allclose(model.predict(panel[:, 1], H, history="last"), manual * std + mean, rtol=1e-5, atol=1e-5)


@settings(max_examples=15, deadline=None)
@given(a=st.floats(0.01, 100.0), b=st.floats(-1000.0, 1000.0), h=st.integers(1, 40))
def test_affine_equivariance(model, panel, a, b, h):
    base = model.predict(panel, h)
    moved = model.predict(a * panel + b, h)
    np.testing.assert_allclose(moved, a * base + b, rtol=1e-4, atol=1e-4 * (a + abs(b)))


def test_deterministic(tiny_zoo, panel):
    a = SeqFusion.from_pretrained(tiny_zoo).predict(panel, 24)
    b = SeqFusion.from_pretrained(tiny_zoo).predict(panel, 24)
    np.testing.assert_array_equal(a, b)


def test_longer_history_uses_last_T(model, panel):
    np.testing.assert_allclose(model.predict(panel, 5, history="last"), model.predict(panel[-36:], 5))


def test_whole_history_counts_and_36_points_are_the_zoo_alone(model, panel):
    whole, last = model.predict(panel, 5), model.predict(panel, 5, history="last")
    assert whole.shape == last.shape and np.isfinite(whole).all()
    assert not np.allclose(whole, last)  # back-tests in the history weigh Theta and the seasonal naive in
    np.testing.assert_array_equal(model.predict(panel[-36:], 5), model.predict(panel[-36:], 5, history="last"))


def test_short_history_padded_and_minimum(model, panel):
    short = panel[-20:]
    padded = np.vstack([np.repeat(short[:1], 16, axis=0), short])
    np.testing.assert_allclose(model.predict(short, 6), model.predict(padded, 6))
    with pytest.raises(SeqFusionError, match="at least 8 are needed"):
        model.predict(panel[-5:], 6)


def test_nan_interpolated(model, panel):
    x = panel[-36:, 0].copy()
    filled = x.copy()
    x[10] = np.nan
    filled[10] = (x[9] + x[11]) / 2
    np.testing.assert_allclose(model.predict(x, 6), model.predict(filled, 6))
    lead = x.copy()
    lead[:3] = np.nan
    assert np.isfinite(model.predict(lead, 6)).all()
    with pytest.raises(SeqFusionError, match="usable points"):
        model.predict(np.full(36, np.nan), 6)


def test_bad_values_and_shapes(model):
    with pytest.raises(SeqFusionError, match="contains inf"):
        model.predict(np.r_[np.ones(35), np.inf], 3)
    with pytest.raises(SeqFusionError, match="empty"):
        model.predict_windows(np.zeros((0, 36)), 3)
    with pytest.raises(SeqFusionError, match=r"\[T\] or \[T, C\]"):
        model.predict(np.zeros((36, 2, 2)), 3)
    with pytest.raises(SeqFusionError, match="no variates"):
        model.predict(np.zeros((36, 0)), 3)
    with pytest.raises(SeqFusionError, match="numeric"):
        model.predict(np.array(["a"] * 36), 3)
    with pytest.raises(SeqFusionError, match="horizon"):
        model.predict(np.arange(36.0), 0)
    with pytest.raises(SeqFusionError, match="k must be"):
        model.predict(np.arange(36.0), 3, k=9)
    with pytest.raises(SeqFusionError, match="unsupported input type"):
        model.predict({"a": 1}, 3)
    with pytest.raises(SeqFusionError, match="unknown option"):
        model.predict_windows(np.ones((1, 36)), 3, colour="red")
    with pytest.raises(SeqFusionError, match="fusion must be"):
        SeqFusion(model.zoo, fusion="mode")


def test_constant_series_forecast_constant(model):
    out = model.predict(np.column_stack([np.full(36, 4.2), np.arange(36.0)]), 10)
    np.testing.assert_array_equal(out[:, 0], 4.2)
    assert np.isfinite(out).all()


def test_wide_dataframe_roundtrip(model, panel):
    idx = pd.date_range("2024-01-01", periods=60, freq="D")
    df = pd.DataFrame(panel, index=idx, columns=["a", "b", "c"])
    out = model.predict(df, 5)
    assert list(out.columns) == ["a", "b", "c"]
    assert out.index[0] == pd.Timestamp("2024-03-01") and len(out) == 5
    np.testing.assert_allclose(out.to_numpy(), model.predict(panel, 5, freq="D"))
    with_col = df.reset_index(names="date")
    out2 = model.predict(with_col, 5)
    assert list(out2.columns) == ["date", "a", "b", "c"]
    with pytest.raises(SeqFusionError, match="non-numeric column"):
        model.predict(with_col.assign(note="x"), 5)
    with pytest.raises(SeqFusionError, match="not sorted"):
        model.predict(df.iloc[::-1], 5)


def test_irregular_timestamps_warn(model, panel):
    idx = pd.date_range("2024-01-01", periods=60, freq="D").delete([10, 20])
    df = pd.DataFrame(panel[:58], index=idx, columns=["a", "b", "c"])
    with pytest.warns(UserWarning, match="irregular timestamps"):
        out = model.predict(df, 3)
    assert (out.index[1] - out.index[0]) == pd.Timedelta("1D")


def test_long_dataframe(model, panel):
    frames = []
    for j, name in enumerate(["x", "y", "z"]):
        n = 60 - 10 * j  # unequal lengths
        frames.append(pd.DataFrame({"unique_id": name, "ds": pd.date_range("2023-01-01", periods=n, freq="h"),
                                    "y": panel[-n:, j]}))
    long = pd.concat(frames[::-1], ignore_index=True)
    out = model.predict(long, 4)
    assert list(out.columns) == ["unique_id", "ds", "y"] and len(out) == 12
    assert set(out["unique_id"]) == {"x", "y", "z"}
    np.testing.assert_allclose(out[out.unique_id == "x"]["y"], model.predict(panel[:, 0], 4, freq="h"), rtol=1e-5)
    first_z = out[out.unique_id == "z"]["ds"].iloc[0]
    assert first_z == frames[2]["ds"].iloc[-1] + pd.Timedelta("1h")
    with pytest.raises(SeqFusionError, match="extra of the history are covariates: give their future values as X_df"):
        model.predict(long.assign(extra=1), 4)


def test_explain(model, panel):
    ex = model.explain(pd.DataFrame(panel, columns=["a", "b", "c"]))
    assert list(ex.columns[:5]) == ["variate", "rank", "ptm", "similarity", "weight"]
    assert len(ex) == 6 and ex.groupby("variate")["rank"].max().eq(2).all()
    assert ex["ptm"].isin(model.zoo.names).all()
    assert (ex.groupby("variate")["similarity"].diff().dropna() <= 0).all()


def test_similarity_fusion_weights(tiny_zoo, panel):
    m = SeqFusion.from_pretrained(tiny_zoo, k=3, fusion="similarity", temperature=0.05)
    ex = m.explain(panel)
    np.testing.assert_allclose(ex.groupby("variate")["weight"].sum(), 1.0)
    assert (ex.groupby("variate")["weight"].diff().dropna() <= 1e-12).all()


def test_selection_override(model, panel):
    x = panel[-36:].T
    fixed = np.zeros((3, 1), dtype=int)
    a = model.predict_windows(x, 6, k=1, members=fixed)
    b = SeqFusion(model.zoo.subset(["sine_patchtst"]), k=1).predict_windows(x, 6)
    np.testing.assert_allclose(a, b)


def test_fixed_members_with_weights(model, panel):
    x = panel[-36:].T
    single = [model.predict_windows(x, 7, members=np.full((3, 1), j)) for j in range(3)]
    w = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8], [1.0, 0.0, 0.0]])
    fused = model.predict_windows(x, 7, members=np.tile(np.arange(3), (3, 1)), weights=w)
    expected = sum(w[:, j:j + 1] * single[j] for j in range(3))
    np.testing.assert_allclose(fused, expected, rtol=1e-6, atol=1e-6)
    with pytest.raises(SeqFusionError, match="sum to 1"):
        model.predict_windows(x, 7, members=np.tile(np.arange(3), (3, 1)), weights=w * 2)
    with pytest.raises(SeqFusionError, match="weights need members"):
        model.predict_windows(x, 7, weights=w)


def test_each_row_runs_only_its_chosen_members(tiny_zoo, monkeypatch):
    """Roll-outs are computed per (row, member) pair the router or similarity chose: with
    k=2 of 3 members, 100 pairs for 50 rows, however the engine batches them."""
    from seqfusion import engine

    model = SeqFusion.from_pretrained(tiny_zoo, k=2)
    pairs = []
    real = engine.MemberBank._pairs

    def counting(self, x, used, horizon, clip):
        pairs.append(int(used.sum()))
        return real(self, x, used, horizon, clip)

    monkeypatch.setattr(engine.MemberBank, "_pairs", counting)
    x = synthetic_windows("walk", 50, 36, seed=9)
    model.predict_windows(x, 24)
    assert pairs == [100]


def test_normalization_last_h(tiny_zoo, panel):
    a = SeqFusion.from_pretrained(tiny_zoo, normalization="last_h").predict(panel, 6)
    assert a.shape == (6, 3) and np.isfinite(a).all()


def test_backtest_errors_hand_computed(tiny_zoo, panel):
    m = SeqFusion.from_pretrained(tiny_zoo, selection="backtest", backtest=12)
    x = panel[-36:, 1]
    naive = m.zoo.names.index("naive")
    err = m._backtest_errors(x[None], np.array([[naive]]))[0, 0]
    hist, target = x[:24], x[24:]
    expected = np.mean(((target - hist[-1]) / hist.std()) ** 2)
    np.testing.assert_allclose(err, expected, rtol=1e-5)


def test_backtest_selection_picks_lowest_error(tiny_zoo, panel):
    m = SeqFusion.from_pretrained(tiny_zoo, k=1, selection="backtest", fusion="mean")
    ctx = panel[-36:].T
    allm = np.tile(np.arange(len(m.zoo)), (3, 1))
    errs = m._backtest_errors(ctx, allm)
    chosen = m._pick(ctx)
    np.testing.assert_array_equal(chosen["members"][:, 0], errs.argmin(axis=1))
    ex = m.explain(panel)
    assert np.isfinite(ex["backtest_error"]).all()
    w = SeqFusion.from_pretrained(tiny_zoo, k=3, selection="backtest", fusion="inverse_error")._pick(ctx)["weight"]
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    with pytest.raises(SeqFusionError, match="needs selection='backtest'"):
        SeqFusion.from_pretrained(tiny_zoo, fusion="inverse_error").predict(panel, 3)
    with pytest.raises(SeqFusionError, match="backtest must be"):
        SeqFusion.from_pretrained(tiny_zoo, selection="backtest", backtest=40)


def test_median_fusion(tiny_zoo, panel):
    m = SeqFusion.from_pretrained(tiny_zoo, k=3, fusion="median")
    x = panel[-36:, 0]
    z = torch.tensor(((x - x.mean()) / x.std())[None], dtype=torch.float32)
    each = [rollout(torch_module(mem), z, 5).numpy()[0] for mem in m.zoo.members]
    np.testing.assert_allclose(m.predict(x, 5), np.median(each, axis=0) * x.std() + x.mean(), rtol=1e-5)


def test_zoo_recommended_k(tiny_zoo, tmp_path):
    from seqfusion.zoo import Zoo

    zoo = Zoo.load(tiny_zoo)
    zoo.info["forecaster"] = {"k": 2, "fusion": "median"}
    path = zoo.save(tmp_path / "rec")
    m = SeqFusion.from_pretrained(path)
    assert (m.k, m.fusion) == (2, "median")
    assert SeqFusion.from_pretrained(path, k=1, fusion=None).k == 1


def test_long_output_stamps_fixed_and_calendar_frequencies(model):
    rng = np.random.default_rng(0)
    for freq, expected in [("h", pd.Timestamp("2020-01-03 00:00")), ("D", pd.Timestamp("2020-02-18")),
                           ("MS", pd.Timestamp("2024-01-01")), ("W-SUN", pd.Timestamp("2020-12-06"))]:
        ds = pd.date_range("2020-01-01", periods=48, freq=freq)
        long = pd.DataFrame({"unique_id": np.repeat(["a", "b"], 48), "ds": np.tile(ds, 2),
                             "y": rng.normal(size=96)})
        out = model.predict(long, 3)
        got = out[out.unique_id == "b"]["ds"].iloc[0]
        assert got == ds[-1] + pd.tseries.frequencies.to_offset(freq), freq
        assert got == expected, freq
    ints = pd.DataFrame({"unique_id": "x", "ds": np.arange(0, 80, 2), "y": rng.normal(size=40)})
    assert model.predict(ints, 3)["ds"].tolist() == [80, 82, 84]


# ---------------------------------------------------------------------- options are validated
@pytest.mark.parametrize("option, value, message", [
    ("clip", 0, "clip must be None or a finite number > 0"),
    ("clip", -1.0, "clip must be None"),
    ("clip", float("nan"), "clip must be None"),
    ("min_length", 0, "min_length must be an integer in"),
    ("min_length", 1000, "min_length must be an integer in"),
    ("min_length", 2.5, "min_length must be an integer in"),
    ("k", True, "k must be an integer"),
    ("router_temperature", 0.0, "router_temperature must be"),
    ("temperature", -1.0, "temperature must be"),
    ("backtest", 0, "backtest must be"),
    ("candidates", 0, "candidates must be"),
    ("fusion", "vote", "fusion must be one of"),
])
def test_every_option_is_validated(tiny_zoo, panel, option, value, message):
    with pytest.raises(SeqFusionError, match=message):
        SeqFusion.from_pretrained(tiny_zoo, **{option: value})
    model = SeqFusion.from_pretrained(tiny_zoo)
    with pytest.raises(SeqFusionError, match=message):
        model.predict(panel, 3, **{option: value})


def test_unknown_options_are_one_line_errors(tiny_zoo, panel):
    with pytest.raises(SeqFusionError, match="unknown option.*bogus"):
        SeqFusion.from_pretrained(tiny_zoo, bogus=1)
    with pytest.raises(SeqFusionError, match="unknown option.*bogus"):
        SeqFusion.from_pretrained(tiny_zoo).predict(panel, 3, bogus=1)


@pytest.mark.parametrize("horizon", [True, False, 0, -3, 2.0, "5", None])
def test_horizon_must_be_a_positive_int(model, panel, horizon):
    with pytest.raises(SeqFusionError, match="horizon must be a positive integer"):
        model.predict(panel, horizon)


def test_per_call_min_length_is_used(tiny_zoo):
    model = SeqFusion.from_pretrained(tiny_zoo)
    short = np.sin(np.arange(5.0))
    with pytest.raises(SeqFusionError, match="at least 8"):
        model.predict(short, 3)
    assert model.predict(short, 3, min_length=4).shape == (3,)
    with pytest.raises(SeqFusionError, match="0 usable points"):
        model.predict(np.full(20, np.nan), 3, min_length=1)


def test_unknown_forecaster_setting_in_a_manifest_is_a_zoo_error(tiny_zoo, tmp_path):
    import json
    import shutil

    from seqfusion.errors import ZooError

    folder = tmp_path / "z"
    shutil.copytree(tiny_zoo, folder)
    manifest = json.loads((folder / "zoo.json").read_text())
    manifest["info"]["forecaster"] = {"k": 2, "speed": "fast"}
    (folder / "zoo.json").write_text(json.dumps(manifest))
    with pytest.raises(ZooError, match="unknown forecaster setting.*speed"):
        SeqFusion.from_pretrained(folder)


# ---------------------------------------------------------------------- any scale
@pytest.mark.parametrize("scale, offset", [(1e-9, 0.0), (1e-12, 0.0), (1e-300, 0.0), (1.0, 1e14),
                                           (1e200, 0.0), (1e300, 0.0), (2.0, 1e6), (1e-9, 1e-6)])
def test_forecasts_are_scale_and_shift_equivariant_at_any_magnitude(model, panel, scale, offset):
    base = model.predict(panel, 12)
    moved = model.predict(panel * scale + offset, 12)
    assert np.isfinite(moved).all()
    # inputs are quantized by ulp(offset); allow that plus float32 model arithmetic
    spread = np.ptp(panel, axis=0) * abs(scale)
    tol = 1e-4 * spread + 64 * np.finfo(float).eps * abs(offset)
    assert (np.abs(moved - (base * scale + offset)) <= tol).all()


def test_unforecastable_magnitudes_are_clear_errors(model):
    x = np.sin(np.arange(40.0))
    with pytest.raises(SeqFusionError, match="too large for float64"):
        model.predict(np.where(x > -0.9, 1.7e308, -1.7e308), 3, history="last")
    # the whole-history path works on power-of-two rescaled histories: finite, or a clear error
    try:
        out = model.predict_quantiles(np.where(x > -0.9, 1.7e308, -1.7e308), 3)
        assert np.isfinite(out).all()
    except SeqFusionError as exc:
        assert "overflow" in str(exc) or "too large" in str(exc)
    # a drift member extends a ramp ending at the float64 maximum beyond it
    from seqfusion.training.extractor import Extractor
    from seqfusion.training.members import classical_member
    from seqfusion.zoo import Zoo

    ext = Extractor(d_model=8, d_ff=16, dim=4, n_layers=1, n_heads=2)
    drift = classical_member("drift", "drift", ext, synthetic_windows("trend", 8, seed=1))
    zoo = Zoo({"input_length": 36, "d_model": 8, "d_ff": 16, "dim": 4, "n_layers": 1, "n_heads": 2}, ext,
              [drift])
    with pytest.raises(SeqFusionError, match="overflows float64"):
        SeqFusion(zoo, k=1).predict(np.linspace(0, 1.7e308, 40), 30)
    assert np.isfinite(SeqFusion(zoo, k=1).predict(np.linspace(0, 1e300, 40), 30)).all()


def test_complex_input_is_refused(model):
    with pytest.raises(SeqFusionError, match="complex"):
        model.predict(np.exp(1j * np.arange(40.0)), 3)


def test_daily_frame_gets_the_same_forecast_as_with_freq_d():
    """The default zoo routes by frequency: inference from (pandas 3, microsecond) stamps
    must match an explicit ``freq="D"``."""
    m = SeqFusion.from_pretrained()
    ds = pd.date_range("2020-01-01", periods=60, freq="D").as_unit("us")
    df = pd.DataFrame({"date": ds, "a": np.sin(np.arange(60) / 3) + np.arange(60) * 0.1})
    np.testing.assert_array_equal(m.predict(df, 5)["a"], m.predict(df, 5, freq="D")["a"])
    assert not np.array_equal(m.predict(df["a"].to_numpy(), 5, freq="h"), m.predict(df, 5, freq="D")["a"])
    with pytest.raises(SeqFusionError, match="freq 'h' .hourly. does not match the time stamps of series 'a', "
                                             "which are daily"):
        m.predict(df, 5, freq="h")


# ---------------------------------------------------------------------- batch invariance
@pytest.fixture(scope="module")
def shipped():
    return SeqFusion.from_pretrained()


def test_a_series_gets_the_same_bits_in_any_batch(shipped):
    """The shipped zoo (its real shapes): a series' forecast does not depend on the other
    series of the call, their order or count, nor on the engine's threads."""
    rng = np.random.default_rng(11)
    y = np.cumsum(rng.standard_normal((36, 700)), axis=0) + 50
    full = shipped.predict(y, 48, freq="D")
    perm = rng.permutation(700)
    np.testing.assert_array_equal(shipped.predict(y[:, perm], 48, freq="D"), full[:, perm])
    for lo, size in [(0, 1), (5, 2), (100, 37), (300, 257), (699, 1)]:
        np.testing.assert_array_equal(shipped.predict(y[:, lo:lo + size], 48, freq="D"), full[:, lo:lo + size])
    np.testing.assert_array_equal(shipped.predict(y[:, 3], 48, freq="D"), full[:, 3])


def test_whole_histories_get_the_same_bits_in_any_batch(shipped):
    rng = np.random.default_rng(12)
    hists = [np.cumsum(rng.standard_normal(n)) + 100 + 10 * np.sin(np.arange(n) * 2 * np.pi / 12)
             for n in rng.integers(20, 240, size=120)]
    hists += [h[-100:] * 1.5 for h in hists[:40]]  # many histories of one length
    full = shipped.predict_histories(hists, 18, freq="MS")
    perm = rng.permutation(len(hists))
    np.testing.assert_array_equal(shipped.predict_histories([hists[i] for i in perm], 18, freq="MS"), full[perm])
    for i in (0, 7, 130):
        np.testing.assert_array_equal(shipped.predict_histories([hists[i]], 18, freq="MS")[0], full[i])
    # mixed frequencies: the cycle means of daily and hourly histories are forecast 2 and 1
    # cycles ahead; a series' bits do not depend on the others' seasons
    mixed = [hists[i] for i in range(6)] + [np.cumsum(rng.standard_normal(400)) + np.sin(np.arange(400) / 3.8)
                                             for _ in range(4)]
    freqs = ["D", "h", "W", "D", "h", "MS", "D", "h", "D", "h"]
    both = shipped.predict_histories(mixed, 14, freq=freqs)
    for i in (0, 1, 7):
        np.testing.assert_array_equal(shipped.predict_histories([mixed[i]], 14, freq=[freqs[i]])[0], both[i])
    panel = np.stack([h[-60:] for h in hists if len(h) >= 60][:30], axis=1)  # [T, N]: quantiles too
    qs = shipped.predict_quantiles(panel, 18, freq="MS")
    np.testing.assert_array_equal(shipped.predict_quantiles(panel[:, 4:6], 18, freq="MS"), qs[:, 4:6])


def test_exact_false_rounds_alike(shipped):
    rng = np.random.default_rng(13)
    y = np.cumsum(rng.standard_normal((36, 300)), axis=0) + 50
    fast = SeqFusion.from_pretrained(exact=False)
    np.testing.assert_allclose(fast.predict(y, 24, freq="D"), shipped.predict(y, 24, freq="D"), rtol=1e-5)
    np.testing.assert_allclose(shipped.predict(y, 24, freq="D", exact=False), shipped.predict(y, 24, freq="D"),
                               rtol=1e-5)
    with pytest.raises(SeqFusionError, match="exact must be True or False"):
        SeqFusion.from_pretrained(exact="yes")
