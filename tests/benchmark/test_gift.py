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


# ---------------------------------------------------------------------------
# evaluate.py: the scoring glue around a forecaster (a stand-in model, no data)

class _LastValueModel:
    """Stands in for SeqFusion: point = last present value; quantile q = point + (q - 0.5) * spread."""

    min_length = 4

    def __init__(self, spread: float = 2.0) -> None:
        self.spread = spread
        self.calls: list[dict] = []

    def predict_histories(self, histories, horizon, freq=None, k=None, quantiles=None):
        self.calls.append({"lengths": [len(h) for h in histories], "horizon": horizon, "freq": freq,
                           "quantiles": quantiles, "nan": [bool(np.isnan(h).any()) for h in histories]})
        last = np.array([h[np.isfinite(h)][-1] for h in histories])
        point = np.repeat(last[:, None], horizon, axis=1)
        if quantiles is None:
            return point
        q = np.asarray(quantiles)
        return point[:, :, None] + (q - 0.5)[None, None, :] * self.spread


def _synthetic_task(name: str = "m4_hourly/H/short", n_windows: int = 2, horizon: int = 3, season: int = 2):
    rng = np.random.default_rng(0)
    series = [np.cumsum(rng.normal(size=30)) + 50 + 10 * k for k in range(3)]
    series[1][4] = np.nan                                          # a missing value the model must receive
    base = P.CONFIGS[name]
    cfg = P.Config(base.dataset, base.key, base.freq, base.term, lambda root: series, "synthetic", base.match)
    ws = P.split_windows(series, horizon, n_windows)
    return P.Task(cfg, horizon, n_windows, season, len(series), 30, ws)


def test_evaluate_pandas_freq() -> None:
    from benchmarks.gift.evaluate import pandas_freq

    assert [pandas_freq(f) for f in ("H", "h", "2H", "D", "W", "M", "Q", "A", "10T", "10S")] == [
        "h", "h", "2h", "D", "W", "M", "Q", "Y", "10min", "10s"]
    with pytest.raises(ValueError):
        pandas_freq("L")
    for cfg in P.CONFIGS.values():                                  # every rebuilt config has one
        pandas_freq(cfg.freq)


def test_evaluate_forecast_passes_whole_histories_and_scores() -> None:
    from benchmarks.gift.evaluate import forecast, score_forecasts

    task = _synthetic_task()
    model = _LastValueModel()
    fc = forecast(model, task)
    assert len(model.calls) == 2                                     # with quantiles, then the point forecast
    first, second = model.calls
    assert first["lengths"] == [w.cut for w in task.windows]         # each window's whole history
    assert first["horizon"] == 3 and first["freq"] == "h" and second["freq"] == "h"
    assert first["quantiles"] == list(P.QUANTILES) and second["quantiles"] is None
    assert any(first["nan"]) and fc["filled"] == 0                   # missing values go to the model as they are
    assert fc["quantiles"].shape == (len(task.windows), 9, 3) and fc["point"].shape == (len(task.windows), 3)
    out = score_forecasts(task, fc["quantiles"], fc["point"])
    np.testing.assert_allclose(fc["quantiles"][:, 4, :], fc["point"])
    assert out["mase"] == pytest.approx(P.mase(task.windows, fc["point"], task.season))
    assert out["mase_point"] == pytest.approx(out["mase"]) and out["median_point_gap"] == 0.0
    # CRPS from the [n, Q, H] layout: level k is point + (q_k - 0.5) * 2
    q = np.array(P.QUANTILES)
    manual = np.stack([fc["point"] + (qk - 0.5) * 2.0 for qk in q], axis=1)
    assert out["crps"] == pytest.approx(P.weighted_quantile_loss(task.futures, manual))
    y = task.futures
    by_hand = np.mean([np.sum(2 * np.abs((y - f) * ((f >= y) - qk))) / np.sum(np.abs(y))
                       for qk, f in zip(q, manual.transpose(1, 0, 2))])
    assert out["crps"] == pytest.approx(by_hand)


def test_evaluate_perfect_forecasts_score_zero() -> None:
    from benchmarks.gift.evaluate import score_forecasts

    task = _synthetic_task()
    y = task.futures
    out = score_forecasts(task, np.repeat(y[:, None, :], 9, axis=1), y)
    assert out["mase"] == 0.0 and out["mase_point"] == 0.0 and out["crps"] == 0.0
    with pytest.raises(ValueError):                                  # MASE needs the median
        score_forecasts(task, np.repeat(y[:, None, :], 2, axis=1), y, quantiles=[0.1, 0.9])


def test_evaluate_fills_only_too_short_histories() -> None:
    from benchmarks.gift.evaluate import model_histories

    h_ok = np.array([1.0, np.nan, 3.0, 4.0, 5.0])
    h_short = np.array([np.nan, np.nan, 2.0, np.nan, 6.0])
    cfg = P.CONFIGS["hospital/M/short"]
    task = P.Task(cfg, 1, 1, 12, 2, 6, [P.Window(0, 0, 5, h_ok, np.array([6.0])),
                                         P.Window(1, 0, 5, h_short, np.array([7.0]))])
    out, filled = model_histories(task, min_length=4)
    assert filled == 1
    assert np.isnan(out[0][1])                                       # enough values: passed as it is
    np.testing.assert_array_equal(out[1], [2, 2, 2, 2, 6])           # last value, leading from the first


