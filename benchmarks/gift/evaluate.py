"""SeqFusion on the GIFT-Eval configs the shared data rebuilds, next to the published models.

Model: ``SeqFusion.from_pretrained()`` (the shipped default zoo, or ``--zoo DIR``) on whole
histories: each test window's full history goes to
``predict_histories(histories, H, freq=<the config's pandas frequency>, quantiles=0.1..0.9)``.
Scoring follows ``protocol.py``: MASE of the median (the 0.5 quantile; GIFT-Eval's
``MASE[0.5]``) and CRPS as the mean weighted quantile loss over 0.1..0.9. The MASE of the
point forecast (``predict_histories`` without quantiles) is reported too.

Comparison: on the 8 configs rebuilt from the same series as GIFT-Eval ("same"), MASE and
CRPS divided by the published ``seasonal_naive`` of the config (ours equals it to about
1e-7), per config and as geometric means, next to the published models of
``published.csv``. On the approximate configs (same source, built differently) the ratios
use our SeasonalNaive on our data, and the published SeasonalNaive is shown next to ours.

Leakage ("trained on", GIFT-Eval's ``testdata_leakage`` idea, per config): the zoo's
manifest (``zoo.json``) names the sources the zoo learned from and where (shipped and
pruned members, extractor, transfer matrix, router); a config is marked when one of those
sources holds its series (:data:`DATA_SOURCES`), and "incl. test" when that source's file
also holds the config's test windows (:data:`HOLDS_TEST`).

The code under test is the working tree (default), or with ``--rev REV`` ``src/seqfusion``
of commit REV (exported with ``git archive`` into a temporary folder that goes first on
``PYTHONPATH``), so edits in progress in the tree do not enter the run.

Usage (from the repository root):
``python -m benchmarks.gift.evaluate [--rev HEAD] [--data DIR] [--out DIR] [--configs a,b] [--zoo DIR]``
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.gift.protocol import (
    CONFIGS,
    QUANTILES,
    Task,
    build_task,
    last_value_impute,
    mase,
    parse_freq,
    weighted_quantile_loss,
)
from benchmarks.gift.seasonal_naive import CRPS_COLUMN, MASE_COLUMN
from benchmarks.gift.seasonal_naive import score as seasonal_naive_score

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
OURS = "seqfusion"
BASELINE = "seasonal_naive"

#: published models shown next to ours (``model`` folder names in ``published.csv``)
MODELS: tuple[str, ...] = (
    "chronos-2", "TiRex", "TimesFM-2.5", "TTM-R3-PT", "FlowState-r1.1", "Moirai2", "Toto-2.0-4m",
    "Reverso-Nano", "chronos_bolt_small", "auto_arima", "auto_theta", "auto_ets", "seasonal_naive", "naive",
)

#: the config's frequency code -> the pandas frequency passed to ``predict_histories``
PANDAS_FREQ = {"H": "h", "D": "D", "W": "W", "M": "M", "Q": "Q", "A": "Y", "T": "min", "S": "s", "B": "B"}

#: GIFT-Eval dataset key (first part of a config name) -> the zoo-build sources
#: (``src/seqfusion/training/data/sources.toml`` names) that hold the same series. ETT and
#: Jena weather are benchmark targets in the shared data: no build source holds them.
DATA_SOURCES: dict[str, tuple[str, ...]] = {
    "m4_hourly": ("m4_hourly",),
    "m4_weekly": ("m4_weekly",),
    "hospital": ("hospital",),
    "car_parts": ("carparts",),
    "solar": ("solar_weekly",),       # the same 137 Alabama plants, aggregated weekly otherwise
    "ett1": (),
    "ett2": (),
    "jena_weather": (),
}
#: whether the source's file holds the config's test windows: the M4 sources are the
#: competition train files (GIFT-Eval's M4 test window is the competition test part);
#: hospital and carparts are the full series; solar_weekly is read with its results file
HOLDS_TEST: dict[str, bool] = {
    "m4_hourly": False, "m4_weekly": False, "hospital": True, "carparts": True, "solar_weekly": True,
}
#: what the default zoo (``src/seqfusion/default_zoo``, build of 2026-12-02) took from each
#: such source, read from its build code (split 0.2, zoo horizon 12, context 36)
DEFAULT_ZOO_NOTES: dict[str, str] = {
    "m4_hourly": "M4 hourly train file (test part excluded): extractor inputs, transfer matrix, router "
                 "windows; its two members were pruned. GIFT-Eval's test window (the competition test part) "
                 "was not seen, the histories were.",
    "m4_weekly": "M4 weekly train file (test part excluded): same roles as M4 hourly; members pruned. Test "
                 "window not seen, histories were.",
    "hospital": "full 84-month series: the shipped member hospital_dlinear trained on the first 67 months; "
                "the held-out last 17 months (incl. the 12-month test window) fed the transfer matrix and "
                "3,000 router windows.",
    "carparts": "router only: 500 of the 2,674 series (51 months, too short to split) went whole, test window "
                "included, to the router's held-out pool, from which 230 windows were drawn.",
    "solar_weekly": "Monash solar_weekly (52 weeks incl. results): extractor inputs and transfer matrix; its "
                    "member was pruned. Same plants as GIFT-Eval's solar/W, weeks cut differently.",
}


# ---------------------------------------------------------------------------
# forecasting and scoring


def pandas_freq(freq: str) -> str:
    """The pandas frequency string for a config's frequency: ``"H"`` -> ``"h"``, ``"2H"`` -> ``"2h"``."""
    n, code = parse_freq(freq)
    if code not in PANDAS_FREQ:
        raise ValueError(f"no pandas frequency for {freq!r}")
    return (str(n) if n > 1 else "") + PANDAS_FREQ[code]


