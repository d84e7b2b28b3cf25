"""Whole-history ("realuse") benchmark: origins, horizons, MASE, summary, no target leakage.

Tests marked ``data`` read the shared datasets (``SEQFUSION_DATA``); the others use toy
series only.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from benchmarks.harness import realuse as ru
from benchmarks.harness.baselines import Last, SeasonalNaive
from benchmarks.harness.protocol import forecast_rows


def toy_spec(competition: bool = False, season: int = 2, horizon: int = 2,
             metric: str | None = None) -> ru.RealuseSpec:
    return ru.RealuseSpec("toy", "none.csv", "frame", "daily", "D",
                          "competitions" if competition else "targets",
                          horizon_override=horizon, season_override=season, metric=metric)


# ------------------------------------------------------------------ horizons and seasons


def test_horizon_and_season_by_frequency() -> None:
    assert {f: ru.horizon_for(f) for f in ru.HORIZON_BY_FREQ} == {
        "yearly": 6, "quarterly": 8, "monthly": 18, "weekly": 13, "daily": 14,
        "hourly": 48, "half-hourly": 48, "subhourly": 48}
    assert [ru.season_for(f) for f in ("yearly", "quarterly", "monthly", "weekly", "daily",
                                       "hourly", "half-hourly")] == [1, 4, 12, 52, 7, 24, 48]
    assert ru.season_for("subhourly", 10) == 144
    with pytest.raises(ValueError):
        ru.horizon_for("fortnightly")


def test_dataset_specs() -> None:
    d = ru.DATASETS
    # benchmark targets: horizon by frequency
    assert {n: (d[n].horizon, d[n].season) for n in ("ECL", "ETTh1", "Illness", "ETTh1_hourly")} == {
        "ECL": (14, 7), "ETTh1": (14, 7), "Illness": (13, 52), "ETTh1_hourly": (48, 24)}
    assert {n for n, s in d.items() if s.group == "targets"} == {
        "ECL", "ETTh1", "ETTh2", "ETTm1", "ETTm2", "Exchange", "Illness", "Weather",
        "ETTh1_hourly", "ETTh2_hourly"}
    # competitions: their own horizon and metric
    got = {n: (s.horizon, s.season, s.metric) for n, s in d.items() if s.competition}
    assert got == {
        "m3_yearly": (6, 1, "smape"), "m3_quarterly": (8, 4, "smape"),
        "m3_monthly": (18, 12, "smape"), "m3_other": (8, 1, "smape"),
        "tourism_yearly": (4, 1, "mape"), "tourism_quarterly": (8, 4, "mape"),
        "tourism_monthly": (24, 12, "mape"), "m4_hourly": (48, 24, "smape"),
        "m4_weekly": (13, 52, "smape")}
    assert d["air_passengers"].horizon == 18 and d["air_passengers"].leak == ("air_passengers",)
    assert ru.resolve("ecl") is d["ECL"]
    with pytest.raises(ValueError):
        ru.resolve("traffic")


# ------------------------------------------------------------------ origins


def test_origins_test_and_validation() -> None:
    assert ru.origins(100, 10, "test") == [50, 60, 70, 80, 90]
    # validation: the 5 windows before the test windows; origin 0 has no context
    assert ru.origins(100, 10, "validation") == [10, 20, 30, 40]
    assert ru.origins(100, 10, "test", competition=True) == [90]
    assert ru.origins(100, 10, "validation", competition=True) == [80]
    with pytest.raises(ValueError):
        ru.origins(100, 10, "train")


@pytest.mark.parametrize("competition", [False, True])
def test_validation_targets_end_before_test_origins(competition: bool) -> None:
    for length in (40, 97, 300):
        for h in (4, 6, 13):
            test = ru.origins(length, h, "test", competition)
            val = ru.origins(length, h, "validation", competition)
            if test and val:
                assert max(val) + h <= min(test)
            assert all(o + h <= length for o in test + val)


def test_windows_and_dropped_short_contexts() -> None:
    spec = toy_spec(horizon=3)
    data = ru.make_windows(spec, [np.arange(20.0), np.arange(9.0)], "test")
    # series 0: 20 - 3k, k = 1..5 -> 5, 8, 11, 14, 17; series 1: 9 - 3k -> 3, 6 (0 dropped... and -3, -6)
    assert data.origin.tolist() == [5, 8, 11, 14, 17, 3, 6]
    assert data.series_of.tolist() == [0, 0, 0, 0, 0, 1, 1]
    assert data.dropped == 3 and data.n_series == 2
    with pytest.raises(ValueError):
        ru.make_windows(spec, [np.array([1.0, np.nan, 2.0, 3.0, 4.0, 5.0, 6.0])], "test")


@pytest.mark.parametrize("split", ["test", "validation"])
@pytest.mark.parametrize("competition", [False, True])
def test_contexts_never_include_target_points(split: str, competition: bool) -> None:
    # value = position, so a context point from the target range would be >= the origin
    series = [np.arange(float(n)) for n in (30, 57, 120)]
    data = ru.make_windows(toy_spec(competition, horizon=5), series, split)
    assert data.n_windows > 0
    ctx, tgt = data.contexts(), data.targets()
    for c, y, o in zip(ctx, tgt, data.origin):
        assert len(c) == o and c.max() < o and c[-1] == o - 1  # the whole history before o
        np.testing.assert_array_equal(y, np.arange(o, o + 5))

    seen: list[np.ndarray] = []

    def spy(x: np.ndarray, h: int) -> np.ndarray:
        seen.extend(x)
        return np.repeat(x[:, -1:], h, axis=1)

    spy.stats = {}  # type: ignore[attr-defined]
    spy.options = lambda: {}  # type: ignore[attr-defined]
    method = ru.RaggedMethod("spy", spy, "spy")
    pred = forecast_rows(method, ctx, 5, chunk=2)
    assert pred.shape == (data.n_windows, 5)
    assert sorted(len(s) for s in seen) == sorted(data.origin.tolist())
    for row, o in zip(pred, data.origin):
        assert row[0] == o - 1  # the last context point, never a target


def test_ragged_method_cap_pad_and_grouping() -> None:
    calls: list[tuple[int, int]] = []

    def inner(x: np.ndarray, h: int) -> np.ndarray:
        calls.append(x.shape)
        return np.repeat(x[:, :1], h, axis=1)  # first point the method sees

    inner.stats = {}  # type: ignore[attr-defined]
    inner.options = lambda: {}  # type: ignore[attr-defined]
    m = ru.RaggedMethod("x", inner, "x", cap=5, min_points=3)
    ctx = [np.arange(10.0), np.arange(2.0) + 7, np.arange(4.0), np.arange(12.0)]
    pred = m(ctx, 2)
    assert pred[:, 0].tolist() == [5.0, 7.0, 0.0, 7.0]  # capped to the last 5; padded with 7
    assert sorted(calls) == [(1, 3), (1, 4), (2, 5)]
    assert m.stats["capped"] == 2 and m.stats["padded"] == 1


def test_subsample_is_even_and_unique() -> None:
    idx = ru.subsample(1605, 100)
    assert len(idx) == 100 and idx[0] == 0 and idx[-1] == 1604
    assert len(np.unique(idx % 5)) == 5  # cycles through the origins of 5-window series
    assert ru.subsample(35, 100).tolist() == list(range(35))
    assert ru.subsample(35, None).tolist() == list(range(35))


# ------------------------------------------------------------------ metrics


def test_mase_scale_hand_computed() -> None:
    # context [1, 3, 2, 5, 4], season 2: |2-1|, |5-3|, |4-2| -> scale 5/3
    series = np.array([1.0, 3.0, 2.0, 5.0, 4.0, 6.0, 4.0])
    spec = toy_spec(competition=True, season=2, horizon=2, metric="smape")
    data = ru.make_windows(spec, [series], "test")
    assert data.origin.tolist() == [5]
    assert ru.seasonal_naive_scale(data.contexts()[0], 2) == (pytest.approx(5 / 3), 2)
    # forecast [5, 5] vs target [6, 4]: MAE 1 -> MASE 0.6; SMAPE 200 * mean(1/11, 1/9)
    wm = ru.window_metrics(data, np.arange(1), {"f": np.array([[5.0, 5.0]])})
    assert wm["mase"]["f"][0] == pytest.approx(0.6)
    assert wm["smape"]["f"][0] == pytest.approx(100 * (1 / 11 + 1 / 9))
    # seasonal naive (period 2) repeats [5, 4]: MAE (1 + 0) / 2 = 0.5 -> MASE 0.3
    sn = ru.make_method("snaive", spec)
    pred = sn(data.contexts(), 2)
    np.testing.assert_array_equal(pred, [[5.0, 4.0]])
    assert ru.window_metrics(data, np.arange(1), {"s": pred})["mase"]["s"][0] == pytest.approx(0.3)


def test_mase_season_fallback_and_zero_scale() -> None:
    # a 4-point context with season 12 uses season 1: |2-1|, |4-2|, |3-4| -> 4/3
    assert ru.seasonal_naive_scale(np.array([1.0, 2.0, 4.0, 3.0]), 12) == (pytest.approx(4 / 3), 1)
    spec = toy_spec(competition=True, season=12, horizon=2)
    data = ru.make_windows(spec, [np.array([1.0, 2.0, 4.0, 3.0, 5.0, 3.0]),
                                  np.array([7.0, 7.0, 7.0, 7.0, 8.0, 9.0])], "test")
    wm = ru.window_metrics(data, np.arange(2), {"f": np.array([[3.0, 3.0], [7.0, 7.0]])})
    assert wm["season_used"].tolist() == [1, 1]
    assert wm["mase"]["f"][0] == pytest.approx(1.0 / (4 / 3))  # MAE (2 + 0) / 2 = 1
    assert math.isnan(wm["mase"]["f"][1])  # constant context: scale 0, left out


def test_mape_skips_zero_targets() -> None:
    spec = toy_spec(competition=True, season=1, horizon=2, metric="mape")
    data = ru.make_windows(spec, [np.array([1.0, 2.0, 3.0, 0.0, 4.0])], "test")
    wm = ru.window_metrics(data, np.arange(1), {"f": np.array([[1.0, 5.0]])})
    assert wm["mape"]["f"][0] == pytest.approx(25.0)  # y = 0 skipped; |4 - 5| / 4


def test_score_dataset_uses_reference_on_same_windows() -> None:
    spec = toy_spec(season=1, horizon=2)
    rng = np.random.default_rng(0)
    data = ru.make_windows(spec, [np.cumsum(rng.normal(size=40)) for _ in range(4)], "test")
    n = data.n_windows
    ctx = data.contexts()
    ref = Last()(np.array([c[-1:] for c in ctx]), 2)
    idx = ru.subsample(n, 6)
    scores = ru.score_dataset(data, {"SeasonalNaive": (np.arange(n), ref),
                                     "Half": (idx, ref[idx] * 0.5)}, "SeasonalNaive")
    assert scores["SeasonalNaive"]["relative_mase"] == pytest.approx(1.0)
    h = scores["Half"]
    assert h["n_windows"] == len(idx) and h["subsampled"]
    wm = ru.window_metrics(data, np.arange(n), {"r": ref})
    assert h["snaive_mase_same_windows"] == pytest.approx(np.mean(wm["mase"]["r"][idx]))
    assert h["relative_mase"] == pytest.approx(h["mase"] / h["snaive_mase_same_windows"])
    with pytest.raises(ValueError):
        ru.score_dataset(data, {"Half": (idx, ref[idx])}, "SeasonalNaive")


def test_geomean_summary() -> None:
    assert ru.geomean([0.5, 2.0]) == pytest.approx(1.0)
    assert ru.geomean([0.25, 1.0]) == pytest.approx(0.5)
    assert ru.geomean([]) is None
    rows = [{"method": "A", "dataset": "d1", "relative_mase": 0.5},
            {"method": "A", "dataset": "d2", "relative_mase": 0.8},
            {"method": "A", "dataset": "d3", "relative_mase": 2.0},
            {"method": "B", "dataset": "d1", "relative_mase": 0.9}]
    groups = {"d1": "targets", "d2": "competitions", "d3": "targets"}
    s = ru.summarize(rows, ["d1", "d2", "d3"], groups.get)
    assert s["A"]["geomean"] == pytest.approx((0.5 * 0.8 * 2.0) ** (1 / 3))
    assert s["A"]["geomean_targets"] == pytest.approx(1.0) and s["A"]["n_targets"] == 2
    assert s["A"]["geomean_competitions"] == pytest.approx(0.8)
    assert s["B"]["n_datasets"] == 1 and s["B"]["geomean"] == pytest.approx(0.9)


def test_seasonal_naive_repeats_last_season() -> None:
    m = ru.make_method("snaive", toy_spec(season=3, horizon=5))
    pred = m([np.array([9.0, 1.0, 2.0, 3.0]), np.array([4.0, 5.0])], 5)
    np.testing.assert_array_equal(pred[0], [1, 2, 3, 1, 2])
    np.testing.assert_array_equal(pred[1], [5, 5, 5, 5, 5])  # shorter than the season: Naive
    assert isinstance(m.inner, SeasonalNaive)


def test_method_caps_and_names() -> None:
    spec = ru.DATASETS["m4_weekly"]
    assert ru.make_method("autoets", spec).cap == ru.STATS_CAP
    arima = ru.make_method("autoarima", spec)
    assert arima.cap == ru.ARIMA_CAP and arima.inner.season == 1  # 52 > 24: no season
    assert ru.make_method("autoarima", ru.DATASETS["m4_hourly"]).inner.season == 24
    assert ru.make_method("last", spec).name == "Naive"
    paper = ru.make_method("seqfusion_paper", spec)
    assert paper.inner.k == 16 and paper.inner.extra == {"fusion": "mean", "freq": "W", "history": "last"}
    assert paper.min_points == ru.SEQFUSION_MIN_POINTS and paper.cap is None
    alone = ru.make_method("zoo_alone", spec)
    assert alone.key == "seqfusion_last" and alone.inner.extra == {"freq": "W", "history": "last"}
    assert alone.inner.k == ru.default_k(None) and alone.min_points == ru.SEQFUSION_MIN_POINTS


def test_seqfusion_gets_the_whole_history(tiny_zoo: Path) -> None:
    spec = toy_spec(horizon=4)
    m = ru.make_method("seqfusion", spec, zoo=tiny_zoo)
    rng = np.random.default_rng(1)
    long = np.cumsum(rng.normal(size=300))
    short = np.cumsum(rng.normal(size=5))
    pred = m([long, short], 4)
    assert pred.shape == (2, 4) and np.isfinite(pred).all() and m.stats["padded"] == 1
    # every point counts: not the forecast of the last 36 points, but predict_histories' forecast
    assert not np.allclose(m([long[-36:]], 4)[0], pred[0])
    direct = m.inner.model.predict_histories([long], 4, k=m.inner.k, **m.inner.extra)
    np.testing.assert_allclose(direct[0], pred[0])


# ------------------------------------------------------------------ real data


def _data_or_skip() -> None:
    from seqfusion.training.data.paths import data_root

    try:
        root = data_root()
    except FileNotFoundError:
        pytest.fail("shared data not available")
    if not (root / "benchmark" / "ETTh1_agg.csv").is_file():
        pytest.fail("shared data not available")


@pytest.mark.data
def test_real_windows_etth1_and_m3() -> None:
    _data_or_skip()
    test = ru.load("ETTh1", "test")
    val = ru.load("ETTh1", "validation")
    assert test.n_series == 7 and test.n_windows == 35 and test.horizon == 14
    n = len(test.series[0])
    assert sorted(set(test.origin.tolist())) == [n - 14 * k for k in range(5, 0, -1)]
    assert val.origin.max() + 14 <= test.origin.min()
    m3 = ru.load("m3_yearly", "test")
    assert m3.n_windows == 645 and all(len(s) - o == 6 for s, o in zip(
        [m3.series[i] for i in m3.series_of], m3.origin))


@pytest.mark.data
def test_real_naive_scores_match_published_values() -> None:
    _data_or_skip()
    data = ru.load("m3_yearly", "test")
    naive = ru.make_method("naive", data.spec)
    pred = naive(data.contexts(), data.horizon)
    s = ru.score_dataset(data, {"SeasonalNaive": (np.arange(data.n_windows), pred)}, "SeasonalNaive")
    # M3 yearly Naive: MASE 3.17, sMAPE 17.88 (published)
    assert s["SeasonalNaive"]["mase"] == pytest.approx(3.172, abs=0.001)
    assert s["SeasonalNaive"]["smape"] == pytest.approx(17.88, abs=0.01)
    data = ru.load("m4_hourly", "test")
    sn = ru.make_method("snaive", data.spec)
    s = ru.score_dataset(data, {"SeasonalNaive": (np.arange(data.n_windows),
                                                  sn(data.contexts(), 48))}, "SeasonalNaive")
    # M4 hourly seasonal naive: MASE 1.193, sMAPE 13.912 (M4 competition)
    assert s["SeasonalNaive"]["mase"] == pytest.approx(1.193, abs=0.001)
    assert s["SeasonalNaive"]["smape"] == pytest.approx(13.912, abs=0.001)


@pytest.fixture()
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEQFUSION_CACHE", str(tmp_path / "cache"))


@pytest.mark.data
@pytest.mark.baselines
@pytest.mark.usefixtures("_private_cache")
def test_cli_quick_realuse_both_splits(tmp_path: Path) -> None:
    _data_or_skip()
    from benchmarks.harness.cli import main

    out = tmp_path / "res"
    args = ["realuse", "--quick", "--out", str(out), "--no-progress"]
    assert main(args + ["--methods", "naive", "seqfusion"]) == 0
    doc = json.loads((out / "quick" / "realuse.json").read_text())
    assert doc["kind"] == "realuse" and doc["split"] == "test"
    assert doc["meta"]["command"].startswith("python -m benchmarks.harness realuse")
    rows = doc["rows"]
    keys = {(r["key"], r["dataset"]) for r in rows}
    assert keys == {(k, d) for k in ("snaive", "naive", "seqfusion") for d in ru.DATASETS
                    if d in ("ETTh1", "Illness", "m3_yearly", "tourism_yearly")}
    sf = {r["dataset"]: r for r in rows if r["key"] == "seqfusion"}
    # no zoo without M3/M4/Tourism in this private cache: those rows are marked
    assert sf["m3_yearly"]["zoo_saw_source"] and not sf["ETTh1"]["zoo_saw_source"]
    assert all(r["relative_mase"] > 0 for r in rows)
    md = (out / "quick" / "realuse.md").read_text()
    assert "geo-mean" in md and "†" in md and "zoo saw this source" in md
    # rerun with another method: cached rows kept, merged
    assert main(args + ["--methods", "autotheta", "--max-windows", "3"]) == 0
    rows2 = json.loads((out / "quick" / "realuse.json").read_text())["rows"]
    assert {r["key"] for r in rows2} == {"snaive", "naive", "seqfusion", "autotheta"}
    assert all(r["cached"] for r in rows2 if r["key"] == "snaive")
    th = [r for r in rows2 if r["key"] == "autotheta"]
    assert all(r["n_windows"] == 3 and r["subsampled"] and r["cap"] == ru.STATS_CAP for r in th)
    # validation split: its own files
    assert main(args + ["--methods", "naive", "--split", "validation"]) == 0
    val = json.loads((out / "quick" / "realuse_validation.json").read_text())
    assert val["split"] == "validation" and {r["key"] for r in val["rows"]} == {"snaive", "naive"}
    assert (out / "quick" / "realuse_validation.md").is_file()


@pytest.mark.usefixtures("_private_cache")
def test_cli_realuse_usage_errors(tmp_path: Path) -> None:
    from benchmarks.harness.cli import main

    assert main(["realuse", "--datasets", "nope", "--out", str(tmp_path)]) == 2
    assert main(["realuse", "--methods", "prophet", "--out", str(tmp_path)]) == 2
    assert main(["realuse", "--split", "train", "--out", str(tmp_path)]) == 2
