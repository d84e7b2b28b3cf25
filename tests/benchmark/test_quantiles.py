"""Quantile benchmark: WQL / coverage / width on known answers, the quantile baselines, and
end-to-end runs of ``realuse --quantiles`` and ``multivariate --quantiles`` on toy data.

Tests marked ``baselines`` need statsforecast; tests marked ``data`` read the shared data
folder (they fail, never skip, without it).
"""
from __future__ import annotations

import json
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd
import pytest

from benchmarks.harness import quantiles as qs
from benchmarks.harness.baselines import SeasonalNaive
from benchmarks.harness.quantile_methods import (
    MethodUnavailable,
    SeasonalNaiveQuantiles,
    SeqFusionQuantiles,
    StatsForecastQuantiles,
    levels_to_grid,
)

Q = np.array(qs.QUANTILES)


def normal_grid(mu: np.ndarray, sigma: float) -> np.ndarray:
    """True quantiles of N(mu, sigma^2) on the grid: ``mu [...]`` -> ``[..., Q]``."""
    z = np.array([NormalDist().inv_cdf(q) for q in qs.QUANTILES])
    return np.asarray(mu)[..., None] + sigma * z


# ------------------------------------------------------------------ metrics


def test_level_mapping() -> None:
    assert qs.level_bounds(80) == (0.1, 0.9)
    assert qs.level_bounds(95) == (0.025, 0.975)
    assert [qs.level_bounds(lv) for lv in (20, 40, 60)] == [(0.4, 0.6), (0.3, 0.7), (0.2, 0.8)]
    got = sorted({q for lv in qs.LEVELS for q in qs.level_bounds(lv)} | {0.5})
    assert got == pytest.approx(list(qs.QUANTILES))
    with pytest.raises(ValueError):
        qs.level_bounds(100)


def test_perfect_forecast_has_zero_wql_and_full_coverage() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(5, 1, (20, 6))
    pred = np.repeat(y[..., None], len(Q), axis=2)
    assert qs.wql(y, pred) == 0.0
    s = qs.summarize_sums(qs.window_sums(y, pred))
    assert s["wql"] == 0.0 and s["coverage_80"] == 1.0 and s["coverage_95"] == 1.0
    assert s["width_80"] == 0.0 and s["crossing_points"] == 0 and s["n_points"] == 120


def test_wql_hand_computed() -> None:
    y = np.array([[2.0, 4.0]])
    pred = np.zeros((1, 2, len(Q)))  # every quantile 0: under-forecast by y
    # pinball_q = q * y, summed: q * 6; WQL = mean_q 2 q 6 / 6 = 2 * mean(0.1..0.9) = 1.0
    assert qs.wql(y, pred) == pytest.approx(1.0)
    pred = np.full((1, 2, len(Q)), 10.0)  # over-forecast: (1 - q)(10 - y) summed = (1 - q) 14
    assert qs.wql(y, pred) == pytest.approx(2 * 0.5 * 14 / 6)
    assert np.isnan(qs.wql(np.zeros((1, 2)), pred))


def test_wql_equals_utilsforecast_scaled_crps_on_one_group() -> None:
    from utilsforecast.losses import scaled_crps

    rng = np.random.default_rng(1)
    y = rng.gamma(2.0, 3.0, (15, 8))
    pred = np.sort(y[..., None] + rng.normal(0, 2, (15, 8, len(Q))), axis=2)
    df = pd.DataFrame({"unique_id": "all", "cutoff": 0, "y": y.reshape(-1)})
    cols = []
    for j, q in enumerate(qs.QUANTILES):
        if q in qs.WQL_QUANTILES:
            df[f"m_q{q}"] = pred[..., j].reshape(-1)
            cols.append(f"m_q{q}")
    ref = scaled_crps(df, {"m": cols}, np.array(qs.WQL_QUANTILES), cutoff_col="cutoff")
    assert qs.wql(y, pred) == pytest.approx(float(ref["m"].iloc[0]), rel=1e-9)
    # the window sums re-score any subset exactly
    s = qs.window_sums(y, pred)
    idx = np.array([0, 3, 4, 11])
    assert qs.summarize_sums(qs.take(s, idx))["wql"] == pytest.approx(qs.wql(y[idx], pred[idx]))