def model_histories(task: Task, min_length: int) -> tuple[list[np.ndarray], int]:
    """Each window's whole history as given (missing values kept: the model fills them),
    except a history with fewer than ``min_length`` present values, which the model
    rejects: that one is filled as GIFT-Eval's baselines do (last value; all missing ->
    zeros). Returns the histories and how many were filled."""
    out, filled = [], 0
    for w in task.windows:
        if int(np.isfinite(w.history).sum()) < min_length:
            out.append(last_value_impute(w.history))
            filled += 1
        else:
            out.append(w.history)
    return out, filled


def forecast(model: Any, task: Task, quantiles: Sequence[float] = QUANTILES) -> dict[str, Any]:
    """Quantile forecasts ``[n, Q, H]`` (the layout of ``weighted_quantile_loss``) and point
    forecasts ``[n, H]`` of every window of ``task``, with timings."""
    histories, filled = model_histories(task, int(getattr(model, "min_length", 1)))
    freq = pandas_freq(task.config.freq)
    n, h = len(task.windows), task.horizon
    t0 = time.perf_counter()
    q = np.asarray(model.predict_histories(histories, h, freq=freq, quantiles=list(quantiles)), dtype=np.float64)
    t1 = time.perf_counter()
    point = np.asarray(model.predict_histories(histories, h, freq=freq), dtype=np.float64)
    t2 = time.perf_counter()
    if q.shape != (n, h, len(quantiles)):
        raise ValueError(f"quantile forecasts of shape {q.shape}, expected {(n, h, len(quantiles))}")
    if point.shape != (n, h):
        raise ValueError(f"point forecasts of shape {point.shape}, expected {(n, h)}")
    return {"quantiles": q.transpose(0, 2, 1), "point": point, "freq": freq, "filled": filled,
            "quantile_seconds": t1 - t0, "point_seconds": t2 - t1}


def score_forecasts(task: Task, quantile_forecasts: np.ndarray, point: np.ndarray,
                    quantiles: Sequence[float] = QUANTILES) -> dict[str, float]:
    """MASE of the median (``mase``, GIFT-Eval's ``MASE[0.5]``), MASE of the point forecast
    (``mase_point``), CRPS (mean weighted quantile loss) and the largest gap between the
    median and the point forecast relative to the largest |point| (``median_point_gap``)."""
    levels = [round(float(x), 10) for x in quantiles]
    if 0.5 not in levels:
        raise ValueError("the quantiles must include 0.5 (MASE is of the median)")
    median = quantile_forecasts[:, levels.index(0.5), :]
    scale = max(float(np.max(np.abs(point))), 1e-300)
    return {
        "mase": mase(task.windows, median, task.season),
        "mase_point": mase(task.windows, point, task.season),
        "crps": weighted_quantile_loss(task.futures, quantile_forecasts, quantiles),
        "median_point_gap": float(np.max(np.abs(median - point))) / scale,
    }


