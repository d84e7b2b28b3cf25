"""GIFT-Eval protocol: seasonality, horizons, window splitting, MASE and WQL on hand-computable
cases, the published-results extraction, and M4 hourly SeasonalNaive against the published value."""
from __future__ import annotations

import json
import math
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from benchmarks.gift import protocol as P
from benchmarks.gift import published
from benchmarks.gift.seasonal_naive import published_seasonal_naive, score, seasonal_naive

GIFT = Path(P.__file__).resolve().parent


@pytest.mark.parametrize("freq, season", [
    ("H", 24), ("h", 24), ("2h", 12), ("5T", 288), ("5min", 288), ("15T", 96), ("10T", 144),
    ("7T", 1), ("10S", 360), ("10s", 360), ("D", 1), ("W", 1), ("W-WED", 1), ("M", 12), ("ME", 12),
    ("MS", 12), ("Q", 4), ("QE-DEC", 4), ("A", 1), ("Y", 1), ("A-DEC", 1), ("B", 5),
])
def test_seasonality_table(freq: str, season: int) -> None:
    assert P.seasonality(freq) == season


def test_unknown_frequency_rejected() -> None:
    with pytest.raises(ValueError):
        P.seasonality("fortnight")


@pytest.mark.parametrize("dataset, freq, term, horizon", [
    ("m4_hourly", "H", "short", 48), ("m4_weekly", "W", "short", 13), ("m4_yearly", "A", "short", 6),
    ("m4_daily", "D", "short", 14), ("hospital", "M", "short", 12), ("ett1/H", "H", "medium", 480),
    ("ett1/H", "H", "long", 720), ("ett1/D", "D", "short", 30), ("solar/10T", "10T", "long", 720),
    ("bizitobs_application", "10S", "short", 60), ("hierarchical_sales/W", "W-WED", "short", 8),
])
def test_prediction_length(dataset: str, freq: str, term: str, horizon: int) -> None:
    assert P.prediction_length(dataset, freq, term) == horizon


@pytest.mark.parametrize("dataset, min_length, horizon, windows", [
    ("m4_hourly", 748, 48, 1),      # M4: always one window
    ("ett1/H", 17420, 48, 20),      # ceil(36.3) capped at 20
    ("ett1/H", 17420, 480, 4),      # ceil(3.63)
    ("ett1/H", 17420, 720, 3),      # ceil(2.42)
    ("ett1/D", 725, 30, 3),         # ceil(2.42)
    ("car_parts", 51, 12, 1),       # ceil(0.425)
    ("tiny", 3, 12, 1),             # at least one
    ("x", 240, 12, 2),              # exactly 2.0
])
def test_num_windows(dataset: str, min_length: int, horizon: int, windows: int) -> None:
    assert P.num_windows(dataset, min_length, horizon) == windows


def test_split_windows_counts_and_positions() -> None:
    a = np.arange(10.0)
    b = np.arange(100.0, 113.0)
    ws = P.split_windows([a, b], horizon=2, n_windows=3)
    assert len(ws) == 6
    assert [(w.series, w.index, w.cut) for w in ws] == [
        (0, 0, 4), (0, 1, 6), (0, 2, 8), (1, 0, 7), (1, 1, 9), (1, 2, 11)]
    first, last = ws[0], ws[2]
    np.testing.assert_array_equal(first.history, [0, 1, 2, 3])
    np.testing.assert_array_equal(first.future, [4, 5])
    np.testing.assert_array_equal(last.history, np.arange(8.0))
    np.testing.assert_array_equal(last.future, [8, 9])          # the last window ends at the end
    np.testing.assert_array_equal(ws[3].future, [107, 108])
    for w in ws:                                                  # future follows history directly
        assert len(w.future) == 2
        src = a if w.series == 0 else b
        np.testing.assert_array_equal(np.concatenate([w.history, w.future]), src[: w.cut + 2])


def test_split_windows_needs_enough_data() -> None:
    with pytest.raises(ValueError):
        P.split_windows([np.arange(5.0)], horizon=2, n_windows=3)
    ws = P.split_windows([np.arange(6.0)], horizon=2, n_windows=3)
    assert ws[0].cut == 0 and ws[0].history.size == 0


def test_seasonal_error_hand_cases() -> None:
    y = np.array([1.0, 2.0, 4.0, 7.0])
    assert P.seasonal_error(y, 1) == pytest.approx(2.0)          # |1|,|2|,|3|
    assert P.seasonal_error(y, 2) == pytest.approx(4.0)          # |4-1|, |7-2|
    assert math.isnan(P.seasonal_error(y, 4))                    # m == length: no pair (m > length only -> 1)
    assert P.seasonal_error(y, 5) == pytest.approx(2.0)          # m > length -> m = 1
    assert P.seasonal_error(np.array([1.0, np.nan, 4.0, 6.0]), 1) == pytest.approx(2.0)  # only |6-4|
    assert math.isnan(P.seasonal_error(np.array([np.nan, 1.0]), 1))