def test_coverage_matches_utilsforecast() -> None:
    from utilsforecast.losses import coverage

    rng = np.random.default_rng(2)
    y = rng.normal(0, 1, (10, 5))
    lo, hi = rng.normal(-1, 0.5, (10, 5)), rng.normal(1, 0.5, (10, 5))
    y[0, 0], y[1, 1] = lo[0, 0], hi[1, 1]  # ends are inside
    df = pd.DataFrame({"unique_id": "all", "cutoff": 0, "y": y.reshape(-1),
                       "m-lo-80": lo.reshape(-1), "m-hi-80": hi.reshape(-1)})
    ref = float(coverage(df, ["m"], 80, cutoff_col="cutoff")["m"].iloc[0])
    assert qs.coverage(y, lo, hi) == pytest.approx(ref)


def test_true_gaussian_quantiles_cover_near_nominal_and_minimize_wql() -> None:
    rng = np.random.default_rng(3)
    n, H, sigma = 20_000, 10, 2.0
    mu = rng.normal(10, 3, (n, 1)) + np.zeros((1, H))
    y = mu + rng.normal(0, sigma, (n, H))
    true = normal_grid(mu, sigma)
    s = qs.summarize_sums(qs.window_sums(y, true, np.full(n, sigma)))
    assert s["coverage_80"] == pytest.approx(0.80, abs=0.01)
    assert s["coverage_95"] == pytest.approx(0.95, abs=0.005)
    # width of the 80% interval: 2 * 1.2816 sigma, divided by the scale (sigma)
    assert s["width_80"] == pytest.approx(2 * NormalDist().inv_cdf(0.9), rel=1e-9)
    # proper: too narrow and too wide both score worse; narrow-and-wrong shows in coverage
    narrow = qs.summarize_sums(qs.window_sums(y, normal_grid(mu, sigma / 3)))
    wide = qs.summarize_sums(qs.window_sums(y, normal_grid(mu, sigma * 3)))
    assert narrow["wql"] > s["wql"] and wide["wql"] > s["wql"]
    assert narrow["coverage_80"] < 0.4 and wide["coverage_80"] > 0.99


def test_crossing_quantiles_are_sorted_and_counted() -> None:
    y = np.array([[1.0, 2.0, 3.0]])
    good = normal_grid(np.array([[1.0, 2.0, 3.0]]), 1.0)
    bad = good.copy()
    bad[0, 1] = bad[0, 1, ::-1]  # step 1 fully reversed
    fixed, n_cross = qs.sort_quantiles(bad)
    assert n_cross == 1 and np.array_equal(fixed, good)
    s = qs.window_sums(y, bad)
    assert s.crossing.tolist() == [1.0]
    assert qs.summarize_sums(s)["wql"] == pytest.approx(qs.wql(y, good))
    # sorting (rearrangement) never increases the loss of the crossed forecast
    unsorted = np.mean([2 * qs.pinball(y, bad[..., qs.quantile_index(q)], q).sum() / 6
                        for q in qs.WQL_QUANTILES])
    assert qs.wql(y, good) <= unsorted
    with pytest.raises(ValueError):
        qs.sort_quantiles(good, qs.QUANTILES[::-1])
    with pytest.raises(ValueError):
        qs.sort_quantiles(good[..., :5])


def test_summary_pools_coverage_and_geomeans_relative_wql() -> None:
    rows: list[dict[str, Any]] = [
        {"method": "A", "dataset": "d1", "relative_wql": 0.5, "n_points": 100, "inside_80": 90, "inside_95": 99,
         "coverage_80": 0.9, "coverage_95": 0.99, "width_80": 2.0, "width_95": 3.0},
        {"method": "A", "dataset": "d2", "relative_wql": 2.0, "n_points": 300, "inside_80": 150, "inside_95": 270,
         "coverage_80": 0.5, "coverage_95": 0.9, "width_80": 4.0, "width_95": 5.0},
    ]
    sm = qs.summary(rows, ["d1", "d2"])["A"]
    assert sm["geomean_relative_wql"] == pytest.approx(1.0)
    assert sm["coverage_80_pooled"] == pytest.approx(240 / 400)
    assert sm["coverage_80_mean"] == pytest.approx(0.7)
    assert sm["coverage_80_min"] == 0.5 and sm["coverage_80_min_dataset"] == "d2"
    assert sm["width_80_mean"] == pytest.approx(3.0)


# ------------------------------------------------------------------ SeasonalNaive quantiles