def test_evaluate_ratios_and_geomeans() -> None:
    from benchmarks.gift.evaluate import OURS, geomean, geomeans, relative_scores

    pub = pd.DataFrame({"model": ["seasonal_naive", "seasonal_naive", "good", "good"],
                        "config": ["a/H/short", "b/D/short", "a/H/short", "b/D/short"],
                        "mase": [2.0, 1.0, 1.0, 0.5], "crps": [0.4, 0.2, 0.1, 0.2],
                        "leakage": "No", "type": "x"}).set_index(["model", "config"])
    ours = {"a/H/short": {"mase": 1.0, "crps": 0.2}, "b/D/short": {"mase": 2.0, "crps": 0.1}}
    rel = relative_scores(ours, pub, ["a/H/short", "b/D/short"], models=["good", "seasonal_naive", "absent"])
    assert rel[OURS]["a/H/short"] == {"mase": 0.5, "crps": 0.5}
    assert rel[OURS]["b/D/short"] == {"mase": 2.0, "crps": 0.5}
    assert rel["seasonal_naive"]["b/D/short"] == {"mase": 1.0, "crps": 1.0}
    assert math.isnan(rel["absent"]["a/H/short"]["mase"])
    gm = geomeans(rel, ["a/H/short", "b/D/short"])
    assert gm[OURS]["mase"] == pytest.approx(1.0) and gm[OURS]["crps"] == pytest.approx(0.5)
    assert gm["good"]["mase"] == pytest.approx(0.5) and gm["good"]["crps"] == pytest.approx(math.sqrt(0.25))
    assert math.isnan(gm["absent"]["mase"]) and math.isnan(geomean([]))


def test_evaluate_leakage_marks_from_a_manifest() -> None:
    from benchmarks.gift.evaluate import leakage, zoo_roles

    manifest = {
        "ptms": [{"name": "hospital_dlinear", "source": "hospital"}, {"name": "naive", "source": ""}],
        "info": {
            "pruned": ["m4_hourly_patchtst"],
            "config": {"members": [{"name": "m4_hourly_patchtst", "source": "m4_hourly"},
                                   {"name": "hospital_dlinear", "source": "hospital"}]},
            "extractor_training": {"pool_counts": {"fred_md@12": 3, "hospital": 5}},
            "transfer": {"cols": ["hospital", "m4_hourly"]},
            "router": {"groups": {"carparts": 230, "hospital": 3000}},
        },
    }
    roles = zoo_roles(manifest)
    assert roles["hospital"] == ["member", "extractor", "transfer matrix", "router"]
    assert roles["m4_hourly"] == ["pruned member", "transfer matrix"]
    assert roles["fred_md"] == ["extractor"] and "" not in roles
    assert leakage("hospital/M/short", roles)["mark"] == "yes, incl. test"
    assert leakage("car_parts/M/short", roles) == {"mark": "yes, incl. test", "sources": {"carparts": ["router"]}}
    assert leakage("m4_hourly/H/short", roles)["mark"] == "yes, histories"     # the train file only
    assert leakage("m4_weekly/W/short", roles)["mark"] == "no"
    assert leakage("ett1/D/short", roles) == {"mark": "no", "sources": {}}
    assert leakage("electricity/H/short", roles)["mark"] == "unknown"


def test_evaluate_rows_comparison_and_report() -> None:
    from benchmarks.gift.evaluate import OURS, comparison, evaluate_task, markdown, published_table

    published = published_table(GIFT / "published.csv")
    roles = {"m4_hourly": ["router"]}
    rows = [evaluate_task(_LastValueModel(), _synthetic_task("m4_hourly/H/short"), roles, published),
            evaluate_task(_LastValueModel(), _synthetic_task("ett1/D/short"), roles, published),
            evaluate_task(_LastValueModel(), _synthetic_task("solar/W/short"), roles, published)]
    assert [r["trained_on"]["mark"] for r in rows] == ["yes, histories", "no", "no"]
    assert rows[0]["published_snaive_mase"] == pytest.approx(1.1932, abs=1e-4)
    cmp_ = comparison(rows, published)
    assert cmp_["same"]["configs"] == ["m4_hourly/H/short", "ett1/D/short"]
    assert cmp_["same"]["configs_not_trained_on"] == ["ett1/D/short"]
    assert cmp_["approximate"]["configs"] == ["solar/W/short"]
    rel = cmp_["same"]["relative"]
    assert rel[OURS]["m4_hourly/H/short"]["mase"] == pytest.approx(rows[0]["mase"] / rows[0]["published_snaive_mase"])
    assert rel["seasonal_naive"]["ett1/D/short"]["crps"] == pytest.approx(1.0)
    solar = cmp_["approximate"]["relative"][OURS]["solar/W/short"]   # ours over our SeasonalNaive
    assert solar["mase"] == pytest.approx(rows[2]["mase"] / rows[2]["snaive_mase"])
    gm = cmp_["same"]["geomean"][OURS]["mase"]
    assert gm == pytest.approx(math.sqrt(rel[OURS]["m4_hourly/H/short"]["mase"] * rel[OURS]["ett1/D/short"]["mase"]))
    res = {
        "generated_by": "test", "gift_eval_commit": "x", "configs": rows, "comparison": cmp_,
        "provenance": {"commit": "c", "dirty": True, "dirty_paths": ["a"], "benchmark_code_dirty": False,
                       "code": {"source": "working tree", "commit": "c", "dirty": True, "modified": ["a"]}},
        "zoo": {"name": "test", "path": "z", "built": "now", "manifest_sha256": None, "members": ["m"],
                "settings": {"k": 1}},
        "versions": {"python": "3"}, "machine": {"cpus": 2, "niceness": 10},
        "seconds": {"total": 1.0, "model_load": 0.5},
    }
    text = markdown(res)
    assert "| **seqfusion** |" in text and "geo-mean (2)" in text and "not trained on (1)" in text
    assert "| solar/W/short | no |" in text and "| m4_hourly/H/short | yes, histories | m4_hourly: router |" in text