def test_mase_hand_case() -> None:
    h1 = np.array([0.0, 2.0, 1.0, 3.0])            # m=2: |1-0|, |3-2| -> seasonal error 1
    h2 = np.array([5.0, 5.0, 5.0, 5.0])            # seasonal error 0: left out
    h3 = np.array([0.0, 0.0, 2.0, 4.0])            # m=2: |2|, |4| -> 3
    ws = [P.Window(0, 0, 4, h1, np.array([4.0, 5.0])),
          P.Window(1, 0, 4, h2, np.array([9.0, 9.0])),
          P.Window(2, 0, 4, h3, np.array([np.nan, 10.0]))]
    point = np.array([[3.0, 3.0], [0.0, 0.0], [0.0, 1.0]])
    # points: 1/1, 2/1, 9/3 (the NaN label and the zero-scale window are skipped)
    assert P.mase(ws, point, 2) == pytest.approx((1 + 2 + 3) / 3)


def test_mase_rejects_nan_forecasts() -> None:
    ws = [P.Window(0, 0, 3, np.array([1.0, 2.0, 3.0]), np.array([4.0]))]
    with pytest.raises(ValueError):
        P.mase(ws, np.array([[np.nan]]), 1)


def test_weighted_quantile_loss_hand_case() -> None:
    y = np.array([[2.0, 4.0]])
    f = np.array([[[1.0, 5.0]]])                      # one level, q = 0.5
    # 2|(2-1)(0-0.5)| + 2|(4-5)(1-0.5)| = 1 + 1; / (2 + 4)
    assert P.weighted_quantile_loss(y, f, [0.5]) == pytest.approx(2 / 6)
    f2 = np.array([[[1.0, 5.0], [3.0, 3.0]]])         # levels 0.1 and 0.9
    # q=0.1: 2*1*0.1 + 2*1*0.9 = 2.0 ; q=0.9: 2*1*0.1 + 2*1*0.9 = 2.0 -> both 2/6
    assert P.weighted_quantile_loss(y, f2, [0.1, 0.9]) == pytest.approx(2 / 6)
    perfect = np.repeat(y[:, None, :], 9, axis=1)
    assert P.weighted_quantile_loss(y, perfect) == 0.0
    y_nan = np.array([[2.0, np.nan]])
    assert P.weighted_quantile_loss(y_nan, np.array([[[1.0, 100.0]]]), [0.5]) == pytest.approx(1 / 2)


def test_last_value_impute() -> None:
    np.testing.assert_array_equal(P.last_value_impute(np.array([np.nan, 1, np.nan, 3, np.nan])), [1, 1, 1, 3, 3])
    np.testing.assert_array_equal(P.last_value_impute(np.array([np.nan, np.nan])), [0, 0])
    np.testing.assert_array_equal(P.last_value_impute(np.array([1.0, 2.0])), [1, 2])


def test_seasonal_naive_repeats_last_season() -> None:
    history = np.array([1.0, 2.0, 3.0, 1.5, 2.5, 3.5])
    point, q = seasonal_naive(history, horizon=7, m=3)
    np.testing.assert_allclose(point, [1.5, 2.5, 3.5, 1.5, 2.5, 3.5, 1.5])
    np.testing.assert_allclose(q[4], point)                               # the median is the point forecast
    sigma = 0.5                                                            # residuals y[t]-y[t-3] all 0.5
    z90 = 1.2815515655446004
    np.testing.assert_allclose(q[8] - point, z90 * sigma * np.sqrt([1, 1, 1, 2, 2, 2, 3]))
    assert np.all(np.diff(q, axis=0) >= 0)
    p1, _ = seasonal_naive(np.array([4.0, np.nan]), horizon=2, m=12)       # short history: last value
    np.testing.assert_allclose(p1, [4.0, 4.0])


