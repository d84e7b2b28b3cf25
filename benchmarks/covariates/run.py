"""Covariate benchmark: whole-history forecasts with covariates known over the horizon.

Protocol (as the whole-history benchmark's, :mod:`benchmarks.harness.realuse`):

* Data: :mod:`benchmarks.covariates.data` (one series per dataset, its covariates treated
  as known over the forecast).
* Origins: test: the last :data:`WINDOWS` windows of ``H`` points, ``H`` apart, ending at
  the end of the series; validation: the :data:`WINDOWS` windows before them (every target
  before the test origins).
  Designs are chosen on validation (``--sweep``), never on test.
* Context: every point before the origin (AutoARIMA: the last :data:`ARIMA_CAP`).
* Metrics: MASE (mean over windows of ``MAE / in-sample seasonal-naive MAE`` of the
  context), WQL over the levels 0.1 .. 0.9 pooled over a dataset's windows; the summary is
  the geometric mean over datasets of each method's MASE (WQL) over seqfusion's without
  covariates.
* Methods: ``seqfusion`` (no covariates), ``seqfusion_cov`` (the covariates),
  ``seqfusion_noise`` (two unrelated covariates instead, Gaussian noise and random
  events: the unrelated-covariate check), ``autoarima_x`` (statsforecast AutoARIMA with the covariates as exogenous
  regressors; season at most 24, else none; covariates constant in the context dropped;
  quantiles from its intervals), ``lgbm_x`` (mlforecast + LightGBM on lags
  ``1, 2, 3, m, 2m`` (``m`` the season), calendar features and the covariates, fitted on
  the whole context, recursive; quantiles from conformal intervals over 2 windows).
* Speed: seconds of ``predict_quantiles`` over a dataset's windows (one call, best of two),
  with over without covariates.

``python -m benchmarks.covariates.run --split validation|test`` writes
``benchmarks/results/covariates[_validation].{md,json}``; ``--sweep`` scores the
covariate method's design variants on validation (``covariates_sweep.{md,json}``).
"""
from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.covariates.data import READERS, Dataset, load
from benchmarks.harness.quantiles import QUANTILES, wql
from benchmarks.harness.realuse import origins, seasonal_naive_scale
from seqfusion import SeqFusion
from seqfusion import covariates as cov

METHODS = ("seqfusion", "seqfusion_cov", "seqfusion_noise", "autoarima_x", "lgbm_x")
#: windows per split and dataset
WINDOWS = 10
ARIMA_CAP = 500
ARIMA_MAX_SEASON = 24
LEVELS = (20, 40, 60, 80, 95)
SPEED_COPIES = 20
RESULTS = Path(__file__).resolve().parents[1] / "results"
#: design variants of the covariate method scored on validation (module settings of seqfusion.covariates)
#: each is the module's defaults with these settings changed
VARIANTS: dict[str, dict[str, Any]] = {
    "refit_levels_knots4": {"MODE": "refit", "DIFF_LAG": 0, "KNOTS": 4, "PHASES": False},
    "refit_lag1_knots4": {"MODE": "refit", "DIFF_LAG": 1, "KNOTS": 4, "PHASES": False},
    "refit_season_linear": {"MODE": "refit", "DIFF_LAG": "season", "KNOTS": 0, "PHASES": False},
    "refit_season_knots4": {"MODE": "refit", "DIFF_LAG": "season", "KNOTS": 4, "PHASES": False},
    "refit_season_auto": {"MODE": "refit", "DIFF_LAG": "season", "KNOTS": (0, 4), "PHASES": False},
    "refit_season_linear_gain90": {"MODE": "refit", "DIFF_LAG": "season", "KNOTS": 0, "PHASES": False,
                                   "MIN_GAIN": 0.9},
    "refit_season_linear_phases": {"MODE": "refit", "DIFF_LAG": "season", "KNOTS": 0, "PHASES": True},
    "refit_season_knots4_phases": {"MODE": "refit", "DIFF_LAG": "season", "KNOTS": 4, "PHASES": True},
    "refit_season_linear_phases_before": {"MODE": "refit", "DIFF_LAG": "season", "KNOTS": 0, "PHASES": True,
                                          "BEFORE_BACKTESTS": True},
    "refit_season_linear_phases_gain90": {"MODE": "refit", "DIFF_LAG": "season", "KNOTS": 0, "PHASES": True,
                                          "MIN_GAIN": 0.9},
    "both_season_linear": {"MODE": "both", "DIFF_LAG": "season", "KNOTS": 0, "PHASES": False},
    "both_season_linear_phases": {"MODE": "both", "DIFF_LAG": "season", "KNOTS": 0, "PHASES": True},
    "adjust_levels_knots4": {"MODE": "adjust", "DIFF_LAG": 0, "KNOTS": 4, "PHASES": False},
    "adjust_season_linear": {"MODE": "adjust", "DIFF_LAG": "season", "KNOTS": 0, "PHASES": False},
    "adjust_season_knots4": {"MODE": "adjust", "DIFF_LAG": "season", "KNOTS": 4, "PHASES": False},
    "adjust_season_linear_phases": {"MODE": "adjust", "DIFF_LAG": "season", "KNOTS": 0, "PHASES": True},
    # the shipped design with an additive effect only, and with a multiplicative one where
    # its back-test windows' error is lower
    "refit_additive": {"MODE": "refit", "DIFF_LAG": "season", "KNOTS": 0, "PHASES": True, "MULTIPLICATIVE": False},
    "refit_multiplicative": {"MODE": "refit", "DIFF_LAG": "season", "KNOTS": 0, "PHASES": True,
                             "MULTIPLICATIVE": True},
}