@pytest.mark.parametrize("kind", ["normal", "empirical"])
def test_snaive_quantiles_shapes_monotone_and_median(kind: str) -> None:
    rng = np.random.default_rng(4)
    t = np.arange(60)
    ctx = [np.sin(2 * np.pi * t[:n] / 7) + rng.normal(0, 0.3, n) for n in (60, 40, 40, 9, 7, 3, 1)]
    m = SeasonalNaiveQuantiles(7, kind)
    pred = m(ctx, 20)
    assert pred.shape == (7, 20, len(Q)) and np.isfinite(pred).all()
    assert (np.diff(pred, axis=2) >= 0).all()
    if kind == "normal":  # median = the point SeasonalNaive
        for c, p in zip(ctx, pred):
            np.testing.assert_allclose(p[:, qs.quantile_index(0.5)], SeasonalNaive(7)(c[None, :], 20)[0])
    # intervals widen by sqrt(floor(h / 7) + 1) (0-based step h)
    w = pred[0, :, -1] - pred[0, :, 0]
    np.testing.assert_allclose(w[7] / w[0], np.sqrt(2)) and np.testing.assert_allclose(w[14] / w[0], np.sqrt(3))
    # a single point has no error: all quantiles at the point forecast
    assert np.ptp(pred[-1], axis=1).max() == 0.0
    # a constant history: zero width
    flat = m([np.full(30, 4.0)], 5)
    assert np.all(flat == 4.0)


def test_snaive_quantiles_reject_bad_settings() -> None:
    with pytest.raises(ValueError):
        SeasonalNaiveQuantiles(0)
    with pytest.raises(ValueError):
        SeasonalNaiveQuantiles(7, "bootstrap")


def test_levels_to_grid_orders_the_bounds() -> None:
    res: dict[str, Any] = {"mean": np.zeros(3)}
    for lv in qs.LEVELS:
        lo, hi = qs.level_bounds(lv)
        res[f"lo-{lv}"] = np.full(3, NormalDist().inv_cdf(lo))
        res[f"hi-{lv}"] = np.full(3, NormalDist().inv_cdf(hi))
    grid = levels_to_grid(res, 3)
    np.testing.assert_allclose(grid[0], normal_grid(np.zeros(1), 1.0)[0], atol=1e-12)


@pytest.mark.baselines
def test_snaive_normal_equals_statsforecast_intervals() -> None:
    from statsforecast.models import SeasonalNaive as SFSeasonalNaive

    rng = np.random.default_rng(5)
    y = 10 + np.sin(2 * np.pi * np.arange(50) / 12) + rng.normal(0, 0.5, 50)
    for season in (12, 1):
        ours = SeasonalNaiveQuantiles(season)([y], 30)[0]
        theirs = levels_to_grid(SFSeasonalNaive(season_length=season).forecast(y=y, h=30, level=list(qs.LEVELS)), 30)
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)


@pytest.mark.baselines
def test_statsforecast_quantiles_and_conformal_fallback() -> None:
    rng = np.random.default_rng(6)
    y = 5 + np.sin(2 * np.pi * np.arange(80) / 7) + rng.normal(0, 0.3, 80)
    for model in ("AutoETS", "AutoTheta"):
        m = StatsForecastQuantiles(model, 7, cap=60)
        pred = np.sort(m([y, y[:30]], 10), axis=2)
        assert pred.shape == (2, 10, len(Q)) and np.isfinite(pred).all()
        assert m.stats["fits"] == 2 and m.stats["capped"] == 1 and m.horizon_invariant
    c = StatsForecastQuantiles("SeasonalNaive", 7, conformal_windows=5)
    assert not c.horizon_invariant and c.usable(36, 14) and not c.usable(36, 15)
    pred = c([y, y[:20]], 10)  # 20 points: too short for 2 windows of 10 -> fallback
    assert c.stats["fallbacks"] == 1 and (np.diff(pred, axis=2) >= 0).all()
    np.testing.assert_allclose(pred[1], SeasonalNaiveQuantiles(7)([y[:20]], 10)[0])
    assert c.stats["conformal_windows_max"] == 5


# ------------------------------------------------------------------ SeqFusion quantiles


def _fake_predict_histories(calls: list[dict[str, Any]]) -> Any:
    def predict_histories(self: Any, histories: list[np.ndarray], horizon: int, freq: Any = None,
                          quantiles: Any = None) -> np.ndarray:
        calls.append({"n": len(histories), "horizon": horizon, "freq": freq, "quantiles": quantiles,
                      "lengths": [len(h) for h in histories]})
        last = np.array([h[-1] for h in histories])
        sd = np.array([np.std(h) + 1e-3 for h in histories])
        point = np.repeat(last[:, None], horizon, axis=1)
        if quantiles is None:
            return point
        z = np.array([NormalDist().inv_cdf(q) for q in quantiles])
        return point[..., None] + sd[:, None, None] * z
    return predict_histories