def test_score_on_synthetic_task() -> None:
    # y[t] = t % 4 + t // 4 + 10k: each season repeats the last one plus 1, so with m = 4 the
    # seasonal error is 1, every one-season-ahead error is 1 (MASE 1), the in-sample sigma is 1
    t = np.arange(24.0)
    series = [t % 4 + t // 4 + 10 * k for k in range(3)]
    ws = P.split_windows(series, horizon=4, n_windows=2)
    cfg = P.Config("synthetic", "synthetic", "Q", "short", lambda root: series)
    task = P.Task(cfg, 4, 2, 4, 3, 24, ws)
    out = score(task)
    assert out["mase"] == pytest.approx(1.0)
    z = np.array([NormalDist().inv_cdf(q) for q in P.QUANTILES])
    q = np.array(P.QUANTILES)
    # quantile f_q = y - 1 + z_q, so y - f_q = 1 - z_q at every point
    per_level = 2 * np.abs((1 - z) * ((z >= 1).astype(float) - q))
    mean_abs_y = np.mean(np.abs(task.futures))
    assert out["crps"] == pytest.approx(float(np.mean(per_level / mean_abs_y)))


def test_configs_names_and_horizons() -> None:
    names = set(P.CONFIGS)
    assert {"m4_hourly/H/short", "hospital/M/short", "car_parts/M/short", "ett1/D/short", "ett2/W/short",
            "ett1/H/long"} <= names
    for name, cfg in P.CONFIGS.items():
        assert cfg.name == name
        assert cfg.match in ("same", "approximate")
        P.prediction_length(cfg.dataset, cfg.freq, cfg.term)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_published_extraction_on_a_small_checkout(tmp_path: Path) -> None:
    head = f"dataset,model,{published.MASE},{published.CRPS},domain,num_variates\n"
    root = tmp_path / "gift-eval"
    _write(root / "results/seasonal_naive/all_results.csv",
           head + "a/H/short,Seasonal_Naive,2.0,0.5,X,1\nb/D/short,Seasonal_Naive,1.0,0.2,X,1\n")
    _write(root / "results/seasonal_naive/config.json", json.dumps({"testdata_leakage": "No"}))
    _write(root / "results/good/all_results.csv",
           head + "b/D/short,Good,0.5,0.1,X,1\na/H/short,Good,1.0,0.5,X,1\n")
    _write(root / "results/good/config.json", json.dumps({"model_type": "zero-shot", "testdata_leakage": "Yes"}))
    _write(root / "results/odd/all-results.csv", " dataset,model," + head.split(",", 2)[2]
           + "a/H/short,Odd,4.0,1.0,X,1\n")
    out = tmp_path / "out"
    meta = published.run(root, out_dir=out, models=["good", "seasonal_naive", "absent"])
    assert meta["models"] == ["good", "seasonal_naive"] and meta["models_requested_but_absent"] == ["absent"]
    assert meta["folders"]["odd"]["results_file"] == "all-results.csv"
    df = pd.read_csv(out / "published.csv")
    assert len(df) == 4 and set(df["testdata_leakage"]) == {"Yes", "No"}
    rows = {r["model"]: r for r in published.summary_rows(published.read_all(published.Source(root)), ["good", "odd"])}
    assert rows["good"]["mase_rel"] == pytest.approx(math.sqrt(0.5 * 0.5))   # ratios 1.0/2.0 and 0.5/1.0
    assert rows["good"]["crps_rel"] == pytest.approx(math.sqrt(1.0 * 0.5))
    assert rows["odd"]["configs"] == 1 and rows["odd"]["mase_rel"] == pytest.approx(2.0)
    assert "| good |" in (out / "published_summary.md").read_text()


def test_committed_published_files_agree() -> None:
    meta = json.loads((GIFT / "published.json").read_text())
    assert len(meta["commit"]) == 40
    df = pd.read_csv(GIFT / "published.csv")
    assert {published.MASE, published.CRPS, "testdata_leakage", "model", "dataset"} <= set(df.columns)
    assert sorted(df["model"].unique()) == sorted(meta["models"])
    assert not df.duplicated(["model", "dataset"]).any()
    sn = df[df["model"] == "seasonal_naive"]
    assert len(sn) == 97
    assert sn.set_index("dataset").loc["m4_hourly/H/short", published.MASE] == pytest.approx(1.193, abs=5e-4)


@pytest.mark.data
def test_m4_hourly_seasonal_naive_matches_published() -> None:
    try:
        task = P.build_task("m4_hourly/H/short")
    except FileNotFoundError as err:
        pytest.fail(f"data not available: {err}")
    assert (task.n_series, task.n_windows, task.horizon, task.season) == (414, 1, 48, 24)
    ours = score(task)
    ref = published_seasonal_naive(GIFT / "published.csv").loc["m4_hourly/H/short"]
    assert ours["mase"] == pytest.approx(ref[published.MASE], abs=1e-3)
    assert ours["crps"] == pytest.approx(ref[published.CRPS], abs=1e-3)
