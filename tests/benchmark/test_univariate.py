"""Univariate benchmark: windows, metrics, real-data sanity and the zoo leakage guard."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.harness import univariate as uv
from benchmarks.harness.baselines import Last


def test_make_windows_pads_short_series() -> None:
    series = [np.arange(1.0, 11.0), np.array([5.0, 6.0, 7.0, 8.0, 9.0])]
    x, y, padded = uv.make_windows(series, lookback=6, horizon=3)
    np.testing.assert_array_equal(x[0], [2, 3, 4, 5, 6, 7])
    np.testing.assert_array_equal(y[0], [8, 9, 10])
    np.testing.assert_array_equal(x[1], [5, 5, 5, 5, 5, 6])
    np.testing.assert_array_equal(y[1], [7, 8, 9])
    assert padded == 1
    with pytest.raises(ValueError):
        uv.make_windows([np.arange(3.0)], 6, 3)


def test_metrics() -> None:
    y = np.array([[100.0, 0.0], [50.0, 10.0]])
    f = np.array([[110.0, 0.0], [50.0, 20.0]])
    # smape points: 200*10/210, 0 (both zero), 0, 200*10/30
    assert uv.smape(f, y) == pytest.approx((2000 / 210 + 2000 / 30) / 4)
    val, skipped = uv.mape(f, y)
    assert skipped == 1 and val == pytest.approx((10.0 + 0.0 + 100.0) / 3)


def test_specs_match_the_paper() -> None:
    got = {k: (s.lookback, s.horizon) for k, s in uv.UNIVARIATE.items()}
    assert got == {"m3_yearly": (12, 6), "m3_quarterly": (24, 8), "m3_monthly": (24, 18),
                   "m3_other": (16, 8), "tourism_yearly": (12, 4), "tourism_quarterly": (24, 8),
                   "tourism_monthly": (36, 24), "m4_hourly": (48, 48), "m4_weekly": (65, 13)}


def _load_or_skip(name: str, **kw):
    try:
        return uv.load_univariate(name, **kw)
    except FileNotFoundError:
        pytest.fail("data not available")


@pytest.mark.data
def test_m3_yearly_naive_matches_literature() -> None:
    data = _load_or_skip("m3_yearly")
    assert data.x.shape == (645, 12) and data.y.shape == (645, 6)
    res = uv.evaluate_univariate(Last(), data)
    # Naive1 on M3 yearly: sMAPE 17.88 (Makridakis & Hibon 2000)
    assert res.value == pytest.approx(17.88, abs=0.01)


@pytest.mark.data
def test_tourism_and_m4_shapes() -> None:
    t = _load_or_skip("tourism_quarterly")
    assert t.x.shape == (427, 24) and t.y.shape == (427, 8)
    m = _load_or_skip("m4_weekly", max_series=20)
    assert m.x.shape == (20, 65) and m.y.shape == (20, 13)
    res = uv.evaluate_univariate(lambda x, h: np.repeat(x[:, -1:], h, 1), t)
    assert res.metric == "mape" and res.extra["zero_targets_skipped"] == 0


def test_family_average_weights_by_series() -> None:
    rs = [uv.UnivariateResult("m3_yearly", "smape", 10.0, 100, 0.0),
          uv.UnivariateResult("m3_other", "smape", 20.0, 300, 0.0),
          uv.UnivariateResult("tourism_yearly", "mape", 5.0, 10, 0.0)]
    fa = uv.family_average(rs)
    assert fa["m3"]["value"] == pytest.approx(17.5) and fa["tourism"]["value"] == 5.0
    assert "m4" not in fa


def _fake_zoo(path: Path, sources: list[str]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "zoo.json").write_text(json.dumps({"ptms": [{"name": f"p{i}", "source": s}
                                                         for i, s in enumerate(sources)]}))
    return path


def test_leakage_guard(tmp_path: Path) -> None:
    zoo = _fake_zoo(tmp_path / "z", ["m3_monthly", "nn5_daily"])
    with pytest.raises(uv.LeakageError, match="m3_monthly"):
        uv.check_leakage(zoo, ["tourism_yearly", "m3_yearly"])
    uv.check_leakage(zoo, ["tourism_yearly", "m4_weekly"])  # other families are fine
    clean = _fake_zoo(tmp_path / "c", ["ETTh1", "weather"])
    uv.check_leakage(clean, list(uv.UNIVARIATE))
    # Data the router was fitted on counts too.
    routed = _fake_zoo(tmp_path / "r", ["nn5_daily"])
    manifest = json.loads((routed / "zoo.json").read_text())
    manifest["router"] = {"info": {"groups": {"nn5_daily": 10, "tourism_monthly": 10,
                                              "synthetic_random_walk": 10}}}
    (routed / "zoo.json").write_text(json.dumps(manifest))
    with pytest.raises(uv.LeakageError, match="tourism_monthly"):
        uv.check_leakage(routed, ["tourism_quarterly"])
    uv.check_leakage(routed, ["m3_yearly"])


def test_cli_refuses_a_leaky_zoo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.harness.cli import main

    zoo = _fake_zoo(tmp_path / "z", ["tourism_monthly"])
    rc = main(["univariate", "--quick", "--zoo", str(zoo), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and "tourism_monthly" in err[0]
    assert not (tmp_path / "o").exists()


def test_univariate_specs_state_a_frequency_matching_their_season() -> None:
    from benchmarks.harness.univariate import UNIVARIATE
    from seqfusion.frequency import frequency_class

    expected = {1: "yearly", 4: "quarterly", 12: "monthly", 24: "hourly", 52: "weekly"}
    for spec in UNIVARIATE.values():
        if spec.name == "m3_other":
            assert spec.freq is None  # M3 states no frequency for "other"
        else:
            assert frequency_class(spec.freq) == expected[spec.season], spec.name


def test_validation_split_targets_end_before_the_test_part(tmp_path) -> None:
    from benchmarks.harness.univariate import load_univariate

    root = tmp_path
    (root / "m3").mkdir()
    rows = []
    for sid, n in (("a", 30), ("b", 12)):  # b is too short for a validation window (H=6)
        rows += [{"series_id": sid, "category": "MICRO", "t": t, "split": "train" if t < n - 6 else "test",
                  "value": float(100 + t)} for t in range(n)]
    pd.DataFrame(rows).to_csv(root / "m3" / "m3_yearly.csv", index=False)
    test = load_univariate("m3_yearly", root=root)
    val = load_univariate("m3_yearly", root=root, split="validation")
    assert test.y.shape == (2, 6) and val.y.shape == (1, 6)
    np.testing.assert_array_equal(test.y[0], 100.0 + np.arange(24, 30))
    np.testing.assert_array_equal(val.y[0], 100.0 + np.arange(18, 24))
    np.testing.assert_array_equal(val.x[0], 100.0 + np.arange(6, 18))
    with pytest.raises(ValueError, match="unknown split"):
        load_univariate("m3_yearly", root=root, split="train")