def test_seqfusion_quantiles_unavailable_without_predict_histories(
        tiny_zoo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from seqfusion.forecaster import SeqFusion

    monkeypatch.delattr(SeqFusion, "predict_histories", raising=False)
    m = SeqFusionQuantiles(tiny_zoo, "D")
    assert not m.available()
    with pytest.raises(MethodUnavailable, match="predict_histories"):
        m([np.arange(40.0)], 5)


def test_seqfusion_quantiles_call_the_contract(tiny_zoo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from seqfusion.forecaster import SeqFusion

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(SeqFusion, "predict_histories", _fake_predict_histories(calls), raising=False)
    m = SeqFusionQuantiles(tiny_zoo, "MS", min_points=8)
    pred = m([np.arange(100.0), np.arange(3.0)], 7)
    assert pred.shape == (2, 7, len(Q))
    assert calls == [{"n": 2, "horizon": 7, "freq": "MS", "quantiles": list(qs.QUANTILES), "lengths": [100, 8]}]
    assert m.stats["padded"] == 1


# ------------------------------------------------------------------ end to end on toy data


@pytest.fixture()
def toy_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private data folder and cache with one tiny daily benchmark CSV (3 series)."""
    from benchmarks.harness import protocol as pr
    from benchmarks.harness import realuse as ru

    root = tmp_path / "data"
    (root / "benchmark").mkdir(parents=True)
    rng = np.random.default_rng(7)
    t = np.arange(300)
    frame = pd.DataFrame({"date": pd.date_range("2020-01-01", periods=300, freq="D").astype(str)})
    for j in range(3):
        frame[f"s{j}"] = 10 + j + np.sin(2 * np.pi * t / 7) + 0.01 * t + rng.normal(0, 0.3, 300)
    frame.to_csv(root / "benchmark" / "toy.csv", index=False)
    monkeypatch.setenv("SEQFUSION_DATA", str(root))
    monkeypatch.setenv("SEQFUSION_CACHE", str(tmp_path / "cache"))
    spec = ru.RealuseSpec("Toy", "benchmark/toy.csv", "frame", "daily", "D", "targets")
    monkeypatch.setattr(ru, "DATASETS", {"Toy": spec})
    monkeypatch.setattr(pr, "DATASETS", {"Toy": pr.DatasetSpec("Toy", "toy.csv", "D", 7)})
    return root


def test_realuse_quantiles_end_to_end_with_a_fake_seqfusion(
        toy_data: Path, tiny_zoo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks.harness.cli import main
    from seqfusion.forecaster import SeqFusion

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(SeqFusion, "predict_histories", _fake_predict_histories(calls), raising=False)
    out = tmp_path / "res"
    args = ["realuse", "--quantiles", "--datasets", "Toy", "--zoo", str(tiny_zoo), "--out", str(out),
            "--no-progress", "--methods", "snaive_empirical", "seqfusion"]
    assert main(args) == 0
    doc = json.loads((out / "realuse_quantiles.json").read_text())
    assert doc["kind"] == "realuse_quantiles" and doc["split"] == "test"
    assert doc["meta"]["command"].startswith("python -m benchmarks.harness realuse --quantiles")
    rows = {r["key"]: r for r in doc["rows"]}
    assert set(rows) == {"snaive", "snaive_empirical", "seqfusion"}
    assert rows["snaive"]["relative_wql"] == 1.0 and rows["snaive"]["n_windows"] == 15
    assert all(0 <= r["coverage_80"] <= r["coverage_95"] <= 1 and r["wql"] > 0 for r in rows.values())
    assert calls and calls[0]["freq"] == "D" and calls[0]["horizon"] == 14 and calls[0]["lengths"][0] > 36
    sm = doc["summary"][rows["seqfusion"]["method"]]
    assert sm["geomean_relative_wql"] == pytest.approx(rows["seqfusion"]["relative_wql"])
    assert not (out / "realuse.json").exists()  # the point results are untouched
    md = (out / "realuse_quantiles.md").read_text()
    assert "geo-mean rel. WQL" in md and "Coverage of the 80% interval" in md
    # rerun: read from the cache; validation split: its own files
    assert main(args) == 0
    assert all(r["cached"] for r in json.loads((out / "realuse_quantiles.json").read_text())["rows"])
    assert main(args + ["--split", "validation"]) == 0
    val = json.loads((out / "realuse_quantiles_validation.json").read_text())
    assert val["split"] == "validation" and len(val["rows"]) == 3


def test_quantile_runs_skip_seqfusion_without_predict_histories(
        toy_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.harness.cli import main
    from seqfusion.forecaster import SeqFusion

    monkeypatch.delattr(SeqFusion, "predict_histories", raising=False)
    out = tmp_path / "res"
    assert main(["realuse", "--quantiles", "--datasets", "Toy", "--methods", "seqfusion", "--out", str(out),
                 "--no-progress"]) == 0
    assert "predict_histories does not exist" in capsys.readouterr().err
    assert {r["key"] for r in json.loads((out / "realuse_quantiles.json").read_text())["rows"]} == {"snaive"}
    assert main(["realuse", "--quantiles", "--methods", "prophet", "--out", str(out)]) == 2


def test_multivariate_quantiles_end_to_end(toy_data: Path, tmp_path: Path) -> None:
    from benchmarks.harness.cli import main

    out = tmp_path / "res"
    assert main(["multivariate", "--quantiles", "--datasets", "Toy", "--horizons", "6", "24",
                 "--methods", "snaive_empirical", "--out", str(out), "--no-progress"]) == 0
    doc = json.loads((out / "multivariate_quantiles.json").read_text())
    assert doc["kind"] == "multivariate_quantiles" and doc["horizons"] == [6, 24]
    rows = {r["key"]: r for r in doc["rows"]}
    assert set(rows) == {"snaive", "snaive_empirical"}
    ref = rows["snaive"]
    # 300 rows: n_test 60, windows of H=6: 55 per variate, 3 variates
    assert ref["n_windows"] == 165 and not ref["subsampled"] and ref["horizons_scored"] == [6, 24]
    assert ref["per_horizon"]["24"]["n_rows"] == 37 * 3
    assert ref["wql"] == pytest.approx(np.mean([ref["per_horizon"][h]["wql"] for h in ("6", "24")]))
    assert (out / "multivariate_quantiles.md").is_file()


@pytest.mark.baselines
def test_multivariate_conformal_scores_only_horizons_it_can_forecast(toy_data: Path, tmp_path: Path) -> None:
    from benchmarks.harness.cli import main

    out = tmp_path / "res"
    assert main(["multivariate", "--quantiles", "--datasets", "Toy", "--horizons", "6", "24",
                 "--methods", "conformal_snaive", "--max-windows", "20", "--out", str(out), "--no-progress"]) == 0
    rows = {r["key"]: r for r in json.loads((out / "multivariate_quantiles.json").read_text())["rows"]}
    conf = rows["conformal_snaive"]
    assert conf["horizons_scored"] == [6] and conf["subsampled"] and conf["n_windows"] == 20
    assert conf["stats"]["fallbacks"] == 0


# ------------------------------------------------------------------ real data


@pytest.mark.data
def test_real_snaive_quantiles_on_m3_yearly() -> None:
    from benchmarks.harness import realuse as ru
    from seqfusion.training.data.paths import data_root

    try:
        root = data_root()
    except FileNotFoundError:
        pytest.fail("shared data not available")
    if not (root / "m3" / "m3_yearly.csv").is_file():
        pytest.fail("shared data not available")
    data = ru.load("m3_yearly", "test")
    pred = SeasonalNaiveQuantiles(data.spec.season)(data.contexts(), data.horizon)
    assert pred.shape == (645, 6, len(Q)) and (np.diff(pred, axis=2) >= 0).all()
    s = qs.summarize_sums(qs.window_sums(data.targets(), pred))
    # the median is the Naive forecast: its WQL term at q=0.5 is sum|e| / sum|y|
    assert 0 < s["wql"] < 1 and 0.3 < s["coverage_80"] < 1  # type: ignore[operator]


def test_msis_and_median_mase_hand_computed() -> None:
    y = np.array([[0.0, 10.0]])
    pred = np.zeros((1, 2, len(Q)))
    pred[..., qs.quantile_index(0.025)] = -1.0
    pred[..., qs.quantile_index(0.975)] = 1.0
    pred[..., qs.quantile_index(0.5)] = 0.0
    s = qs.summarize_sums(qs.window_sums(y, np.sort(pred, axis=2), np.array([2.0])))
    # step 1: width 2, inside; step 2: width 2 + 2/0.05 * (10 - 1) = 362; mean 182, / scale 2
    assert s["msis_95"] == pytest.approx(91.0)
    assert s["mase_median"] == pytest.approx(5.0 / 2.0)
    assert s["width_95"] == pytest.approx(1.0)
