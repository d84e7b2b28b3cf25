"""The whole-history candidates diagnostic (``python -m benchmarks.harness candidates``)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks.harness import candidates as cd
from benchmarks.harness import realuse as ru
from benchmarks.harness.cli import main
from seqfusion import SeqFusion, history


def toy_data(n_series: int = 3, length: int = 200) -> ru.RealuseData:
    rng = np.random.default_rng(0)
    t = np.arange(length)
    series = [20 + np.cumsum(rng.normal(size=length)) + 4 * np.sin(2 * np.pi * t / 7) for _ in range(n_series)]
    spec = ru.RealuseSpec("toy", "none.csv", "frame", "daily", "D", "targets")
    return ru.make_windows(spec, series, "test")


def test_scores_bound_the_fused_forecast_from_below() -> None:
    """The hindsight picks are at most the fused forecast and every candidate; the
    fused score is the realuse protocol's score of the same forecast."""
    data = toy_data()
    fused, cands, weights = cd.candidate_forecasts(None, data.contexts(), data.horizon, "D")
    np.testing.assert_array_equal(fused, SeqFusion.from_pretrained().predict_histories(data.contexts(), data.horizon,
                                                                                       freq="D"))
    out = cd.score(data, fused, cands, weights)
    rel = out["relative_mase"]
    assert set(rel) == {cd.FUSED, *history.CANDIDATES, cd.BEST, cd.ORACLE}
    assert rel[cd.ORACLE] <= rel[cd.BEST] + 1e-12
    assert rel[cd.BEST] == min(rel[c] for c in history.CANDIDATES)
    assert rel[cd.ORACLE] <= rel[cd.FUSED]
    assert rel["seasonal_naive"] == pytest.approx(1.0)  # the reference itself
    ref = ru.score_dataset(data, {"sn": (np.arange(data.n_windows), ru.by_length(
        ru.make_method("snaive", data.spec).inner, data.contexts(), data.horizon)),
        "sf": (np.arange(data.n_windows), fused)}, "sn")
    assert rel[cd.FUSED] == pytest.approx(ref["sf"]["relative_mase"], rel=1e-12)
    assert sum(out["mean_weight"].values()) == pytest.approx(1.0)


@pytest.mark.data
def test_cli_writes_the_report(tmp_path) -> None:
    from seqfusion.zoo import DEFAULT_ZOO

    code = main(["candidates", "--datasets", "air_passengers", "--split", "validation",
                 "--competition-zoo", str(DEFAULT_ZOO), "--out", str(tmp_path)])
    assert code == 0
    payload = json.loads((tmp_path / "realuse_candidates_validation.json").read_text())
    row = payload["datasets"]["air_passengers"]
    assert row["n_windows"] == ru.load("air_passengers", "validation").n_windows == 2
    assert 0 < row["relative_mase"][cd.ORACLE] <= row["relative_mase"][cd.FUSED] < 1
    assert "| air_passengers |" in (tmp_path / "realuse_candidates_validation.md").read_text()


def test_cli_needs_a_zoo_without_competition_data(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SEQFUSION_CACHE", str(tmp_path / "cache"))
    assert main(["candidates", "--datasets", "air_passengers", "--out", str(tmp_path)]) == 2