def _frames(d: Dataset, origin: int, uid: str, X: np.ndarray | None, names: Sequence[str]
            ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The history frame before ``origin`` (with covariates ``X`` when given) and X_df."""
    H = d.horizon
    hist = pd.DataFrame({"unique_id": uid, "ds": d.ds[:origin], "y": d.y[:origin]})
    if X is None:
        return hist, None
    fut = pd.DataFrame({"unique_id": uid, "ds": d.ds[origin: origin + H]})
    for j, c in enumerate(names):
        hist[c] = X[:origin, j]
        fut[c] = X[origin: origin + H, j]
    return hist, fut


def noise_covariates(d: Dataset, seed: int = 0) -> np.ndarray:
    """Two unrelated covariates, one value per point of the series: Gaussian noise, and
    random events (1 on a random tenth of the points, 0 elsewhere)."""
    rng = np.random.default_rng(seed + sum(map(ord, d.name)))
    return np.stack([rng.normal(size=len(d.y)), (rng.random(len(d.y)) < 0.1).astype(float)], axis=1)


def _quantile_array(frame: pd.DataFrame, n: int, H: int) -> tuple[np.ndarray, np.ndarray]:
    point = frame["y"].to_numpy().reshape(n, H)
    q = np.stack([frame[f"q{v:g}"].to_numpy().reshape(n, H) for v in QUANTILES], axis=2)
    return point, q


def run_seqfusion(model: SeqFusion, d: Dataset, starts: Sequence[int], mode: str
                  ) -> tuple[np.ndarray, np.ndarray, float]:
    """``mode``: ``plain``, ``cov`` or ``noise``; all windows in one call (each window's
    forecast does not depend on the others'); seconds: best of two."""
    X = {"plain": None, "cov": d.X, "noise": noise_covariates(d)}[mode]
    names = d.names if mode == "cov" else ["noise_1", "noise_2"]
    parts = [_frames(d, o, f"w{k}", X, names) for k, o in enumerate(starts)]
    hist = pd.concat([p[0] for p in parts], ignore_index=True)
    fut = None if X is None else pd.concat([p[1] for p in parts if p[1] is not None], ignore_index=True)
    best = math.inf
    out = None
    for _ in range(2):
        t0 = time.perf_counter()
        out = model.predict_quantiles(hist, d.horizon, quantiles=list(QUANTILES), freq=d.freq, X_df=fut)
        best = min(best, time.perf_counter() - t0)
    assert out is not None
    point, q = _quantile_array(out, len(starts), d.horizon)
    return point, q, best


def speed(model: SeqFusion, d: Dataset, starts: Sequence[int], copies: int = SPEED_COPIES) -> dict[str, float]:
    """Seconds of one ``predict_quantiles`` call on ``copies`` copies of the windows (as
    that many series; best of three), without covariates, with them and with noise."""
    out: dict[str, float] = {}
    for mode in ("plain", "cov", "noise"):
        X = {"plain": None, "cov": d.X, "noise": noise_covariates(d)}[mode]
        names = d.names if mode == "cov" else ["noise_1", "noise_2"]
        parts = [_frames(d, o, f"c{c}_w{k}", X, names) for c in range(copies) for k, o in enumerate(starts)]
        hist = pd.concat([p[0] for p in parts], ignore_index=True)
        fut = None if X is None else pd.concat([p[1] for p in parts if p[1] is not None], ignore_index=True)
        best = math.inf
        for _ in range(3):
            t0 = time.perf_counter()
            model.predict_quantiles(hist, d.horizon, quantiles=list(QUANTILES), freq=d.freq, X_df=fut)
            best = min(best, time.perf_counter() - t0)
        out[mode] = best
    return out


def _levels_to_quantiles(frame: pd.DataFrame, name: str, n: int, H: int) -> np.ndarray:
    cols = []
    for v in QUANTILES:
        if abs(v - 0.5) < 1e-9:
            cols.append(frame[name])
        elif v < 0.5:
            cols.append(frame[f"{name}-lo-{round((1 - 2 * v) * 100)}"])
        else:
            cols.append(frame[f"{name}-hi-{round((2 * v - 1) * 100)}"])
    return np.stack([c.to_numpy().reshape(n, H) for c in cols], axis=2)


def run_arimax(d: Dataset, starts: Sequence[int]) -> tuple[np.ndarray, np.ndarray, float]:
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA

    H = d.horizon
    m = d.season if d.season <= ARIMA_MAX_SEASON else 1
    points, qs = [], []
    t0 = time.perf_counter()
    for o in starts:
        lo = max(0, o - ARIMA_CAP)
        keep = [j for j in range(d.X.shape[1]) if np.ptp(d.X[lo:o, j]) > 0]
        names = [d.names[j] for j in keep]
        hist, fut = _frames(d, o, "w", d.X[:, keep], names)
        hist = hist.iloc[lo:].reset_index(drop=True)
        sf = StatsForecast(models=[AutoARIMA(season_length=m)], freq=d.freq, n_jobs=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                out = sf.forecast(df=hist, h=H, X_df=fut if names else None, level=list(LEVELS))
            except Exception:  # a singular regression: the model without covariates
                out = sf.forecast(df=hist[["unique_id", "ds", "y"]], h=H, level=list(LEVELS))
        points.append(out["AutoARIMA"].to_numpy())
        qs.append(_levels_to_quantiles(out, "AutoARIMA", 1, H)[0])
    return np.stack(points), np.stack(qs), time.perf_counter() - t0


def _date_features(freq: str) -> list[str]:
    return ["dayofweek"] if freq == "D" else ["dayofweek", "hour"]


def run_lgbm(d: Dataset, starts: Sequence[int]) -> tuple[np.ndarray, np.ndarray, float]:
    import lightgbm as lgb
    from mlforecast import MLForecast
    from mlforecast.utils import PredictionIntervals

    H = d.horizon
    m = d.season
    lags = sorted({1, 2, 3, m, 2 * m})
    points, qs = [], []
    t0 = time.perf_counter()
    for o in starts:
        hist, fut = _frames(d, o, "w", d.X, d.names)
        model = lgb.LGBMRegressor(n_estimators=200, learning_rate=0.05, num_leaves=31, verbosity=-1, n_jobs=1,
                                  random_state=0)
        fc = MLForecast(models={"lgbm": model}, freq=d.freq, lags=lags, date_features=_date_features(d.freq))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fc.fit(hist, static_features=[], prediction_intervals=PredictionIntervals(n_windows=2, h=H))
            out = fc.predict(H, X_df=fut, level=list(LEVELS))
        points.append(out["lgbm"].to_numpy())
        qs.append(_levels_to_quantiles(out, "lgbm", 1, H)[0])
    return np.stack(points), np.stack(qs), time.perf_counter() - t0


def score(d: Dataset, starts: Sequence[int], point: np.ndarray, q: np.ndarray) -> dict[str, float]:
    H = d.horizon
    y = np.stack([d.y[o: o + H] for o in starts])
    mase = []
    for k, o in enumerate(starts):
        scale, _ = seasonal_naive_scale(d.y[:o], d.season)
        if scale > 0:
            mase.append(float(np.mean(np.abs(y[k] - point[k]))) / scale)
    qs = np.sort(q, axis=2)  # intervals of the baselines may cross at the median
    return {"mase": float(np.mean(mase)), "wql": wql(y, qs)}


def run_dataset(name: str, split: str, methods: Sequence[str], model: SeqFusion, with_speed: bool = False
                ) -> dict[str, Any]:
    d = load(name)
    starts = origins(len(d.y), d.horizon, split, n_origins=WINDOWS)
    row: dict[str, Any] = {"dataset": name, "split": split, "windows": len(starts), "horizon": d.horizon,
                           "length": len(d.y), "covariates": d.names, "note": d.note, "methods": {}}
    runners: dict[str, Callable[[], tuple[np.ndarray, np.ndarray, float]]] = {
        "seqfusion": lambda: run_seqfusion(model, d, starts, "plain"),
        "seqfusion_cov": lambda: run_seqfusion(model, d, starts, "cov"),
        "seqfusion_noise": lambda: run_seqfusion(model, d, starts, "noise"),
        "autoarima_x": lambda: run_arimax(d, starts),
        "lgbm_x": lambda: run_lgbm(d, starts),
    }
    for method in methods:
        point, q, seconds = runners[method]()
        row["methods"][method] = {**score(d, starts, point, q), "seconds": seconds}
    if with_speed:
        row["speed"] = speed(model, d, starts)
    return row


def geomean(values: Sequence[float]) -> float | None:
    vals = [v for v in values if v is not None and np.isfinite(v) and v > 0]
    return float(np.exp(np.mean(np.log(vals)))) if vals else None


def summarize(rows: Sequence[dict[str, Any]], methods: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for method in methods:
        got = [r for r in rows if method in r["methods"] and "seqfusion" in r["methods"]]
        rel = {metric: geomean([r["methods"][method][metric] / r["methods"]["seqfusion"][metric] for r in got])
               for metric in ("mase", "wql")}
        rel["seconds_ratio"] = geomean([r["methods"][method]["seconds"] / r["methods"]["seqfusion"]["seconds"]
                                        for r in got])
        out[method] = rel
    timed = [r["speed"] for r in rows if "speed" in r]
    if timed:
        out["speed"] = {"cov_over_plain": geomean([t["cov"] / t["plain"] for t in timed]),
                        "noise_over_plain": geomean([t["noise"] / t["plain"] for t in timed]),
                        "worst_cov_over_plain": max(t["cov"] / t["plain"] for t in timed)}
    return out


def markdown(rows: Sequence[dict[str, Any]], summary: dict[str, Any], methods: Sequence[str], title: str,
             design: dict[str, Any]) -> str:
    lines = [f"# {title}", "", "Written by `python -m benchmarks.covariates.run` (protocol: its docstring). "
             f"Covariate method design: `{json.dumps(design)}`.", "",
             "## Geometric mean over datasets, relative to seqfusion without covariates", "",
             "| method | MASE ratio | WQL ratio | time ratio |", "|---|---|---|---|"]
    for m in methods:
        s = summary[m]
        lines.append(f"| {m} | {_f(s['mase'])} | {_f(s['wql'])} | {_f(s['seconds_ratio'])} |")
    lines += ["", "## Per dataset", "", "| dataset | windows | " + " | ".join(f"{m} MASE" for m in methods)
              + " | " + " | ".join(f"{m} WQL" for m in methods) + " |",
              "|---|---|" + "---|" * (2 * len(methods))]
    for r in rows:
        mm = r["methods"]
        lines.append(f"| {r['dataset']} | {r['windows']} | "
                     + " | ".join(_f(mm[m]["mase"]) if m in mm else "" for m in methods) + " | "
                     + " | ".join(_f(mm[m]["wql"]) if m in mm else "" for m in methods) + " |")
    lines += ["", "## Seconds per dataset (all windows)", "", "| dataset | " + " | ".join(methods) + " |",
              "|---|" + "---|" * len(methods)]
    for r in rows:
        mm = r["methods"]
        lines.append(f"| {r['dataset']} | " + " | ".join(f"{mm[m]['seconds']:.2f}" if m in mm else ""
                                                         for m in methods) + " |")
    timed = [r for r in rows if "speed" in r]
    if timed:
        lines += ["", _speed_table(timed)]
    lines += ["", "## Datasets", ""]
    lines += [f"- **{r['dataset']}** ({r['length']} points, H = {r['horizon']}): {r['note']}; covariates: "
              f"{', '.join(r['covariates'])}" for r in rows]
    return "\n".join(lines) + "\n"


def _speed_table(timed: Sequence[dict[str, Any]]) -> str:
    lines = [f"## Speed: one predict_quantiles call on {SPEED_COPIES} copies of the windows (best of 3)", "",
             "| dataset | series | without covariates (s) | with (s) | ratio | with noise (s) | ratio |",
             "|---|---|---|---|---|---|---|"]
    for r in timed:
        t = r["speed"]
        lines.append(f"| {r['dataset']} | {SPEED_COPIES * r['windows']} | {t['plain']:.3f} | {t['cov']:.3f} | "
                     f"{t['cov'] / t['plain']:.2f} | {t['noise']:.3f} | {t['noise'] / t['plain']:.2f} |")
    cov_g = geomean([r["speed"]["cov"] / r["speed"]["plain"] for r in timed])
    noise_g = geomean([r["speed"]["noise"] / r["speed"]["plain"] for r in timed])
    lines.append(f"| geometric mean | | | | {_f(cov_g)} | | {_f(noise_g)} |")
    return "\n".join(lines)


def speed_markdown(timed: Sequence[dict[str, Any]]) -> str:
    return ("# Covariates: speed\n\nWritten by `python -m benchmarks.covariates.run --speed-only` (validation "
            f"windows; covariate method design `{json.dumps(design())}`), on a machine shared with other work.\n\n"
            + _speed_table(timed) + "\n")


def _f(v: float | None) -> str:
    return "" if v is None else f"{v:.3f}"


def design() -> dict[str, Any]:
    return {"MODE": cov.MODE, "ANCHORS": list(cov.ANCHORS), "DIFF_LAG": cov.DIFF_LAG, "KNOTS": cov.KNOTS,
            "PHASES": cov.PHASES, "BEFORE_BACKTESTS": cov.BEFORE_BACKTESTS,
            "MIN_GAIN": cov.MIN_GAIN, "PENALTIES": list(cov.PENALTIES),
            "REG_HISTORY": cov.REG_HISTORY, "MULTIPLICATIVE": cov.MULTIPLICATIVE}


def sweep(datasets: Sequence[str], out: Path, with_speed: bool = True, labels: Sequence[str] | None = None,
          stem: str = "covariates_sweep") -> None:
    """Each design variant's (``labels``: these only) seqfusion_cov (and seqfusion_noise) on
    validation origins; writes ``<stem>.{md,json}``."""
    model = SeqFusion.from_pretrained()
    variants = {k: v for k, v in VARIANTS.items() if labels is None or k in labels}
    saved = {k: getattr(cov, k) for v in variants.values() for k in v}
    results: dict[str, Any] = {}
    base = {name: run_dataset(name, "validation", ["seqfusion"], model) for name in datasets}
    try:
        for label, settings in variants.items():
            for k, v in {**saved, **settings}.items():  # the defaults, then the variant's changes
                setattr(cov, k, v)
            rows = []
            for name in datasets:
                row = run_dataset(name, "validation", ["seqfusion_cov", "seqfusion_noise"], model,
                                  with_speed=with_speed)
                row["methods"]["seqfusion"] = base[name]["methods"]["seqfusion"]
                rows.append(row)
            results[label] = {"settings": settings, "rows": rows,
                              "summary": summarize(rows, ["seqfusion_cov", "seqfusion_noise"])}
            print(label, json.dumps(results[label]["summary"]), flush=True)
    finally:
        for k, v in saved.items():
            setattr(cov, k, v)
    (out / f"{stem}.json").write_text(json.dumps(results, indent=1))
    command = f" --variants {' '.join(variants)} --stem {stem}" if labels else ""
    lines = ["# Covariate method: design variants on validation origins", "",
             f"Written by `python -m benchmarks.covariates.run --sweep{command}`. Geometric mean over datasets of "
             "MASE / WQL "
             "relative to seqfusion without covariates (validation origins only).", "",
             "| variant | settings | cov MASE | cov WQL | noise MASE | noise WQL | time ratio | noise time ratio | "
             + " | ".join(f"{d} cov MASE" for d in datasets) + " |",
             "|---|---|---|---|---|---|---|---|" + "---|" * len(datasets)]
    for label, r in results.items():
        s = r["summary"]
        per = [x["methods"]["seqfusion_cov"]["mase"] / x["methods"]["seqfusion"]["mase"] for x in r["rows"]]
        lines.append(f"| {label} | `{json.dumps(r['settings'])}` | {_f(s['seqfusion_cov']['mase'])} | "
                     f"{_f(s['seqfusion_cov']['wql'])} | {_f(s['seqfusion_noise']['mase'])} | "
                     f"{_f(s['seqfusion_noise']['wql'])} | {_f(s.get('speed', {}).get('cov_over_plain'))} | "
                     f"{_f(s.get('speed', {}).get('noise_over_plain'))} | " + " | ".join(_f(p) for p in per) + " |")
    (out / f"{stem}.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--split", choices=["test", "validation"], default="validation")
    p.add_argument("--datasets", nargs="+", default=list(READERS), choices=list(READERS))
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--sweep", action="store_true", help="score the design variants on validation origins")
    p.add_argument("--variants", nargs="+", default=None, choices=list(VARIANTS),
                   help="with --sweep: these variants only (results: <stem>.*)")
    p.add_argument("--stem", default="covariates_sweep_subset", help="with --variants: the results' file name")
    p.add_argument("--no-speed", action="store_true", help="skip the speed check")
    p.add_argument("--speed-only", action="store_true",
                   help="only the speed check (validation origins): covariates_speed.{md,json}")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.sweep:
        sweep(args.datasets, args.out, not args.no_speed, args.variants,
              "covariates_sweep" if args.variants is None else args.stem)
        return 0
    model = SeqFusion.from_pretrained()
    if args.speed_only:
        timed = []
        for name in args.datasets:
            d = load(name)
            starts = origins(len(d.y), d.horizon, "validation", n_origins=WINDOWS)
            timed.append({"dataset": name, "windows": len(starts), "speed": speed(model, d, starts)})
            print(name, json.dumps(timed[-1]["speed"]), flush=True)
        (args.out / "covariates_speed.json").write_text(json.dumps({"design": design(), "rows": timed}, indent=1))
        (args.out / "covariates_speed.md").write_text(speed_markdown(timed))
        return 0
    rows = []
    for name in args.datasets:
        rows.append(run_dataset(name, args.split, args.methods, model, with_speed=not args.no_speed))
        print(name, json.dumps({m: {k: round(v, 4) for k, v in s.items()} for m, s in rows[-1]["methods"].items()}),
              flush=True)
    summary = summarize(rows, args.methods)
    stem = "covariates" if args.split == "test" else "covariates_validation"
    payload = {"split": args.split, "design": design(), "summary": summary, "rows": rows}
    (args.out / f"{stem}.json").write_text(json.dumps(payload, indent=1))
    title = f"Covariate benchmark ({args.split} origins)"
    (args.out / f"{stem}.md").write_text(markdown(rows, summary, args.methods, title, design()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
