"""Quantile runs of the benchmarks: ``python -m benchmarks.harness realuse --quantiles`` and
``python -m benchmarks.harness multivariate --quantiles``.

Same windows, caps and subsampling rules as the point rows of each protocol
(:mod:`benchmarks.harness.realuse`, :mod:`benchmarks.harness.protocol`), scored with
:mod:`benchmarks.harness.quantiles` (WQL, coverage of the 80% / 95% intervals, interval
width) by the methods of :mod:`benchmarks.harness.quantile_methods`. The reference of
every ratio is ``SeasonalNaiveQuantiles`` (normal, residual sigma), run on every window; a
subsampled method (marked ``*``) is compared with it on the same windows.

Results: ``<out>/realuse_quantiles.{md,json}`` (``realuse_quantiles_validation.*`` for
``--split validation``) and ``<out>/multivariate_quantiles.{md,json}``; rows merge with
an existing file as the point runs do. Caching (``$SEQFUSION_CACHE/benchmark``): realuse
keeps every method's quantile forecasts ``[n, H, Q]`` per (method, dataset, split,
windows); the multivariate protocol keeps the per-window sums of every (method, dataset,
horizon) (its full-row forecasts would take hundreds of MB); slow statsforecast methods
also cache their forecasts chunk by chunk, so an interrupted run resumes.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness import quantiles as qs
from benchmarks.harness.protocol import save_chunk
from benchmarks.harness.quantile_methods import (
    MethodUnavailable,
    QuantileMethod,
    SeasonalNaiveQuantiles,
    SeqFusionQuantiles,
    StatsForecastQuantiles,
)

QUANTILE_METHODS = ("snaive", "snaive_empirical", "autoets", "autotheta", "conformal_snaive",
                    "conformal_autotheta", "seqfusion")
REFERENCE = "snaive"
#: statsforecast methods subsampled like the point rows (realuse: at most --max-windows
#: windows per dataset; multivariate: at most --max-windows rows per dataset)
SLOW = ("autoets", "autotheta", "conformal_snaive", "conformal_autotheta")
REALUSE_SLOW = ("autoets", "autotheta", "conformal_autotheta")
#: n_windows of AutoTheta's conformal intervals (each window is one more AutoTheta fit)
THETA_CONFORMAL_WINDOWS = 5
RU_CONFORMAL_WINDOWS = 10
MV_CONFORMAL_WINDOWS = 5
MV_MAX_ROWS = 1000
MV_SNAIVE_PERIOD = 7  # the multivariate protocol's SeasonalNaive (7)
CHUNK = 10
MV_CHUNK = 100
FULL_CHUNK = 4096
QUICK_METHODS = ("snaive", "snaive_empirical", "conformal_snaive", "seqfusion")
CACHE_PROTOCOL = 1  # realuse: cached quantile forecasts
MV_CACHE_PROTOCOL = 2  # multivariate: cached per-window sums (2: with MSIS and median MASE)


def canonical(key: str) -> str:
    key = key.lower()
    return {"seasonalnaive": "snaive", "conformal": "conformal_snaive"}.get(key, key)


def make_realuse_method(key: str, spec: Any, zoo: str | None, no_freq: bool = False,
                        conformal_windows: int = RU_CONFORMAL_WINDOWS) -> QuantileMethod:
    """A quantile method of the whole-history protocol for one dataset (``spec``: a
    :class:`~benchmarks.harness.realuse.RealuseSpec`)."""
    from benchmarks.harness import realuse as ru

    if key == "snaive":
        return SeasonalNaiveQuantiles(spec.season)
    if key == "snaive_empirical":
        return SeasonalNaiveQuantiles(spec.season, "empirical")
    if key in ("autoets", "autotheta"):
        return StatsForecastQuantiles({"autoets": "AutoETS", "autotheta": "AutoTheta"}[key],
                                      spec.season, cap=ru.STATS_CAP)
    if key == "conformal_snaive":
        return StatsForecastQuantiles("SeasonalNaive", spec.season, conformal_windows=conformal_windows)
    if key == "conformal_autotheta":
        return StatsForecastQuantiles("AutoTheta", spec.season, cap=ru.STATS_CAP,
                                      conformal_windows=min(conformal_windows, THETA_CONFORMAL_WINDOWS))
    if key == "seqfusion":
        return SeqFusionQuantiles(zoo, None if no_freq else spec.freq, ru.SEQFUSION_MIN_POINTS)
    raise ValueError(f"unknown quantile method {key!r}; known: {', '.join(QUANTILE_METHODS)}")


def make_multivariate_method(key: str, spec: Any, zoo: str | None, no_freq: bool = False,
                             conformal_windows: int = MV_CONFORMAL_WINDOWS) -> QuantileMethod:
    """A quantile method of the 36-point multivariate protocol (``spec``: a
    :class:`~benchmarks.harness.protocol.DatasetSpec`). SeasonalNaive uses period 7 as
    the protocol's point SeasonalNaive does; statsforecast models the data's season."""
    if key == "snaive":
        return SeasonalNaiveQuantiles(MV_SNAIVE_PERIOD)
    if key == "snaive_empirical":
        return SeasonalNaiveQuantiles(MV_SNAIVE_PERIOD, "empirical")
    if key in ("autoets", "autotheta"):
        return StatsForecastQuantiles({"autoets": "AutoETS", "autotheta": "AutoTheta"}[key], spec.season)
    if key == "conformal_snaive":
        return StatsForecastQuantiles("SeasonalNaive", MV_SNAIVE_PERIOD, conformal_windows=conformal_windows)
    if key == "conformal_autotheta":
        return StatsForecastQuantiles("AutoTheta", spec.season,
                                      conformal_windows=min(conformal_windows, THETA_CONFORMAL_WINDOWS))
    if key == "seqfusion":
        return SeqFusionQuantiles(zoo, None if no_freq else spec.freq, 1)
    raise ValueError(f"unknown quantile method {key!r}; known: {', '.join(QUANTILE_METHODS)}")


def forecast_quantiles(method: Callable[[Any, int], np.ndarray], contexts: Sequence[np.ndarray] | np.ndarray,
                       horizon: int, chunk: int | None = None,
                       progress: Callable[[int], None] | None = None,
                       chunk_cache: Path | None = None) -> np.ndarray:
    """``method`` on ``contexts`` in chunks; ``[n, H, Q]``. With ``chunk_cache`` every
    finished chunk is kept as ``.npz`` (with the change of the method's ``fits`` /
    ``fallbacks`` counters) and reused."""
    n = len(contexts)
    chunk = chunk or max(n, 1)
    nq = len(qs.QUANTILES)
    out = np.empty((n, horizon, nq), dtype=np.float64)
    stats = getattr(method, "stats", None)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        cached = chunk_cache / f"q_{start}_{stop}_h{horizon}.npz" if chunk_cache else None
        if cached is not None and cached.is_file():
            with np.load(cached) as z:
                out[start:stop] = z["pred"]
                if isinstance(stats, dict):
                    for key in z.files:
                        if key.startswith("stat_"):
                            stats[key[5:]] = int(stats.get(key[5:], 0) or 0) + int(z[key])
        else:
            before = {k: int(stats.get(k) or 0) for k in ("fits", "fallbacks")} if isinstance(stats, dict) else {}
            pred = np.asarray(method(contexts[start:stop], horizon), dtype=np.float64)
            if pred.shape != (stop - start, horizon, nq):
                raise ValueError(f"quantile method returned {pred.shape}, expected {(stop - start, horizon, nq)}")
            out[start:stop] = pred
            if cached is not None:
                save_chunk(cached, pred, {k: int(stats.get(k) or 0) - v  # type: ignore[union-attr]
                                          for k, v in before.items()})
        if progress is not None:
            progress(stop - start)
    return out


def _fix_non_finite(pred: np.ndarray, contexts: Sequence[np.ndarray] | np.ndarray, horizon: int,
                    season: int) -> tuple[np.ndarray, int]:
    """Windows with any non-finite quantile get the reference's quantiles (counted)."""
    bad = ~np.isfinite(pred).all(axis=(1, 2))
    if not bad.any():
        return pred, 0
    ref = SeasonalNaiveQuantiles(season)
    rows = np.flatnonzero(bad)
    pred = pred.copy()
    pred[rows] = ref([contexts[i] for i in rows], horizon)
    return pred, int(bad.sum())


