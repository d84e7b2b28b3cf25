"""What the sweeps share: the validation scores (whole-history point and quantile
forecasts, the 36-point protocol's validation windows), a module constant changed for a
block, and writing the results."""
from __future__ import annotations

import contextlib
import json
import math
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks.harness.report import run_metadata

OUT = Path(__file__).resolve().parents[1] / "results"


def realuse_validation(zoo: str | None, competition_zoo: str) -> dict[str, Any]:
    """The default SeqFusion row of the whole-history validation split (computed afresh, no
    cache): geometric mean and per-dataset MASE relative to SeasonalNaive. ``zoo``: the zoo
    of the non-competition datasets (None: the shipped one)."""
    from benchmarks.harness.cli import main as harness

    with tempfile.TemporaryDirectory() as tmp:
        code = harness(["realuse", "--split", "validation", "--methods", "seqfusion",
                        *(["--zoo", zoo] if zoo else []), "--competition-zoo", competition_zoo,
                        "--out", tmp, "--no-progress", "--no-cache"])
        if code != 0:
            raise SystemExit(f"realuse run failed ({code})")
        res = json.loads((Path(tmp) / "realuse_validation.json").read_text())
    label = next(k for k in res["summary"] if k.startswith("SeqFusion (default"))
    per = {r["dataset"]: r["relative_mase"] for r in res["rows"] if r["method"] == label}
    return {"geomean": float(res["summary"][label]["geomean"]), "per_dataset": per}


def realuse_quantile_validation(zoo: str | None, competition_zoo: str) -> dict[str, Any]:
    """The SeqFusion quantile row of the whole-history validation split (computed afresh,
    no cache): geometric mean of WQL relative to SeasonalNaive's (residual sigma, normal) on
    the same windows, pooled coverage of the 80% and 95% intervals, per-dataset relative WQL."""
    from benchmarks.harness.cli import main as harness

    with tempfile.TemporaryDirectory() as tmp:
        code = harness(["realuse", "--quantiles", "--split", "validation", "--methods", "seqfusion",
                        *(["--zoo", zoo] if zoo else []), "--competition-zoo", competition_zoo,
                        "--out", tmp, "--no-progress", "--no-cache"])
        if code != 0:
            raise SystemExit(f"realuse quantile run failed ({code})")
        res = json.loads((Path(tmp) / "realuse_quantiles_validation.json").read_text())
    label = next(k for k in res["summary"] if k.startswith("SeqFusion"))
    s = res["summary"][label]
    per = {r["dataset"]: r["relative_wql"] for r in res["rows"] if r["method"] == label}
    return {"geomean": float(s["geomean_relative_wql"]), "coverage_80": float(s["coverage_80_pooled"]),
            "coverage_95": float(s["coverage_95_pooled"]), "per_dataset": per}


#: the 36-point protocol's datasets (``benchmarks.harness.ablations``) and the rows scored
#: per dataset on their validation windows (an evenly spaced subsample, as the harness's)
PROTOCOL_DATASETS = ("ECL", "ETTh1", "ETTh2", "Exchange", "Illness", "Weather")
PROTOCOL_ROWS = 2000


def protocol_validation(make: Callable[[Any], Callable[..., Any]], rows: int = PROTOCOL_ROWS,
                        datasets: tuple[str, ...] = PROTOCOL_DATASETS) -> dict[str, Any]:
    """Point forecasts on the validation windows of the 36-point protocol
    (``benchmarks.harness.validation``: the rows before each dataset's test rows; scaler
    fitted on the first 70% as in the test protocol): geometric mean over datasets of MSE
    relative to SeasonalNaive (7) on the same rows (mean over the protocol's horizons).
    ``make(data)`` returns the method ``(x [n, 36], horizon) -> [n, horizon]``."""
    from benchmarks.harness.ablations import seasonal_naive_method
    from benchmarks.harness.protocol import HORIZONS, evaluate
    from benchmarks.harness.validation import load_split

    per: dict[str, float] = {}
    for ds in datasets:
        data = load_split(ds, "validation")
        own = evaluate(make(data), data, HORIZONS, max_rows=rows).mse
        ref = evaluate(seasonal_naive_method, data, HORIZONS, max_rows=rows).mse
        per[ds] = own / ref
    return {"geomean": math.exp(sum(math.log(v) for v in per.values()) / len(per)), "per_dataset": per}


def protocol_quantile_validation(model: Any, rows: int = PROTOCOL_ROWS,
                                 datasets: tuple[str, ...] = PROTOCOL_DATASETS) -> dict[str, Any]:
    """Quantile forecasts (``model.predict_histories`` of the 36-point contexts, as the
    harness's ``multivariate --quantiles`` row) on the same validation windows: geometric
    mean over datasets of WQL relative to SeasonalNaive (7, residual sigma, normal), pooled
    coverage of the 80% and 95% intervals. Every history is one zoo input: no back-test."""
    from benchmarks.harness.protocol import HORIZONS, resolve_dataset
    from benchmarks.harness.quantile_methods import SeasonalNaiveQuantiles, SeqFusionQuantiles
    from benchmarks.harness.quantile_runs import MV_SNAIVE_PERIOD, evaluate_multivariate, multivariate_scores
    from benchmarks.harness.validation import load_split

    per: dict[str, float] = {}
    inside80 = inside95 = points = 0.0
    for ds in datasets:
        data = load_split(ds, "validation")
        method = SeqFusionQuantiles(None, resolve_dataset(ds).freq, 1)
        method._model = model
        own = evaluate_multivariate(method, data, HORIZONS, max_rows=rows)
        ref = evaluate_multivariate(SeasonalNaiveQuantiles(MV_SNAIVE_PERIOD), data, HORIZONS, max_rows=rows)
        sc = multivariate_scores(own, ref)
        per[ds] = float(sc["relative_wql"])
        inside80 += sc["coverage_80"] * sc["n_points"]
        inside95 += sc["coverage_95"] * sc["n_points"]
        points += sc["n_points"]
    return {"geomean": math.exp(sum(math.log(v) for v in per.values()) / len(per)),
            "coverage_80": inside80 / points, "coverage_95": inside95 / points, "per_dataset": per}


@contextlib.contextmanager
def constant(module: Any, name: str, value: Any) -> Iterator[None]:
    """``module.<name> = value`` inside the block (restored after)."""
    saved = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, saved)


def write_results(name: str, res: dict[str, Any], markdown: Callable[[dict[str, Any]], str], out: str | Path,
                  argv: list[str] | None, started: float) -> None:
    """Record how ``res`` was made (``python -m benchmarks.sweeps.<name> ARGS``) and write
    ``sweep_<name>.json`` and ``sweep_<name>.md`` into ``out``; print the markdown."""
    given = sys.argv[1:] if argv is None else argv
    res["meta"] = run_metadata(["-m", f"benchmarks.sweeps.{name}", *given], started)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"sweep_{name}.json").write_text(json.dumps(res, indent=1, default=float))
    text = markdown(res)
    (folder / f"sweep_{name}.md").write_text(text)
    print(text)
