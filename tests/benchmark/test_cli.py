"""Smoke tests of ``python -m benchmarks.harness``: --quick runs into tmp_path, caching, merging,
a SeqFusion row with a tiny throw-away zoo, the speed benchmark, and input errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.harness.cli import main


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEQFUSION_CACHE", str(tmp_path / "cache"))


def _need_data() -> None:
    from benchmarks.harness.protocol import DATASETS, dataset_path

    try:
        ok = all(dataset_path(DATASETS[d]).is_file() for d in ("ETTh1", "Illness"))
    except FileNotFoundError:
        ok = False
    if not ok:
        pytest.fail("benchmark data not available")


def _tiny_zoo(path: Path, sources: tuple[str, ...] = ("nn5_daily", "hospital", "sunspot")) -> Path:
    """A 3-member zoo of untrained DLinear PTMs and a small random extractor."""
    import torch

    from seqfusion.training.extractor import Extractor
    from seqfusion.training.models import build_model
    from seqfusion.zoo import Member, Zoo

    torch.manual_seed(0)
    cfg = {"input_length": 36, "patch_len": 4, "d_model": 16, "n_heads": 2, "d_ff": 32,
           "n_layers": 1, "dim": 8}
    rng = np.random.default_rng(0)
    members = [Member(name=f"p{i}", architecture="dlinear",
                      config={"input_length": 36, "horizon": 12},
                      state=build_model("dlinear", input_length=36, horizon=12),
                      representation=rng.normal(size=8).astype(np.float32), source=src)
               for i, src in enumerate(sources)]
    Zoo(cfg, Extractor(**cfg), members).save(path)
    return path


def _rows(path: Path) -> list[dict]:
    return json.loads(path.read_text())["rows"]


@pytest.mark.data
def test_quick_multivariate_caches_and_merges(tmp_path: Path, capsys) -> None:
    _need_data()
    out = tmp_path / "res"
    assert main(["multivariate", "--quick", "--methods", "last,snaive", "--out", str(out),
                 "--no-progress"]) == 0
    md = (out / "quick" / "multivariate.md").read_text()
    assert "paper, not run here" in md and "SeasonalNaive (7)" in md and "geo-mean" in md
    doc = json.loads((out / "quick" / "multivariate.json").read_text())
    assert doc["meta"]["command"].startswith("python -m benchmarks.harness multivariate")
    assert {"git_commit", "versions", "cpu_count", "total_wall_seconds"} <= set(doc["meta"])
    rows = doc["rows"]
    assert {(r["method"], r["dataset"]) for r in rows} >= {("Last", "ETTh1"), ("Last", "Illness")}
    assert all(r["peak_rss_mb"] and "seconds" in r and r["subsampled"] for r in rows)
    assert not any(r["cached"] for r in rows)
    # rerun: cached; adding one method keeps the others (merge)
    assert main(["multivariate", "--quick", "--methods", "mean", "--out", str(out),
                 "--no-progress"]) == 0
    rows2 = _rows(out / "quick" / "multivariate.json")
    labels = {r["method"] for r in rows2}
    assert labels == {"Last", "Mean", "SeasonalNaive (7)"}
    assert all(r["cached"] for r in rows2 if r["method"] != "Mean")
    last = {r["dataset"]: r["mse"] for r in rows if r["method"] == "Last"}
    assert {r["dataset"]: r["mse"] for r in rows2 if r["method"] == "Last"} == last


@pytest.mark.data
@pytest.mark.baselines
def test_quick_multivariate_statsforecast_and_seqfusion(tmp_path: Path) -> None:
    _need_data()
    zoo = _tiny_zoo(tmp_path / "zoo")
    out = tmp_path / "res"
    rc = main(["multivariate", "--quick", "--datasets", "ETTh1", "--methods", "autotheta",
               "seqfusion", "--zoo", str(zoo), "--k", "2", "--max-windows", "40",
               "--out", str(out), "--no-progress"])
    assert rc == 0
    rows = _rows(out / "quick" / "multivariate.json")
    by = {r["key"]: r for r in rows}
    assert by["autotheta"]["stats"]["fits"] == 40 and by["autotheta"]["n_rows"] == 40
    assert by["seqfusion"]["method"] == "SeqFusion (k=2, zoo=zoo)"
    assert np.isfinite(by["seqfusion"]["mse"])


@pytest.mark.data
@pytest.mark.baselines
def test_quick_univariate(tmp_path: Path) -> None:
    out = tmp_path / "res"
    rc = main(["univariate", "--quick", "--out", str(out), "--no-progress"])
    assert rc == 0
    md = (out / "quick" / "univariate.md").read_text()
    assert "m3_yearly (12/6)" in md and "paper, not run here" in md
    rows = _rows(out / "quick" / "univariate.json")
    assert {r["n_series"] for r in rows} == {50}


@pytest.mark.baselines
def test_speed_with_tiny_zoo(tmp_path: Path) -> None:
    zoo = _tiny_zoo(tmp_path / "zoo")
    from benchmarks.harness.report import speed_markdown
    from benchmarks.harness.speed import run_speed

    res = run_speed(zoo, n_series=40, horizon=48, k=3, sf_series=3, repeats=2,
                    probe_import=False)
    s = res["seqfusion"]
    assert s["n_series"] == 40 and s["array_forecasts_per_s"] > 0
    assert res["zoo_size_bytes"] > 0 and res["zoo_members"] == 3
    assert res["statsforecast"]["AutoETS"]["n_series"] == 3
    wh = res["whole_history"]
    assert wh["n_series"] == 4 and wh["length"] == 500 and wh["forecasts_per_s"] > 0
    assert wh["statsforecast"]["AutoTheta"]["n_series"] == 3
    md = speed_markdown(res, {"versions": {}})
    assert "forecasts / s" in md and "whole histories (4 daily series of 500 points, H = 14" in md


def test_speed_cli_quick(tmp_path: Path) -> None:
    zoo = _tiny_zoo(tmp_path / "zoo")
    out = tmp_path / "res"
    assert main(["speed", "--quick", "--zoo", str(zoo), "--out", str(out)]) == 0
    doc = json.loads((out / "quick" / "speed.json").read_text())
    assert doc["result"]["import_and_load"]["load_s"] > 0
    assert doc["result"]["engine_threads"] >= 1


@pytest.mark.parametrize("argv", [
    ["multivariate", "--datasets", "Traffic"],
    ["multivariate", "--methods", "prophet"],
    ["multivariate", "--horizons", "0"],
    ["univariate", "--methods", "dlinear"],
    ["speed", "--zoo", "/nonexistent/zoo"],
    ["nonsense"],
    [],
])
def test_bad_input_is_one_line(argv: list[str], tmp_path: Path, capsys) -> None:
    rc = main([*argv, "--out", str(tmp_path)] if argv and argv[0] != "nonsense" else argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and err[0].startswith("python -m benchmarks.harness: error:")