# ---------------------------------------------------------------------------
# comparison with the published results


def geomean(values: Sequence[float]) -> float:
    """Geometric mean; NaN when empty or when a value is not a positive finite number."""
    x = np.asarray(list(values), dtype=np.float64)
    if x.size == 0 or not np.all(np.isfinite(x) & (x > 0)):
        return math.nan
    return float(np.exp(np.mean(np.log(x))))


def published_table(path: Path = HERE / "published.csv") -> pd.DataFrame:
    """``published.csv`` indexed by (model, config) with columns ``mase``, ``crps``, ``leakage``, ``type``."""
    df = pd.read_csv(path)
    df = df.rename(columns={MASE_COLUMN: "mase", CRPS_COLUMN: "crps", "dataset": "config",
                            "testdata_leakage": "leakage", "model_type": "type"})
    return df.set_index(["model", "config"])[["mase", "crps", "leakage", "type"]]


def relative_scores(ours: Mapping[str, Mapping[str, float]], published: pd.DataFrame, configs: Sequence[str],
                    models: Sequence[str] = MODELS) -> dict[str, dict[str, dict[str, float]]]:
    """``{model: {config: {"mase": x, "crps": y}}}``: each model's MASE and CRPS divided by
    the published ``seasonal_naive`` of the config; ``ours`` (``{config: {"mase", "crps"}}``)
    enters as :data:`OURS`. Missing published values give NaN."""
    def get(model: str, config: str, metric: str) -> float:
        key = (model, config)
        return float(published.loc[key, metric]) if key in published.index else math.nan

    out: dict[str, dict[str, dict[str, float]]] = {}
    for model in (OURS, *models):
        out[model] = {}
        for c in configs:
            row = {}
            for metric in ("mase", "crps"):
                value = float(ours[c][metric]) if model == OURS else get(model, c, metric)
                row[metric] = value / get(BASELINE, c, metric)
            out[model][c] = row
    return out


Relative = Mapping[str, Mapping[str, Mapping[str, float]]]


def geomeans(rel: Relative, configs: Sequence[str]) -> dict[str, dict[str, float]]:
    """``{model: {"mase": g, "crps": g}}``: geometric means of the ratios over ``configs``."""
    return {m: {k: geomean([rel[m][c][k] for c in configs]) for k in ("mase", "crps")} for m in rel}


# ---------------------------------------------------------------------------
# leakage


def zoo_roles(manifest: Mapping[str, Any]) -> dict[str, list[str]]:
    """Source name -> where the zoo learned from it, read from a zoo manifest
    (``zoo.json``: ``info`` and ``ptms``). Sub-dataset keys such as ``fred_md@12`` count
    for their source."""
    roles: dict[str, list[str]] = {}

    def add(name: Any, role: str) -> None:
        if not name:
            return
        base = str(name).split("@")[0]
        if role not in roles.setdefault(base, []):
            roles[base].append(role)

    info = manifest.get("info", {})
    for p in manifest.get("ptms", []):
        add(p.get("source"), "member")
    pruned = set(info.get("pruned", []))
    for m in info.get("config", {}).get("members", []):
        if m.get("name") in pruned:
            add(m.get("source"), "pruned member")
    for key in info.get("extractor_training", {}).get("pool_counts", {}):
        add(key, "extractor")
    for key in info.get("transfer", {}).get("cols", []):
        add(key, "transfer matrix")
    for key in info.get("router", {}).get("groups", {}):
        add(key, "router")
    return roles