def _skip_message(key: str, exc: Exception) -> str:
    return f"python -m benchmarks.harness: {key}: skipped: {exc}"


def _row_scores(s: qs.WindowSums, ref: qs.WindowSums) -> dict[str, Any]:
    own = qs.summarize_sums(s)
    base = qs.summarize_sums(ref)
    wql, bwql = own["wql"], base["wql"]
    out: dict[str, Any] = dict(own)
    out["snaive_wql_same_windows"] = bwql
    out["relative_wql"] = (float(wql) / float(bwql) if isinstance(wql, float) and isinstance(bwql, float)
                           and bwql > 0 else None)
    for lv in qs.INTERVALS:
        out[f"snaive_coverage_{lv}_same_windows"] = base[f"coverage_{lv}"]
        out[f"snaive_width_{lv}_same_windows"] = base[f"width_{lv}"]
        out[f"snaive_msis_{lv}_same_windows"] = base[f"msis_{lv}"]
    out["snaive_mase_median_same_windows"] = base["mase_median"]
    return out


# ------------------------------------------------------------------ realuse


def run_realuse_quantiles(args: argparse.Namespace, argv: list[str], started: float) -> int:
    """``python -m benchmarks.harness realuse --quantiles``: see the module docstring."""
    from benchmarks.harness import cli
    from benchmarks.harness import realuse as ru
    from benchmarks.harness.baselines import zoo_fingerprint
    from benchmarks.harness.report import CostMeter, git_commit, quantiles_markdown, run_metadata, write_json
    from seqfusion.training.data.paths import data_root

    quick = args.quick
    names = cli._split(args.datasets) or list(cli.QUICK_RU_DATASETS if quick else ru.DATASETS)
    specs = cli._resolve_all(names, ru.resolve)
    methods = [canonical(m) for m in (cli._split(args.methods) or list(QUICK_METHODS if quick else QUANTILE_METHODS))]
    bad = [m for m in methods if m not in QUANTILE_METHODS]
    if bad:
        raise cli.UsageError(f"unknown quantile method(s) {', '.join(bad)}; known: {', '.join(QUANTILE_METHODS)}")
    methods = list(dict.fromkeys([REFERENCE, *methods]))
    if args.max_windows < 0:
        raise cli.UsageError("--max-windows must be >= 0")
    if "seqfusion" in methods and not SeqFusionQuantiles.available():
        print(_skip_message("seqfusion", MethodUnavailable(
            "SeqFusion.predict_histories does not exist in this checkout yet (issue 12's forecaster side)")),
            file=sys.stderr)
        methods.remove("seqfusion")
    limits = {k: (args.max_windows or None) for k in REALUSE_SLOW}
    zoo_main, zoo_comp = cli._realuse_zoos(args, methods)
    max_series = cli.QUICK_RU_SERIES if quick else None
    split = args.split
    new_rows: list[dict[str, Any]] = []
    info: dict[str, dict[str, Any]] = {}
    commit: str | None = None
    for spec in specs:
        data = ru.load(spec.name, split, max_series=max_series)
        if data.n_windows == 0:
            print(f"{spec.name}: no window for split {split}; skipped", file=sys.stderr)
            continue
        fp = cli._fingerprint(data_root() / spec.path)
        zoo = zoo_comp if spec.competition else zoo_main
        uses_sf = "seqfusion" in methods
        saw = ru.zoo_saw(zoo, spec) if uses_sf else []
        n, H = data.n_windows, data.horizon
        y = data.targets()
        scale = np.array([ru.seasonal_naive_scale(c, spec.season)[0] for c in data.contexts()])
        lengths = data.context_lengths()
        info[spec.name] = {
            "group": spec.group, "frequency": spec.frequency, "freq_given": spec.freq, "horizon": H,
            "season": spec.season, "n_series": data.n_series, "n_windows": n,
            "windows_dropped_short_context": data.dropped, "context_min": int(lengths.min()),
            "context_median": float(np.median(lengths)), "context_max": int(lengths.max()),
            "path": spec.path, "zoo": (Path(zoo).name if zoo else "default") if uses_sf else None,
            "zoo_saw_source": saw, "max_series": max_series,
            "zero_scale_windows": int((~(np.isfinite(scale) & (scale > 0))).sum()),
        }
        sums: dict[str, tuple[np.ndarray, qs.WindowSums]] = {}
        meta_rows: dict[str, dict[str, Any]] = {}
        for key in methods:
            method = make_realuse_method(key, spec, zoo, args.no_freq, args.conformal_windows)
            idx = ru.subsample(n, limits.get(key))
            payload = {"kind": "realuse_quantiles", "method": key, "options": method.options(),
                       "dataset": spec.name, "split": split, "data": fp, "max_series": max_series,
                       "windows": hashlib.sha256(idx.tobytes()).hexdigest()[:16], "n_windows": int(len(idx)),
                       "quantiles": list(qs.QUANTILES), "protocol": CACHE_PROTOCOL}
            if key == "seqfusion":
                from seqfusion import quantiles as qmod

                payload["zoo"] = zoo_fingerprint(zoo)
                payload["long_spread"] = qmod.LONG_SPREAD  # how the long-context members' quantiles enter
            cfile, chunk_dir, row = cli._cache_lookup("realuse_quantiles", f"{spec.name}-{split}", key, payload,
                                                      args.no_cache)
            npz = cfile.with_suffix(".npz")
            if row is not None:
                with np.load(npz) as z:
                    pred = z["pred"]
            else:
                slow = key in SLOW
                ctx = data.contexts(idx)
                bar = cli._bar(len(idx), f"{method.name} {spec.name}", args.no_progress)
                try:
                    with CostMeter() as cost:
                        pred = forecast_quantiles(method, ctx, H, chunk=CHUNK if slow else None,
                                                  progress=bar.update, chunk_cache=chunk_dir if slow else None)
                except MethodUnavailable as exc:
                    print(_skip_message(key, exc), file=sys.stderr)
                    continue
                finally:
                    bar.close()
                pred, non_finite = _fix_non_finite(pred, ctx, H, spec.season)
                commit = commit or git_commit() or "unknown"
                row = {**cost.to_dict(), "stats": dict(method.stats), "options": method.options(),
                       "non_finite_windows": non_finite, "git_commit": commit,
                       "computed_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
                write_json(cfile, row)
                np.savez(npz, pred=pred, idx=idx)
                shutil.rmtree(chunk_dir, ignore_errors=True)
                row["cached"] = False
            sums[method.name] = (idx, qs.window_sums(y[idx], pred, scale[idx]))
            cap = getattr(method, "cap", None)
            row.update({"method": method.name, "key": key, "cap": cap,
                        "context": ("whole history (zoo: last 36)"
                                    if key == "seqfusion" else "whole history" if cap is None
                                    else f"last {cap} points"),
                        "subsample_limit": limits.get(key)})
            if key == "seqfusion":
                row.update({"zoo": info[spec.name]["zoo"], "zoo_saw_source": saw})
            meta_rows[method.name] = row
        ref_label = SeasonalNaiveQuantiles(spec.season).name
        ref_idx, ref_sums = sums[ref_label]
        assert len(ref_idx) == n
        for label, (idx, s) in sums.items():
            sc = _row_scores(s, qs.take(ref_sums, idx))
            row = {"dataset": spec.name, "split": split, "group": spec.group, **sc,
                   "n_windows": int(len(idx)), "n_series": int(len(np.unique(data.series_of[idx]))),
                   "subsampled": bool(len(idx) < n), **meta_rows[label]}
            new_rows.append(row)
            print(f"{label:<46} {spec.name:<17} WQL {row['wql'] or float('nan'):.4f} rel "
                  f"{row['relative_wql'] or float('nan'):.3f}  cov80 {row['coverage_80']:.3f} "
                  f"cov95 {row['coverage_95']:.3f}  w80 {row['width_80'] or float('nan'):.2f}  "
                  f"n={row['n_windows']}  {row['seconds']:.1f}s" + ("  (cached)" if row["cached"] else ""),
                  file=sys.stderr)
    stem = "realuse_quantiles" if split == "test" else "realuse_quantiles_validation"
    return _write(args, argv, started, stem, "realuse_quantiles", new_rows, info, list(ru.DATASETS),
                  {"split": split}, quantiles_markdown, write_json, run_metadata)


# ------------------------------------------------------------------ multivariate


def _save_sums(path: Path, per_h: dict[int, tuple[np.ndarray, qs.WindowSums]]) -> None:
    arrays: dict[str, np.ndarray] = {}
    for h, (rows, s) in per_h.items():
        arrays[f"h{h}_rows"] = rows
        arrays[f"h{h}_pinball"] = s.pinball
        arrays[f"h{h}_abs_y"] = s.abs_y
        arrays[f"h{h}_points"] = s.points
        arrays[f"h{h}_crossing"] = s.crossing
        arrays[f"h{h}_mase_median"] = s.mase_median
        for lv in qs.INTERVALS:
            arrays[f"h{h}_inside{lv}"] = s.inside[lv]
            arrays[f"h{h}_width{lv}"] = s.width[lv]
            arrays[f"h{h}_is{lv}"] = s.interval_score[lv]
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def _load_sums(path: Path, horizons: Sequence[int]) -> dict[int, tuple[np.ndarray, qs.WindowSums]]:
    out: dict[int, tuple[np.ndarray, qs.WindowSums]] = {}
    with np.load(path) as z:
        for h in horizons:
            if f"h{h}_rows" not in z.files:
                continue
            out[h] = (z[f"h{h}_rows"], qs.WindowSums(
                z[f"h{h}_pinball"], z[f"h{h}_abs_y"], z[f"h{h}_points"],
                {lv: z[f"h{h}_inside{lv}"] for lv in qs.INTERVALS},
                {lv: z[f"h{h}_width{lv}"] for lv in qs.INTERVALS}, z[f"h{h}_crossing"],
                {lv: z[f"h{h}_is{lv}"] for lv in qs.INTERVALS}, z[f"h{h}_mase_median"]))
    return out


def context_scale(x: np.ndarray, season: int) -> np.ndarray:
    """In-sample seasonal-naive MAE of each row of ``x [n, L]`` (season 1 when ``L <= season``)."""
    m = season if x.shape[1] > season else 1
    return np.abs(x[:, m:] - x[:, :-m]).mean(axis=1)


def evaluate_multivariate(method: QuantileMethod, data: Any, horizons: Sequence[int],
                          max_rows: int | None = None, season: int = 7,
                          chunk_cache: Path | None = None, chunk: int | None = None,
                          progress: Callable[[int], None] | None = None
                          ) -> dict[int, tuple[np.ndarray, qs.WindowSums]]:
    """Per-window sums of ``method`` on the protocol's windows, per horizon.

    Rows as :func:`benchmarks.harness.protocol.evaluate`: ``subsample_rows`` of the
    shortest horizon, each horizon keeping the rows that exist for it. Horizons where the
    method cannot forecast a 36-point context without falling back (statsforecast's
    conformal intervals need ``2 H`` + a season of points) are left out. Widths are scaled
    by the context's in-sample seasonal-naive MAE with ``season``. Returns ``{H: (rows,
    sums)}``.
    """
    from benchmarks.harness import protocol as pr

    hs = sorted({int(h) for h in horizons})
    base = pr.subsample_rows(data, hs[0], max_rows)
    hs = [h for h in hs if method.usable(data.lookback, h)]
    out: dict[int, tuple[np.ndarray, qs.WindowSums]] = {}
    if not hs:
        return out
    step = chunk or FULL_CHUNK
    if method.horizon_invariant:
        x_all = pr.input_rows(data, data.n_windows(hs[0]))
        targets = {h: pr.target_rows(data, h) for h in hs}
        parts: dict[int, list[qs.WindowSums]] = {h: [] for h in hs}
        for start in range(0, len(base), step):
            rows = base[start:start + step]
            x = x_all[rows]
            sub = chunk_cache / f"c{start}" if chunk_cache else None
            pred = forecast_quantiles(method, x, hs[-1], chunk, progress, sub)
            pred, _ = _fix_non_finite(pred, x, hs[-1], season)
            scale = context_scale(x, season)
            for h in hs:
                keep = rows < data.n_series_rows(h)
                parts[h].append(qs.window_sums(targets[h][rows[keep]], pred[keep, :h], scale[keep]))
        for h in hs:
            out[h] = (base[base < data.n_series_rows(h)], qs.concat_sums(parts[h]))
        return out
    for h in hs:
        rows_h = base[base < data.n_series_rows(h)]
        x_h, y_h = pr.windows(data, h)
        hparts = []
        for start in range(0, len(rows_h), step):
            rows = rows_h[start:start + step]
            sub = chunk_cache / f"h{h}_c{start}" if chunk_cache else None
            pred = forecast_quantiles(method, x_h[rows], h, chunk, progress, sub)
            pred, _ = _fix_non_finite(pred, x_h[rows], h, season)
            hparts.append(qs.window_sums(y_h[rows], pred, context_scale(x_h[rows], season)))
        out[h] = (rows_h, qs.concat_sums(hparts))
    return out


def multivariate_scores(per_h: dict[int, tuple[np.ndarray, qs.WindowSums]],
                        ref: dict[int, tuple[np.ndarray, qs.WindowSums]]) -> dict[str, Any]:
    """Dataset scores: WQL = mean over the scored horizons of the per-horizon WQL (as the
    protocol's MSE), its ratio to the reference on the same horizons and rows; coverage
    pooled over all scored points; width the mean over all scored windows."""
    per: dict[str, Any] = {}
    wqls, ref_wqls = [], []
    own_all, ref_all = [], []
    for h, (rows, s) in sorted(per_h.items()):
        r_rows, r_s = ref[h]
        pos = np.searchsorted(r_rows, rows)
        if not np.array_equal(r_rows[pos], rows):
            raise ValueError("the reference must cover every row of every horizon")
        rs = qs.take(r_s, pos)
        sc = _row_scores(s, rs)
        per[str(h)] = {k: sc[k] for k in ("wql", "relative_wql", "coverage_80", "coverage_95", "width_80",
                                          "width_95", "msis_95", "mase_median", "n_points")} | {
            "n_rows": int(len(rows))}
        wqls.append(sc["wql"])
        ref_wqls.append(sc["snaive_wql_same_windows"])
        own_all.append(s)
        ref_all.append(rs)
    out = _row_scores(qs.concat_sums(own_all), qs.concat_sums(ref_all))
    out["wql_pooled_over_horizons"] = out["wql"]
    out["wql"] = float(np.mean(wqls)) if wqls and None not in wqls else None
    out["snaive_wql_same_windows"] = float(np.mean(ref_wqls)) if ref_wqls and None not in ref_wqls else None
    out["relative_wql"] = (out["wql"] / out["snaive_wql_same_windows"]
                           if out["wql"] is not None and out["snaive_wql_same_windows"] else None)
    out["per_horizon"] = per
    out["horizons_scored"] = sorted(per_h)
    return out


def run_multivariate_quantiles(args: argparse.Namespace, argv: list[str], started: float) -> int:
    """``python -m benchmarks.harness multivariate --quantiles``: see the module docstring."""
    from benchmarks.harness import cli
    from benchmarks.harness import protocol as pr
    from benchmarks.harness.baselines import zoo_fingerprint
    from benchmarks.harness.report import CostMeter, git_commit, quantiles_markdown, run_metadata, write_json

    quick = args.quick
    names = cli._split(args.datasets) or list(cli.QUICK_MV_DATASETS if quick else pr.DATASETS)
    specs = cli._resolve_all(names, pr.resolve_dataset)
    try:
        horizons = sorted({int(h) for h in (cli._split(args.horizons) or
                                            (cli.QUICK_HORIZONS if quick else pr.HORIZONS))})
    except ValueError:
        raise cli.UsageError(f"--horizons must be integers, got {args.horizons}") from None
    methods = [canonical(m) for m in (cli._split(args.methods) or list(QUICK_METHODS if quick else QUANTILE_METHODS))]
    bad = [m for m in methods if m not in QUANTILE_METHODS]
    if bad:
        raise cli.UsageError(f"unknown quantile method(s) {', '.join(bad)}; known: {', '.join(QUANTILE_METHODS)}")
    methods = list(dict.fromkeys([REFERENCE, *methods]))
    if "seqfusion" in methods and not SeqFusionQuantiles.available():
        print(_skip_message("seqfusion", MethodUnavailable(
            "SeqFusion.predict_histories does not exist in this checkout yet (issue 12's forecaster side)")),
            file=sys.stderr)
        methods.remove("seqfusion")
    limit = args.max_windows or (QUICK_ROWS if quick else MV_MAX_ROWS)
    new_rows: list[dict[str, Any]] = []
    info: dict[str, dict[str, Any]] = {}
    commit: str | None = None
    for spec in specs:
        data = pr.load_dataset(spec.name)
        fp = cli._fingerprint(pr.dataset_path(spec))
        info[spec.name] = {"group": "targets", "frequency": spec.freq, "season": spec.season,
                           "n_vars": data.n_vars, "n_test": data.n_test, "lookback": data.lookback,
                           "rows_shortest_horizon": data.n_series_rows(horizons[0]),
                           "horizon": "/".join(str(h) for h in horizons)}
        results: dict[str, dict[int, tuple[np.ndarray, qs.WindowSums]]] = {}
        meta_rows: dict[str, dict[str, Any]] = {}
        for key in methods:
            method = make_multivariate_method(key, spec, args.zoo, args.no_freq, args.conformal_windows)
            max_rows = limit if key in SLOW or quick else None
            payload = {"kind": "multivariate_quantiles", "method": key, "options": method.options(),
                       "dataset": spec.name, "data": fp, "horizons": horizons, "max_rows": max_rows,
                       "quantiles": list(qs.QUANTILES), "protocol": MV_CACHE_PROTOCOL}
            if key == "seqfusion":
                payload["zoo"] = zoo_fingerprint(args.zoo)
            cfile, chunk_dir, row = cli._cache_lookup("multivariate_quantiles", spec.name, key, payload,
                                                      args.no_cache)
            npz = cfile.with_suffix(".npz")
            if row is not None:
                per_h = _load_sums(npz, horizons)
            else:
                slow = key in SLOW
                bar = cli._bar(0, f"{method.name} {spec.name}", args.no_progress)
                try:
                    with CostMeter() as cost:
                        per_h = evaluate_multivariate(
                            method, data, horizons, max_rows, spec.season, chunk_cache=chunk_dir if slow else None,
                            chunk=MV_CHUNK if slow else None, progress=bar.update)
                except MethodUnavailable as exc:
                    print(_skip_message(key, exc), file=sys.stderr)
                    continue
                finally:
                    bar.close()
                commit = commit or git_commit() or "unknown"
                row = {**cost.to_dict(), "stats": dict(method.stats), "options": method.options(),
                       "git_commit": commit, "computed_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
                _save_sums(npz, per_h)
                write_json(cfile, row)
                shutil.rmtree(chunk_dir, ignore_errors=True)
                row["cached"] = False
            results[method.name] = per_h
            row.update({"method": method.name, "key": key, "max_rows": max_rows,
                        "context": f"last {data.lookback} points (the protocol's windows)",
                        "subsample_limit": max_rows})
            meta_rows[method.name] = row
        ref = results[SeasonalNaiveQuantiles(MV_SNAIVE_PERIOD).name]
        full_rows = data.n_series_rows(horizons[0])
        for label, per_h in results.items():
            if not per_h:
                print(f"{label}: no horizon of {horizons} can be forecast from {data.lookback} points; "
                      "no row", file=sys.stderr)
                continue
            sc = multivariate_scores(per_h, ref)
            n_rows = int(len(per_h[min(per_h)][0]))
            row = {"dataset": spec.name, "group": "targets", **sc, "n_windows": n_rows,
                   "subsampled": bool(n_rows < full_rows) or sorted(per_h) != horizons, **meta_rows[label]}
            new_rows.append(row)
            print(f"{label:<46} {spec.name:<9} WQL {row['wql'] or float('nan'):.4f} rel "
                  f"{row['relative_wql'] or float('nan'):.3f}  cov80 {row['coverage_80']:.3f} "
                  f"cov95 {row['coverage_95']:.3f}  w80 {row['width_80'] or float('nan'):.2f}  "
                  f"H={','.join(map(str, sorted(per_h)))} rows={n_rows}  {row['seconds']:.1f}s"
                  + ("  (cached)" if row["cached"] else ""), file=sys.stderr)
    return _write(args, argv, started, "multivariate_quantiles", "multivariate_quantiles", new_rows, info,
                  list(pr.DATASETS), {"horizons": horizons}, quantiles_markdown, write_json, run_metadata)


QUICK_ROWS = 300


def _write(args: argparse.Namespace, argv: list[str], started: float, stem: str, kind: str,
           new_rows: list[dict[str, Any]], info: dict[str, dict[str, Any]], order: list[str],
           extra: dict[str, Any], markdown: Any, write_json: Any, run_metadata: Any) -> int:
    from benchmarks.harness import cli

    out = Path(args.out) / ("quick" if args.quick else "")
    out.mkdir(parents=True, exist_ok=True)
    jpath = out / f"{stem}.json"
    rows = cli._merge(jpath, new_rows, ("key", "dataset"), args.replace)
    old_info: dict[str, Any] = {}
    if jpath.is_file() and not args.replace:
        try:
            old_info = json.loads(jpath.read_text()).get("dataset_info", {})
        except (OSError, ValueError):
            old_info = {}
    info = {**old_info, **info}
    meta = run_metadata(argv, started)
    meta["rows_compute_seconds"] = round(sum(float(r.get("seconds", 0.0)) for r in rows), 3)
    shown = [d for d in order if any(r["dataset"] == d for r in rows)]
    summary = qs.summary(rows, shown)
    write_json(jpath, {"kind": kind, **extra, "meta": meta, "quantiles": list(qs.QUANTILES),
                       "wql_quantiles": list(qs.WQL_QUANTILES), "datasets": shown, "dataset_info": info,
                       "summary": summary, "rows": rows})
    (out / f"{stem}.md").write_text(markdown(kind, rows, meta, shown, info, summary, extra))
    print(f"wrote {out / (stem + '.md')} and {jpath}", file=sys.stderr)
    return 0