def leakage(config_name: str, roles: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """Whether the zoo learned from ``config_name``'s series: ``mark`` is ``"no"``,
    ``"yes, histories"`` (its source lacks the test windows), ``"yes, incl. test"`` or
    ``"unknown"`` (a dataset :data:`DATA_SOURCES` does not list)."""
    key = config_name.split("/")[0]
    if key not in DATA_SOURCES:
        return {"mark": "unknown", "sources": {}}
    used = {s: list(roles[s]) for s in DATA_SOURCES[key] if s in roles}
    if not used:
        mark = "no"
    elif any(HOLDS_TEST.get(s, True) for s in used):
        mark = "yes, incl. test"
    else:
        mark = "yes, histories"
    return {"mark": mark, "sources": used}


# ---------------------------------------------------------------------------
# provenance


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return ""
    return out.rstrip("\n")   # not strip(): porcelain lines start with a space


def provenance(exported: str | None, seqfusion_file: str) -> dict[str, Any]:
    """The repository's commit (``git rev-parse HEAD``) and dirty flag, and which code ran."""
    tracked = _git("status", "--porcelain", "--untracked-files=no")
    src_status = _git("status", "--porcelain", "--", "src/seqfusion")
    bench_status = _git("status", "--porcelain", "--", "benchmarks/gift/protocol.py",
                        "benchmarks/gift/seasonal_naive.py", "benchmarks/gift/evaluate.py")
    code = {
        "seqfusion_imported_from": seqfusion_file,
        "source": f"git archive {exported} src/seqfusion" if exported else "working tree",
        "commit": exported or _git("rev-parse", "HEAD"),
        "dirty": False if exported else bool(src_status),
        "modified": [] if exported else [line[3:] for line in src_status.splitlines()],
    }
    return {
        "commit": _git("rev-parse", "HEAD"),
        "dirty": bool(tracked),
        "dirty_paths": [line[3:] for line in tracked.splitlines()],
        "code": code,
        "benchmark_code_dirty": bool(bench_status),
    }


def zoo_record(model: Any, root: Path | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """A short description of the zoo used, and its manifest; the zoo's path is shown
    relative to ``root`` (the folder holding ``src/``: ``src/seqfusion/default_zoo``) when below it."""
    zoo = model.zoo
    path = Path(zoo.path).resolve() if getattr(zoo, "path", None) else None
    shown = str(path) if path is not None else None
    if path is not None and root is not None and path.is_relative_to(root):
        shown = str(path.relative_to(root))
    manifest: dict[str, Any]
    if path is not None and (path / "zoo.json").is_file():
        raw = (path / "zoo.json").read_bytes()
        manifest, digest = json.loads(raw), hashlib.sha256(raw).hexdigest()
    else:
        manifest, digest = {"info": dict(getattr(zoo, "info", {}))}, None
    info = manifest.get("info", {})
    record = {
        "path": shown,
        "name": info.get("name"),
        "description": info.get("description"),
        "built": info.get("build", {}).get("started_utc"),
        "manifest_sha256": digest,
        "members": list(zoo.names),
        "settings": {k: getattr(model, k, None) for k in ("k", "fusion", "history", "min_length", "exact")},
    }
    return record, manifest


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "numpy": np.__version__, "pandas": pd.__version__}
    try:
        import seqfusion

        out["seqfusion"] = seqfusion.__version__
    except (ImportError, AttributeError):
        pass
    try:
        import torch

        out["torch"] = torch.__version__
        out["torch_threads"] = str(torch.get_num_threads())
    except ImportError:
        pass
    return out


# ---------------------------------------------------------------------------
# the run


def evaluate_task(model: Any, task: Task, roles: Mapping[str, Sequence[str]], published: pd.DataFrame,
                  load_seconds: float = 0.0) -> dict[str, Any]:
    """One config's row: seqfusion's scores, our SeasonalNaive's, the published one's,
    the leakage mark and timings."""
    t0 = time.perf_counter()
    fc = forecast(model, task)
    scores = score_forecasts(task, fc["quantiles"], fc["point"])
    t1 = time.perf_counter()
    snaive = seasonal_naive_score(task)
    t2 = time.perf_counter()
    cfg = task.config

    def pub(metric: str) -> float:
        key = (BASELINE, cfg.name)
        return float(published.loc[key, metric]) if key in published.index else math.nan

    return {
        "config": cfg.name, "match": cfg.match, "source": cfg.source, "freq": fc["freq"],
        "series": task.n_series, "windows": task.n_windows, "forecasts": len(task.windows),
        "horizon": task.horizon, "season": task.season, "min_length": task.min_length,
        "filled_histories": fc["filled"],
        **scores,
        "snaive_mase": snaive["mase"], "snaive_crps": snaive["crps"],
        "published_snaive_mase": pub("mase"), "published_snaive_crps": pub("crps"),
        "trained_on": leakage(cfg.name, roles),
        "seconds": {"load": load_seconds, "quantiles": fc["quantile_seconds"], "point": fc["point_seconds"],
                    "seasonal_naive": t2 - t1, "total": load_seconds + (t2 - t0)},
    }


def comparison(rows: Sequence[Mapping[str, Any]], published: pd.DataFrame,
               models: Sequence[str] = MODELS) -> dict[str, Any]:
    """Ratios to SeasonalNaive per config and their geo-means: on "same" configs every model
    (ours included) over the published ``seasonal_naive``; on approximate ones the published
    models over the published ``seasonal_naive``, ours over our SeasonalNaive."""
    same = [r["config"] for r in rows if r["match"] == "same"]
    approx = [r["config"] for r in rows if r["match"] != "same"]
    ours = {r["config"]: {"mase": r["mase"], "crps": r["crps"]} for r in rows}
    rel_same = relative_scores(ours, published, same, models)
    unseen = [r["config"] for r in rows if r["match"] == "same" and r["trained_on"]["mark"] == "no"]
    rel_approx = relative_scores(ours, published, approx, models)
    for r in rows:
        if r["match"] != "same":
            rel_approx[OURS][r["config"]] = {"mase": r["mase"] / r["snaive_mase"], "crps": r["crps"] / r["snaive_crps"]}
    meta = {}
    for m in models:
        if m in published.index.get_level_values("model"):
            first = published.xs(m, level="model").iloc[0]
            meta[m] = {"leakage": str(first["leakage"]), "type": str(first["type"])}
    return {
        "models": list(models), "published_models": meta,
        "same": {"configs": same, "relative": rel_same, "geomean": geomeans(rel_same, same),
                 "configs_not_trained_on": unseen, "geomean_not_trained_on": geomeans(rel_same, unseen)},
        "approximate": {"configs": approx, "relative": rel_approx, "geomean": geomeans(rel_approx, approx),
                        "note": "published models / published seasonal_naive (GIFT-Eval's data); seqfusion / "
                                "our SeasonalNaive (our data)"},
    }


def run(names: Sequence[str] | None = None, data: str | Path | None = None, zoo: str | None = None,
        exported: str | None = None, published_path: Path = HERE / "published.csv") -> dict[str, Any]:
    start = time.perf_counter()
    import seqfusion
    from seqfusion import SeqFusion

    if exported and Path(seqfusion.__file__).resolve().is_relative_to(REPO):
        raise RuntimeError(f"seqfusion was imported from {seqfusion.__file__}, not from the export of {exported}")
    model = SeqFusion.from_pretrained(zoo)
    load_seconds = time.perf_counter() - start
    zoo_info, manifest = zoo_record(model, Path(seqfusion.__file__).resolve().parents[2])
    roles = zoo_roles(manifest)
    published = published_table(published_path)
    rows = []
    for name in names or list(CONFIGS):
        t0 = time.perf_counter()
        task = build_task(name, data)
        row = evaluate_task(model, task, roles, published, time.perf_counter() - t0)
        rows.append(row)
        print(f"{name:22s} MASE {row['mase']:.4f} (SNaive {row['snaive_mase']:.4f})  CRPS {row['crps']:.4f} "
              f"(SNaive {row['snaive_crps']:.4f})  {row['seconds']['total']:.1f} s  "
              f"trained on: {row['trained_on']['mark']}", flush=True)
    meta_path = HERE / "published.json"
    return {
        "generated_by": "python -m benchmarks.gift.evaluate" + (f" --rev {exported}" if exported else ""),
        "provenance": provenance(exported, seqfusion.__file__),
        "versions": _versions(),
        "machine": {"cpus": os.cpu_count(), "niceness": os.nice(0), "platform": platform.platform()},
        "gift_eval_commit": json.loads(meta_path.read_text())["commit"] if meta_path.is_file() else None,
        "zoo": zoo_info,
        "zoo_roles": roles,
        "quantiles": list(QUANTILES),
        "configs": rows,
        "comparison": comparison(rows, published),
        "seconds": {"model_load": load_seconds, "total": time.perf_counter() - start},
    }


# ---------------------------------------------------------------------------
# report


def _f(x: float, digits: int = 3) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _ratio_table(title: str, metric: str, rel: Relative,
                 configs: Sequence[str], marks: Mapping[str, str], extra: Mapping[str, tuple[str, Sequence[str]]],
                 meta: Mapping[str, Mapping[str, str]]) -> list[str]:
    """Rows: models sorted by the first geo-mean; columns: configs, then the geo-means ``extra``."""
    gms = {label: geomeans(rel, cs) for label, (_, cs) in extra.items()}
    first = next(iter(extra))
    order = sorted(rel, key=lambda m: (math.isnan(gms[first][m][metric]), gms[first][m][metric]))
    head = ["model", "type", "leakage", *configs, *(extra[k][0] for k in extra)]
    out = [title, "", "| " + " | ".join(head) + " |", "|" + "---|" * 3 + "---:|" * (len(head) - 3),
           "| *zoo trained on* | | | " + " | ".join(marks[c] for c in configs) + " |" + " |" * len(extra)]
    for m in order:
        name = f"**{m}**" if m == OURS else m
        kind = "zoo (ours)" if m == OURS else meta.get(m, {}).get("type", "")
        leak = "see marks" if m == OURS else meta.get(m, {}).get("leakage", "")
        cells = [_f(rel[m][c][metric]) for c in configs] + [_f(gms[k][m][metric]) for k in extra]
        if m == OURS:
            cells = [f"**{c}**" for c in cells]
        out.append(f"| {name} | {kind} | {leak} | " + " | ".join(cells) + " |")
    out.append("")
    return out


def markdown(res: Mapping[str, Any]) -> str:
    prov, zoo, cmp_ = res["provenance"], res["zoo"], res["comparison"]
    rows = res["configs"]
    by_name = {r["config"]: r for r in rows}
    marks = {r["config"]: r["trained_on"]["mark"] for r in rows}
    same, approx = cmp_["same"], cmp_["approximate"]
    code = prov["code"]
    out = [
        "# SeqFusion on rebuilt GIFT-Eval configs",
        "",
        f"Generated by `{res['generated_by']}` (protocol: `benchmarks/gift/protocol.py`; published values: "
        f"`benchmarks/gift/published.csv`, gift-eval commit `{res['gift_eval_commit']}`).",
        "",
        f"* Code: `src/seqfusion` from {code['source']} (commit `{code['commit']}`, dirty: "
        f"{'yes' if code['dirty'] else 'no'}); repository HEAD `{prov['commit']}`, working tree dirty: "
        f"{'yes' if prov['dirty'] else 'no'} ({len(prov['dirty_paths'])} modified tracked files"
        f"{'' if code['source'] == 'working tree' else ', not used by this run'}); "
        f"benchmark scripts modified: {'yes' if prov['benchmark_code_dirty'] else 'no'}.",
        f"* Zoo: `{zoo['name']}` ({zoo['path']}), built {zoo['built']}, manifest sha256 "
        f"`{(zoo['manifest_sha256'] or 'n/a')[:16]}…`, {len(zoo['members'])} members; settings "
        + ", ".join(f"{k}={v}" for k, v in zoo["settings"].items()) + ".",
        "* Model: `SeqFusion.from_pretrained()`, whole histories: every window's full history to "
        "`predict_histories(histories, H, freq=<pandas freq>, quantiles=[0.1, ..., 0.9])`. "
        "MASE = MASE of the median (0.5 quantile), as GIFT-Eval's `MASE[0.5]`; CRPS = mean weighted quantile "
        "loss over 0.1..0.9. `MASE point` = MASE of `predict_histories` without quantiles.",
        f"* Run: {res['seconds']['total']:.1f} s wall in all ({res['seconds']['model_load']:.1f} s model load), "
        f"{res['machine']['cpus']} CPUs, niceness {res['machine']['niceness']}, "
        + ", ".join(f"{k} {v}" for k, v in res["versions"].items()) + ".",
        "",
        "## Per config",
        "",
        "| config | data | zoo trained on | freq | series | windows | H | m | MASE | MASE point | CRPS "
        "| SNaive MASE ours / published | SNaive CRPS ours / published | seconds |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r['config']} | {r['match']} | {r['trained_on']['mark']} | {r['freq']} | {r['series']} "
            f"| {r['windows']} | {r['horizon']} | {r['season']} | {_f(r['mase'], 4)} | {_f(r['mase_point'], 4)} "
            f"| {_f(r['crps'], 4)} | {_f(r['snaive_mase'], 4)} / {_f(r['published_snaive_mase'], 4)} "
            f"| {_f(r['snaive_crps'], 4)} / {_f(r['published_snaive_crps'], 4)} | {r['seconds']['total']:.1f} |")
    gaps = [r["median_point_gap"] for r in rows]
    filled = sum(r["filled_histories"] for r in rows)
    differ = [r["config"] for r in rows if r["median_point_gap"] > 1e-9]
    if differ:
        median = (f"The median differs from the point forecast on {', '.join(differ)} (largest gap {max(gaps):.1e} "
                  "of the largest |forecast|): intermittent histories take the empirical quantiles of their last "
                  "values, so their median is often 0 while the point forecast is the expected value; MASE is "
                  "the median's, MASE point the point forecast's. Elsewhere they agree.")
    else:
        median = (f"The median equals the point forecast (largest gap {max(gaps):.1e} of the largest |forecast|), "
                  "so MASE and MASE point agree.")
    out += [
        "",
        f"{median} Histories filled before forecasting (fewer present values than the model's "
        f"minimum): {filled}. Seconds: loading and splitting, both forecasts, SeasonalNaive.",
        "",
    ]
    extra = {"gm": (f"geo-mean ({len(same['configs'])})", same["configs"])}
    if same["configs_not_trained_on"] and len(same["configs_not_trained_on"]) < len(same["configs"]):
        extra["gm_unseen"] = (f"geo-mean, not trained on ({len(same['configs_not_trained_on'])})",
                              same["configs_not_trained_on"])
    meta = cmp_["published_models"]
    if same["configs"]:
        gm = same["geomean"]
        ranked = sorted(gm, key=lambda m: gm[m]["mase"])
        ranked_c = sorted(gm, key=lambda m: gm[m]["crps"])
        seen = [c for c in same["configs"] if marks[c] == "yes, incl. test"]
        hist = [c for c in same["configs"] if marks[c] == "yes, histories"]
        out += [
            "## Against the published models on the configs rebuilt exactly",
            "",
            "Each value is the model's MASE (CRPS) divided by the published `seasonal_naive` MASE (CRPS) of the "
            "config; geo-mean = geometric mean over the configs. `leakage` is GIFT-Eval's model-level "
            "`testdata_leakage`; for seqfusion the per-config marks are in the *zoo trained on* row "
            "(see Leakage below).",
            "",
            f"Geo-mean rank of seqfusion among {len(gm)}: MASE {ranked.index(OURS) + 1}, "
            f"CRPS {ranked_c.index(OURS) + 1}. In GIFT-Eval's model-level terms the zoo's test-data leakage is "
            + (f"**Yes**: it saw test windows of {', '.join(seen)}." if seen else "No on these configs.")
            + (f" It trained on the histories (not the test windows) of {', '.join(hist)}." if hist else ""),
            "",
        ]
        out += _ratio_table("### MASE / SeasonalNaive", "mase", same["relative"], same["configs"], marks, extra, meta)
        out += _ratio_table("### CRPS / SeasonalNaive", "crps", same["relative"], same["configs"], marks, extra, meta)
    if approx["configs"]:
        out += [
            "## Approximate configs (same source, built differently)",
            "",
            "Our data differ from GIFT-Eval's here (`configs.md`), so seqfusion is divided by our SeasonalNaive "
            "on our data; the published SeasonalNaive is shown next to ours.",
            "",
            "| config | zoo trained on | H | windows | MASE | CRPS | SNaive MASE ours | SNaive MASE published "
            "| SNaive CRPS ours | SNaive CRPS published | MASE / SNaive (ours) | CRPS / SNaive (ours) |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for c in approx["configs"]:
            r = by_name[c]
            rel = approx["relative"][OURS][c]
            out.append(
                f"| {c} | {marks[c]} | {r['horizon']} | {r['windows']} | {_f(r['mase'], 4)} | {_f(r['crps'], 4)} "
                f"| {_f(r['snaive_mase'], 4)} | {_f(r['published_snaive_mase'], 4)} | {_f(r['snaive_crps'], 4)} "
                f"| {_f(r['published_snaive_crps'], 4)} | {_f(rel['mase'])} | {_f(rel['crps'])} |")
        gm = approx["geomean"]
        out += [
            "",
            f"Geo-means over these {len(approx['configs'])} configs, for orientation only (the published models "
            "relative to the published SeasonalNaive on GIFT-Eval's data, seqfusion relative to ours on our data):",
            "",
            "| model | MASE / SNaive | CRPS / SNaive |",
            "|---|---:|---:|",
        ]
        for m in sorted(gm, key=lambda m: (math.isnan(gm[m]["mase"]), gm[m]["mase"])):
            name = f"**{m}**" if m == OURS else m
            out.append(f"| {name} | {_f(gm[m]['mase'])} | {_f(gm[m]['crps'])} |")
        out.append("")
    out += [
        "## Leakage: what the zoo trained on",
        "",
        f"Read from the zoo's manifest ({zoo['path']}/zoo.json): a config is marked when a source the zoo learned "
        "from holds its series; `incl. test` when that source's file also holds the config's test windows, "
        "`histories` when it does not. ETT and Jena weather are benchmark targets of the shared data; the zoo "
        "build has no source for them.",
        "",
        "| config | zoo trained on | sources and roles | what was seen (default zoo) |",
        "|---|---|---|---|",
    ]
    default = zoo.get("name") == "default"
    for r in rows:
        srcs = r["trained_on"]["sources"]
        roles = "; ".join(f"{s}: {', '.join(v)}" for s, v in srcs.items()) or "-"
        notes = " ".join(DEFAULT_ZOO_NOTES.get(s, "") for s in srcs) if default else ""
        out.append(f"| {r['config']} | {r['trained_on']['mark']} | {roles} | {notes or '-'} |")
    out.append("")
    return "\n".join(out)


# ---------------------------------------------------------------------------
# command line


def _plain(x: Any) -> Any:
    """``x`` for strict JSON: NaN/inf -> None, numpy scalars -> Python numbers."""
    if isinstance(x, Mapping):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _export(rev: str, folder: Path) -> str:
    """Write ``src/seqfusion`` of ``rev`` below ``folder``; return the commit's hash."""
    sha = _git("rev-parse", "--verify", f"{rev}^{{commit}}")
    if not sha:
        raise SystemExit(f"unknown revision {rev!r}")
    blob = subprocess.run(["git", "archive", sha, "src/seqfusion"], cwd=REPO, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        tar.extractall(folder, filter="data")
    return sha


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="data folder (default: $SEQFUSION_DATA or ../shared/data)")
    ap.add_argument("--out", default=str(HERE / "results"), help="output folder")
    ap.add_argument("--configs", default=None, help="comma-separated config names (default: all rebuilt)")
    ap.add_argument("--zoo", default=None, help="zoo folder (default: the shipped default zoo)")
    ap.add_argument("--rev", default=None, help="run src/seqfusion of this commit (git archive), not the working tree")
    ap.add_argument("--exported", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.rev is not None and args.exported is None:
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="gift-seqfusion-") as tmp:
            sha = _export(args.rev, Path(tmp))
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(Path(tmp) / "src"), str(REPO), env.get("PYTHONPATH", "")) if p)
            rest = [a for i, a in enumerate(argv) if a != "--rev" and not a.startswith("--rev=")
                    and not (i > 0 and argv[i - 1] == "--rev")]
            code = subprocess.run([sys.executable, "-m", "benchmarks.gift.evaluate", *rest, "--exported", sha],
                                  cwd=REPO, env=env).returncode
        print(f"wall time with export: {time.perf_counter() - start:.1f} s")
        raise SystemExit(code)
    names = None if args.configs is None else [c.strip() for c in args.configs.split(",") if c.strip()]
    res = run(names, args.data, args.zoo, args.exported)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "seqfusion.json").write_text(json.dumps(_plain(res), indent=1, allow_nan=False) + "\n", encoding="utf-8")
    (out / "seqfusion.md").write_text(markdown(res), encoding="utf-8")
    print(f"total {res['seconds']['total']:.1f} s; wrote {out / 'seqfusion.md'} and {out / 'seqfusion.json'}")


if __name__ == "__main__":
    main()
