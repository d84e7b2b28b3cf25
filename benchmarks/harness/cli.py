"""``python -m benchmarks.harness {multivariate,univariate,realuse,speed}``: run, cache and report.

Results go to ``--out`` (default ``benchmarks/results``) as ``<kind>.md`` and
``<kind>.json`` (``realuse_validation.*`` for ``realuse --split validation``; with
``--quantiles``, quantile scores in ``<kind>_quantiles.*``, see
:mod:`benchmarks.harness.quantile_runs`); ``--quick``
runs write to ``<out>/quick/`` so they never overwrite full results. Multivariate,
univariate and realuse runs *merge* into an existing ``<kind>.json``: rows of the methods
run now replace rows with the same (method, dataset[, subsample]); other rows are kept
(``--replace`` starts from scratch). Every (method, dataset, options)
result is cached as JSON in ``cache_dir('benchmark')``; slow per-window methods also
cache their forecasts chunk by chunk (``.npz``) so an interrupted run resumes.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from seqfusion.training.data.paths import cache_dir

CACHE_VERSION = 1
DEFAULT_OUT = "benchmarks/results"
DEFAULT_MAX_WINDOWS = 1000
MV_DEFAULT_METHODS = ("last", "mean", "snaive", "autoets", "autotheta", "autoarima",
                      "dlinear", "patchtst")
UV_METHODS = ("last", "mean", "snaive", "autoets", "autotheta", "autoarima", "seqfusion")
UV_DEFAULT_METHODS = ("last", "mean", "snaive", "autoets", "autotheta")
QUICK_MV_DATASETS = ("ETTh1", "Illness")
QUICK_HORIZONS = (6, 24)
QUICK_ROWS = 300
QUICK_UV_DATASETS = ("m3_yearly", "tourism_yearly")
QUICK_SERIES = 50
CHUNKS = {"autoets": 1000, "autotheta": 1000, "autoarima": 20}
QUICK_RU_DATASETS = ("ETTh1", "Illness", "m3_yearly", "tourism_yearly")
QUICK_RU_METHODS = ("snaive", "naive", "seqfusion")
QUICK_RU_SERIES = 20
RU_MAX_WINDOWS = 100  # AutoETS / AutoTheta windows per dataset
RU_ARIMA_WINDOWS = 20  # AutoARIMA windows per dataset
RU_CHUNK = 10  # windows per cached chunk of the statsforecast methods


class UsageError(Exception):
    """Bad command-line input (reported as one line, exit status 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _split(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    out = [v.strip() for item in values for v in item.split(",") if v.strip()]
    return out


def _resolve_all(names: list[str], resolve: Any) -> list[Any]:
    """``resolve(name)`` for every dataset name; an unknown name is a usage error."""
    try:
        return [resolve(n) for n in names]
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _options(pairs: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise UsageError(f"--seqfusion-opt expects KEY=VALUE, got {pair!r}")
        key, raw = pair.split("=", 1)
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m benchmarks.harness`` argument parser."""
    p = _Parser(prog="python -m benchmarks.harness",
                description="Run the benchmarks; results in --out as markdown + JSON.")
    sub = p.add_subparsers(dest="kind", required=True, parser_class=_Parser,
                           metavar="{multivariate,univariate,realuse,candidates,speed}")
    _add_realuse_parser(sub)
    _add_candidates_parser(sub)
    for kind, help_ in (("multivariate", "ForecastPFN/SeqFusion multivariate protocol (MSE)"),
                        ("univariate", "M3 / Tourism / M4 Hourly+Weekly (SMAPE / MAPE)"),
                        ("speed", "throughput, latency, memory, zoo size")):
        s = sub.add_parser(kind, help=help_)
        s.add_argument("--zoo", default=None, help="zoo folder for SeqFusion (default: shipped zoo)")
        s.add_argument("--k", type=int, default=None,
                       help="PTMs fused per variate (default: the value the zoo recommends)")
        s.add_argument("--quick", action="store_true", help="tiny smoke-test run (seconds)")
        s.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
        s.add_argument("--no-cache", action="store_true", help="recompute, ignoring cached results")
        s.add_argument("--no-freq", action="store_true",
                       help="do not tell SeqFusion the datasets' sampling frequency")
        s.add_argument("--no-progress", action="store_true", help="no progress bars")
        if kind == "speed":
            s.add_argument("--n-series", type=int, default=10_000)
            s.add_argument("--horizon", type=int, default=48)
            s.add_argument("--sf-series", type=int, default=300,
                           help="series timed for statsforecast AutoETS/AutoTheta")
            s.add_argument("--repeats", type=int, default=20)
            s.add_argument("--threads", type=int, default=None,
                           help="CPUs the numpy engine may use (default: all the process may run on)")
            continue
        s.add_argument("--datasets", nargs="+", default=None)
        s.add_argument("--methods", nargs="+", default=None,
                       help="comma/space separated; seqfusion is added when --zoo is given")
        s.add_argument("--max-windows", type=int, default=None,
                       help="rows (univariate: series) for slow methods (AutoARIMA); "
                            f"multivariate default {DEFAULT_MAX_WINDOWS}")
        s.add_argument("--seqfusion-opt", action="append", default=None, metavar="KEY=VALUE",
                       help="extra option passed to predict_windows (repeatable)")
        s.add_argument("--tag", default=None, help="suffix for the method labels (ablations)")
        s.add_argument("--replace", action="store_true",
                       help="write only this run's rows instead of merging with the existing file")
        if kind == "multivariate":
            _add_quantile_flags(s, "multivariate_quantiles", 5)
            s.add_argument("--horizons", nargs="+", default=None)
            s.add_argument("--seed", type=int, default=0, help="seed of the in-task deep models")
            s.add_argument("--epochs", type=int, default=10, help="in-task deep model epochs")
    return p


def _add_realuse_parser(sub: Any) -> None:
    s = sub.add_parser("realuse", help="whole history before the origin; MASE, geo-mean vs SeasonalNaive")
    s.add_argument("--datasets", nargs="+", default=None,
                   help="dataset names (default: all, see benchmarks.harness.realuse.DATASETS)")
    s.add_argument("--methods", nargs="+", default=None,
                   help="snaive naive autoets autotheta autoarima seqfusion seqfusion_last seqfusion_paper "
                        "(default: all; SeasonalNaive is always added)")
    s.add_argument("--split", choices=("test", "validation"), default="test",
                   help="test origins, or the validation origins before them")
    s.add_argument("--zoo", default=None, help="SeqFusion zoo for the non-competition datasets "
                                               "(default: shipped zoo)")
    s.add_argument("--competition-zoo", default=None,
                   help="zoo without M3/M4/Tourism data for the competition datasets (default: "
                        "<SEQFUSION_CACHE>/zoos/no_competitions when built; otherwise the --zoo "
                        "zoo, with those rows marked 'zoo saw this source')")
    s.add_argument("--max-windows", type=int, default=RU_MAX_WINDOWS,
                   help=f"AutoETS/AutoTheta windows per dataset, evenly spaced (0: all; "
                        f"default {RU_MAX_WINDOWS})")
    s.add_argument("--arima-windows", type=int, default=RU_ARIMA_WINDOWS,
                   help=f"AutoARIMA windows per dataset (0: all; default {RU_ARIMA_WINDOWS})")
    s.add_argument("--quick", action="store_true", help="tiny smoke-test run (seconds)")
    s.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    s.add_argument("--no-cache", action="store_true", help="recompute, ignoring cached forecasts")
    s.add_argument("--no-freq", action="store_true",
                   help="do not tell SeqFusion the datasets' sampling frequency")
    s.add_argument("--no-progress", action="store_true", help="no progress bars")
    s.add_argument("--replace", action="store_true",
                   help="write only this run's rows instead of merging with the existing file")
    _add_quantile_flags(s, "realuse_quantiles[_validation]", 10)


def _add_candidates_parser(sub: Any) -> None:
    s = sub.add_parser("candidates", help="whole-history candidates scored alone, next to the fused forecast")
    s.add_argument("--datasets", nargs="+", default=None, help="realuse dataset names (default: all)")
    s.add_argument("--split", choices=("test", "validation"), default="validation")
    s.add_argument("--zoo", default=None, help="zoo for the non-competition datasets (default: shipped zoo)")
    s.add_argument("--competition-zoo", default=None,
                   help="zoo without M3/M4/Tourism data (default: <SEQFUSION_CACHE>/zoos/no_competitions)")
    s.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")


def run_candidates(args: argparse.Namespace, argv: list[str], started: float) -> int:
    from benchmarks.harness import candidates

    zoo, comp = _realuse_zoos(args, ["seqfusion"])
    if comp == zoo:
        raise UsageError("no zoo without M3/M4/Tourism data found; give --competition-zoo")
    return candidates.run(_split(args.datasets), args.split, zoo, comp, Path(args.out), argv, started)


def _add_quantile_flags(s: Any, stem: str, windows: int) -> None:
    s.add_argument("--quantiles", action="store_true",
                   help="score quantile forecasts (WQL, 80%%/95%% coverage, width) instead of point "
                        f"forecasts; results in {stem}.{{md,json}}; methods: snaive snaive_empirical "
                        "autoets autotheta conformal_snaive conformal_autotheta seqfusion "
                        "(benchmarks.harness.quantile_runs)")
    s.add_argument("--conformal-windows", type=int, default=windows,
                   help=f"--quantiles: n_windows of statsforecast's conformal intervals (default {windows})")


# ------------------------------------------------------------------ helpers


def _fingerprint(path: Path) -> str:
    """SHA-256 of a data file's bytes (a copy or re-mount of the same data keeps its cache)."""
    from seqfusion.zoo import sha256_file

    return sha256_file(path)


def _cache_paths(kind: str, dataset: str, key: str, payload: dict[str, Any]) -> tuple[Path, Path]:
    blob = json.dumps({"v": CACHE_VERSION, **payload}, sort_keys=True, default=str)
    digest = hashlib.sha256(blob.encode()).hexdigest()[:16]
    base = cache_dir("benchmark", kind, dataset)
    return base / f"{key}-{digest}.json", cache_dir("benchmark", "chunks") / digest


def _cache_lookup(kind: str, dataset: str, key: str, payload: dict[str, Any], no_cache: bool,
                  with_npz: bool = True) -> tuple[Path, Path, dict[str, Any] | None]:
    """Cache paths of a result (see :func:`_cache_paths`) and its cached row, if any (marked
    ``cached``; with ``with_npz`` only when its ``.npz`` exists too). ``no_cache`` drops
    the chunk cache and ignores the cached row."""
    cfile, chunk_dir = _cache_paths(kind, dataset, key, payload)
    if no_cache:
        shutil.rmtree(chunk_dir, ignore_errors=True)
        return cfile, chunk_dir, None
    if cfile.is_file() and (not with_npz or cfile.with_suffix(".npz").is_file()):
        row: dict[str, Any] = json.loads(cfile.read_text())
        row["cached"] = True
        return cfile, chunk_dir, row
    return cfile, chunk_dir, None


def _bar(total: int, desc: str, disable: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="row", disable=disable, mininterval=2.0,
                dynamic_ncols=True, leave=False)


def _merge(path: Path, new_rows: list[dict[str, Any]], ident: tuple[str, ...],
           replace: bool) -> list[dict[str, Any]]:
    old: list[dict[str, Any]] = []
    if path.is_file() and not replace:
        try:
            old = json.loads(path.read_text()).get("rows", [])
        except (OSError, ValueError):
            old = []
    seen = {tuple(r.get(k) for k in ident) for r in new_rows}
    kept = [r for r in old if tuple(r.get(k) for k in ident) not in seen]
    return kept + new_rows


def _method_label(key: str, method: Any, args: argparse.Namespace, kind: str) -> str:
    if key == "snaive" and kind == "multivariate":
        label = "SeasonalNaive (7)"
    elif key == "snaive":
        label = "SeasonalNaive"
    elif key == "seqfusion":
        zoo = Path(args.zoo).name if args.zoo else "default"
        label = f"SeqFusion (k={args.k}, zoo={zoo}"
        opts = _options(args.seqfusion_opt)
        if opts:
            label += ", " + ", ".join(f"{k}={v}" for k, v in sorted(opts.items()))
        label += ")"
    elif key in ("dlinear", "patchtst"):
        label = f"{method.name} (in-task {method.budget})"
    else:
        label = method.name
    return f"{label} [{args.tag}]" if args.tag else label


def _seqfusion_wanted(args: argparse.Namespace, default: tuple[str, ...]) -> list[str]:
    methods = _split(args.methods) or list(default)
    if args.zoo and "seqfusion" not in methods and args.methods is None:
        methods.append("seqfusion")
    return [m.lower() for m in methods]


def _check_zoo(args: argparse.Namespace, methods: list[str]) -> None:
    if "seqfusion" not in methods:
        return
    from benchmarks.harness.baselines import zoo_folder

    folder = zoo_folder(args.zoo)
    if not (folder / "zoo.json").is_file():
        raise UsageError(f"no zoo at {folder} (zoo.json missing); give --zoo DIR")
    if args.k < 1:
        raise UsageError("--k must be >= 1")


# ------------------------------------------------------------------ multivariate


def run_multivariate(args: argparse.Namespace, argv: list[str], started: float) -> int:
    if args.quantiles:
        from benchmarks.harness.quantile_runs import run_multivariate_quantiles

        return run_multivariate_quantiles(args, argv, started)
    from benchmarks.harness import baselines as bl
    from benchmarks.harness import protocol as pr
    from benchmarks.harness.report import CostMeter, multivariate_markdown, run_metadata, write_json

    quick = args.quick
    names = _split(args.datasets) or list(QUICK_MV_DATASETS if quick else pr.DATASETS)
    specs = _resolve_all(names, pr.resolve_dataset)
    try:
        horizons = sorted({int(h) for h in (_split(args.horizons) or
                                            (QUICK_HORIZONS if quick else pr.HORIZONS))})
    except ValueError:
        raise UsageError(f"--horizons must be integers, got {args.horizons}") from None
    if not horizons or horizons[0] < 1:
        raise UsageError("--horizons must be positive")
    methods = _seqfusion_wanted(args, ("last", "mean", "snaive") if quick else MV_DEFAULT_METHODS)
    bad = [m for m in methods if m not in bl.ALL_METHODS]
    if bad:
        raise UsageError(f"unknown method(s) {', '.join(bad)}; known: {', '.join(bl.ALL_METHODS)}")
    _check_zoo(args, methods)
    if args.max_windows is not None and args.max_windows < 1:
        raise UsageError("--max-windows must be >= 1")
    sf_opts = _options(args.seqfusion_opt)

    # jobs: (method key, max_rows); subsampled slow methods get naive rows beside them
    jobs: list[tuple[str, int | None]] = []
    for key in methods:
        if quick:
            rows = args.max_windows or QUICK_ROWS
        elif key in bl.SLOW_METHODS:
            rows = args.max_windows or DEFAULT_MAX_WINDOWS
        else:
            rows = None
        jobs.append((key, rows))
    for rows in sorted({r for _, r in jobs if r is not None}):
        for key in ("last", "mean", "snaive"):
            if (key, rows) not in jobs:
                jobs.append((key, rows))
    if any(r is None for _, r in jobs) and ("snaive", None) not in jobs:
        jobs.append(("snaive", None))  # denominator of the geo-mean column
    jobs.sort(key=lambda j: (j[1] is not None, j[1] or 0,
                             bl.ALL_METHODS.index(j[0]) if j[0] in bl.ALL_METHODS else 99))

    import torch

    torch.set_num_threads(1)
    new_rows: list[dict[str, Any]] = []
    commit = None
    for spec in specs:
        data = pr.load_dataset(spec.name)
        fp = _fingerprint(pr.dataset_path(spec))
        for key, max_rows in jobs:
            method = bl.make_method(key, data, season=spec.season, snaive_period=7, zoo=args.zoo,
                                    k=args.k, seqfusion_options=sf_opts,
                                    freq=None if args.no_freq else spec.freq,
                                    deep_options={"seed": args.seed, "epochs": args.epochs})
            label = _method_label(key, method, args, "multivariate")
            group = "full" if max_rows is None else f"{max_rows} rows per dataset"
            payload = {"kind": "multivariate", "method": key, "options": method.options(),
                       "dataset": spec.name, "data": fp, "horizons": horizons,
                       "max_rows": max_rows}
            if key == "seqfusion":
                payload["zoo"] = bl.zoo_fingerprint(args.zoo)
            cfile, chunk_dir, row = _cache_lookup("multivariate", spec.name, key, payload, args.no_cache,
                                                  with_npz=False)
            if row is None:
                total = pr.rows_to_evaluate(method, data, horizons, max_rows)
                bar = _bar(total, f"{label} {spec.name}", args.no_progress)
                try:
                    with CostMeter() as cost:
                        res = pr.evaluate(method, data, horizons, max_rows=max_rows,
                                          chunk=CHUNKS.get(key), progress=bar.update,
                                          chunk_cache=chunk_dir if key in CHUNKS else None)
                finally:
                    bar.close()
                if commit is None:
                    from benchmarks.harness.report import git_commit

                    commit = git_commit() or "unknown"
                row = {**res.to_dict(), **cost.to_dict(), "stats": dict(method.stats),
                       "options": method.options(), "computed_utc":
                       time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "git_commit": commit}
                write_json(cfile, row)
                shutil.rmtree(chunk_dir, ignore_errors=True)
                row["cached"] = False
            row.update({"method": label, "key": key, "group": group, "max_rows": max_rows})
            new_rows.append(row)
            print(f"{label:<40} {spec.name:<9} {group:<22} MSE {row['mse']:.4f}  "
                  f"MAE {row['mae']:.4f}  {row['seconds']:.1f}s"
                  + ("  (cached)" if row["cached"] else ""), file=sys.stderr)

    out = Path(args.out) / ("quick" if quick else "")
    out.mkdir(parents=True, exist_ok=True)
    jpath = out / "multivariate.json"
    rows = _merge(jpath, new_rows, ("method", "dataset", "group"), args.replace)
    meta = run_metadata(argv, started)
    meta["rows_compute_seconds"] = round(sum(float(r.get("seconds", 0.0)) for r in rows), 3)
    shown = [d for d in pr.DATASETS if any(r["dataset"] == d for r in rows)]
    write_json(jpath, {"kind": "multivariate", "meta": meta, "datasets": shown,
                       "horizons": horizons, "rows": rows})
    (out / "multivariate.md").write_text(multivariate_markdown(rows, meta, shown, horizons))
    print(f"wrote {out / 'multivariate.md'} and {jpath}", file=sys.stderr)
    return 0


# ------------------------------------------------------------------ univariate


def run_univariate(args: argparse.Namespace, argv: list[str], started: float) -> int:
    from benchmarks.harness import baselines as bl
    from benchmarks.harness import univariate as uv
    from benchmarks.harness.report import CostMeter, run_metadata, univariate_markdown, write_json
    from seqfusion.training.data.paths import data_root

    quick = args.quick
    names = [n.lower() for n in (_split(args.datasets) or
                                 list(QUICK_UV_DATASETS if quick else uv.UNIVARIATE))]
    specs = _resolve_all(names, uv.resolve_univariate)
    methods = _seqfusion_wanted(args, ("last", "mean", "snaive") if quick else UV_DEFAULT_METHODS)
    bad = [m for m in methods if m not in UV_METHODS]
    if bad:
        raise UsageError(f"unknown univariate method(s) {', '.join(bad)}; known: {', '.join(UV_METHODS)}")
    _check_zoo(args, methods)
    if "seqfusion" in methods:
        uv.check_leakage(args.zoo, [s.name for s in specs])
    sf_opts = _options(args.seqfusion_opt)
    max_series = QUICK_SERIES if quick else None
    new_rows: list[dict[str, Any]] = []
    for spec in specs:
        data = uv.load_univariate(spec.name, max_series=max_series)
        fp = _fingerprint(data_root() / spec.path)
        for key in methods:
            method = bl.make_method(key, None, season=spec.season, zoo=args.zoo, k=args.k,
                                    seqfusion_options=sf_opts, freq=None if args.no_freq else spec.freq)
            label = _method_label(key, method, args, "univariate")
            sub = data
            limit = args.max_windows if key in bl.SLOW_METHODS else None
            if limit is not None and limit < len(data.x):
                import numpy as np

                idx = np.unique(np.linspace(0, len(data.x) - 1, limit).round().astype(int))
                sub = uv.UnivariateData(spec, data.x[idx], data.y[idx], data.n_padded)
                label += f" (subsample {len(idx)} series)"
            payload = {"kind": "univariate", "method": key, "options": method.options(),
                       "dataset": spec.name, "data": fp, "n": len(sub.x), "limit": limit,
                       "max_series": max_series}
            if key == "seqfusion":
                payload["zoo"] = bl.zoo_fingerprint(args.zoo)
            cfile, _ = _cache_paths("univariate", spec.name, key, payload)
            row: dict[str, Any] | None = None
            if cfile.is_file() and not args.no_cache:
                row = json.loads(cfile.read_text())
                row["cached"] = True
            if row is None:
                with CostMeter() as cost:
                    res = uv.evaluate_univariate(method, sub)
                row = {**res.to_dict(), **cost.to_dict(), "stats": dict(method.stats),
                       "options": method.options(),
                       "computed_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
                write_json(cfile, row)
                row["cached"] = False
            row.update({"method": label, "key": key})
            new_rows.append(row)
            print(f"{label:<40} {spec.name:<18} {spec.metric.upper()} {row['value']:.3f}  "
                  f"{row['seconds']:.1f}s" + ("  (cached)" if row["cached"] else ""),
                  file=sys.stderr)

    out = Path(args.out) / ("quick" if quick else "")
    out.mkdir(parents=True, exist_ok=True)
    jpath = out / "univariate.json"
    rows = _merge(jpath, new_rows, ("method", "dataset"), args.replace)
    meta = run_metadata(argv, started)
    meta["rows_compute_seconds"] = round(sum(float(r.get("seconds", 0.0)) for r in rows), 3)
    shown = [d for d in uv.UNIVARIATE if any(r["dataset"] == d for r in rows)]
    fam_rows: dict[str, Any] = {}
    by_label: dict[str, list[Any]] = {}
    for r in rows:
        by_label.setdefault(r["method"], []).append(uv.UnivariateResult.from_dict(r))
    for label, rs in by_label.items():
        fam_rows[label] = uv.family_average(rs)
    write_json(jpath, {"kind": "univariate", "meta": meta, "datasets": shown, "rows": rows,
                       "families": fam_rows})
    (out / "univariate.md").write_text(univariate_markdown(rows, meta, shown))
    print(f"wrote {out / 'univariate.md'} and {jpath}", file=sys.stderr)
    return 0


# ------------------------------------------------------------------ realuse


def competition_zoo_default() -> Path:
    """Where the zoo without M3/M4/Tourism data is expected (``benchmarks/run_realuse.sh``
    builds it there)."""
    return cache_dir("zoos") / "no_competitions"


def _realuse_zoos(args: argparse.Namespace, methods: list[str]) -> tuple[str | None, str | None]:
    """(zoo for the other datasets, zoo for the competition datasets)."""
    from benchmarks.harness.baselines import zoo_folder

    if not any(m.startswith("seqfusion") for m in methods):
        return args.zoo, args.zoo
    if not (zoo_folder(args.zoo) / "zoo.json").is_file():
        raise UsageError(f"no zoo at {zoo_folder(args.zoo)} (zoo.json missing); give --zoo DIR")
    if args.competition_zoo is not None:
        if not (Path(args.competition_zoo) / "zoo.json").is_file():
            raise UsageError(f"no zoo at {args.competition_zoo} (zoo.json missing)")
        return args.zoo, str(args.competition_zoo)
    cand = competition_zoo_default()
    if (cand / "zoo.json").is_file():
        return args.zoo, str(cand)
    return args.zoo, args.zoo


def run_realuse(args: argparse.Namespace, argv: list[str], started: float) -> int:
    if args.quantiles:
        from benchmarks.harness.quantile_runs import run_realuse_quantiles

        return run_realuse_quantiles(args, argv, started)
    import numpy as np

    from benchmarks.harness import protocol as pr
    from benchmarks.harness import realuse as ru
    from benchmarks.harness.baselines import zoo_fingerprint
    from benchmarks.harness.report import CostMeter, realuse_markdown, run_metadata, write_json
    from seqfusion.training.data.paths import data_root

    quick = args.quick
    names = _split(args.datasets) or list(QUICK_RU_DATASETS if quick else ru.DATASETS)
    specs = _resolve_all(names, ru.resolve)
    methods = [ru.canonical_method(m) for m in
               (_split(args.methods) or list(QUICK_RU_METHODS if quick else ru.METHODS))]
    bad = [m for m in methods if m not in ru.METHODS]
    if bad:
        raise UsageError(f"unknown realuse method(s) {', '.join(bad)}; known: {', '.join(ru.METHODS)}")
    if "snaive" in methods:
        methods.remove("snaive")
    methods.insert(0, "snaive")  # the reference of every ratio
    methods = list(dict.fromkeys(methods))
    if args.max_windows < 0 or args.arima_windows < 0:
        raise UsageError("--max-windows and --arima-windows must be >= 0")
    limits = {"autoets": args.max_windows or None, "autotheta": args.max_windows or None,
              "autoarima": args.arima_windows or None}
    zoo_main, zoo_comp = _realuse_zoos(args, methods)
    if any(m.startswith("seqfusion") for m in methods) and zoo_comp == zoo_main and any(
            s.competition for s in specs):
        print("python -m benchmarks.harness: note: no zoo without M3/M4/Tourism found (build one with "
              "benchmarks/run_realuse.sh or give --competition-zoo); the competition rows use "
              f"{zoo_main or 'the default zoo'} and are marked 'zoo saw this source'",
              file=sys.stderr)
    max_series = QUICK_RU_SERIES if quick else None
    split = args.split
    new_rows: list[dict[str, Any]] = []
    info: dict[str, dict[str, Any]] = {}
    commit = None
    for spec in specs:
        data = ru.load(spec.name, split, max_series=max_series)
        if data.n_windows == 0:
            print(f"{spec.name}: no window for split {split}; skipped", file=sys.stderr)
            continue
        fp = _fingerprint(data_root() / spec.path)
        zoo = zoo_comp if spec.competition else zoo_main
        saw = ru.zoo_saw(zoo, spec) if any(m.startswith("seqfusion") for m in methods) else []
        lengths = data.context_lengths()
        info[spec.name] = {
            "group": spec.group, "frequency": spec.frequency, "freq_given": spec.freq,
            "horizon": spec.horizon, "season": spec.season, "metric": spec.metric,
            "n_series": data.n_series, "n_windows": data.n_windows,
            "windows_dropped_short_context": data.dropped,
            "context_min": int(lengths.min()), "context_median": float(np.median(lengths)),
            "context_max": int(lengths.max()), "path": spec.path,
            "origins": ("competition test window (n - H)" if spec.competition and split == "test"
                        else "last H points of the training part (n - 2H)" if spec.competition
                        else f"n - kH, k = {'1..5' if split == 'test' else '6..10'}"),
            "zoo": None if not any(m.startswith("seqfusion") for m in methods)
            else (Path(zoo).name if zoo else "default"),
            "zoo_saw_source": saw, "max_series": max_series,
            "zoo_manifest_sha256": (zoo_fingerprint(zoo) if any(m.startswith("seqfusion")
                                                                for m in methods) else None),
        }
        forecasts: dict[str, tuple[Any, Any]] = {}
        meta_rows: dict[str, dict[str, Any]] = {}
        for key in methods:
            method = ru.make_method(key, spec, zoo=zoo, no_freq=args.no_freq)
            idx = ru.subsample(data.n_windows, limits.get(key))
            payload = {"kind": "realuse", "method": key, "options": method.options(),
                       "dataset": spec.name, "split": split, "data": fp,
                       "max_series": max_series,
                       "windows": hashlib.sha256(idx.tobytes()).hexdigest()[:16],
                       "n_windows": int(len(idx)), "protocol": 1}
            if key.startswith("seqfusion"):
                payload["zoo"] = zoo_fingerprint(zoo)
            cfile, chunk_dir, row = _cache_lookup("realuse", f"{spec.name}-{split}", key, payload, args.no_cache)
            npz = cfile.with_suffix(".npz")
            if row is not None:
                with np.load(npz) as z:
                    pred = z["pred"]
            else:
                slow = key in ru.SLOW
                bar = _bar(len(idx), f"{method.name} {spec.name}", args.no_progress)
                try:
                    with CostMeter() as cost:
                        pred = pr.forecast_rows(method, data.contexts(idx), spec.horizon,
                                                chunk=RU_CHUNK if slow else None,
                                                progress=bar.update,
                                                chunk_cache=chunk_dir if slow else None)
                finally:
                    bar.close()
                bad_pred = ~np.isfinite(pred)
                if bad_pred.any():  # never scored as NaN: replaced by the last context value
                    last = np.array([c[-1] for c in data.contexts(idx)])
                    pred = np.where(bad_pred, last[:, None], pred)
                if commit is None:
                    from benchmarks.harness.report import git_commit

                    commit = git_commit() or "unknown"
                row = {**cost.to_dict(), "stats": dict(method.stats), "options": method.options(),
                       "non_finite": int(bad_pred.sum()), "computed_utc":
                       time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "git_commit": commit}
                write_json(cfile, row)
                np.savez(npz, pred=pred, idx=idx)
                shutil.rmtree(chunk_dir, ignore_errors=True)
                row["cached"] = False
            forecasts[method.name] = (idx, pred)
            row.update({"method": method.name, "key": key, "cap": method.cap,
                        "subsample_limit": limits.get(key)})
            if key.startswith("seqfusion"):
                row.update({"zoo": info[spec.name]["zoo"], "zoo_saw_source": saw})
            meta_rows[method.name] = row
        scores = ru.score_dataset(data, forecasts, ru.LABELS["snaive"])
        for label, sc in scores.items():
            row = {"dataset": spec.name, "split": split, "group": spec.group,
                   **sc, **meta_rows[label]}
            new_rows.append(row)
            extra = f"  {spec.metric.upper()} {row[spec.metric]:.3f}" if spec.metric else ""
            print(f"{label:<48} {spec.name:<17} MASE {row['mase']:.4f}  rel "
                  f"{row['relative_mase'] or float('nan'):.4f}{extra}  n={row['n_windows']}  "
                  f"{row['seconds']:.1f}s" + ("  (cached)" if row["cached"] else ""),
                  file=sys.stderr)

    out = Path(args.out) / ("quick" if quick else "")
    out.mkdir(parents=True, exist_ok=True)
    stem = "realuse" if split == "test" else "realuse_validation"
    jpath = out / f"{stem}.json"
    rows = _merge(jpath, new_rows, ("key", "dataset"), args.replace)
    old_info: dict[str, Any] = {}
    if jpath.is_file() and not args.replace:
        try:
            old_info = json.loads(jpath.read_text()).get("dataset_info", {})
        except (OSError, ValueError):
            old_info = {}
    info = {**old_info, **info}
    meta = run_metadata(argv, started)
    meta["rows_compute_seconds"] = round(sum(float(r.get("seconds", 0.0)) for r in rows), 3)
    shown = [d for d in ru.DATASETS if any(r["dataset"] == d for r in rows)]
    summary = ru.summarize(rows, shown, lambda d: ru.DATASETS[d].group)
    write_json(jpath, {"kind": "realuse", "split": split, "meta": meta, "datasets": shown,
                       "dataset_info": info, "summary": summary, "rows": rows})
    (out / f"{stem}.md").write_text(realuse_markdown(rows, meta, shown, info, summary, split))
    print(f"wrote {out / (stem + '.md')} and {jpath}", file=sys.stderr)
    return 0


# ------------------------------------------------------------------ speed


def run_speed_cmd(args: argparse.Namespace, argv: list[str], started: float) -> int:
    from benchmarks.harness.baselines import zoo_folder
    from benchmarks.harness.report import run_metadata, speed_markdown, write_json
    from benchmarks.harness.speed import run_speed

    if not (zoo_folder(args.zoo) / "zoo.json").is_file():
        raise UsageError(f"no zoo at {zoo_folder(args.zoo)} (zoo.json missing); give --zoo DIR")
    n = 500 if args.quick else args.n_series
    sf = 30 if args.quick else args.sf_series
    repeats = 5 if args.quick else args.repeats
    if n < 1 or args.horizon < 1 or repeats < 1 or sf < 0 or args.k < 1 or (
            args.threads is not None and args.threads < 1):
        raise UsageError("--n-series, --horizon, --repeats, --k, --threads must be >= 1 "
                         "and --sf-series >= 0")
    result = run_speed(args.zoo, n_series=n, horizon=args.horizon, k=args.k, sf_series=sf,
                       repeats=repeats, threads=args.threads)
    out = Path(args.out) / ("quick" if args.quick else "")
    out.mkdir(parents=True, exist_ok=True)
    meta = run_metadata(argv, started)
    write_json(out / "speed.json", {"kind": "speed", "meta": meta, "result": result})
    (out / "speed.md").write_text(speed_markdown(result, meta))
    print(f"wrote {out / 'speed.md'} and {out / 'speed.json'}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks.harness ...`` (``argv`` without the word benchmark)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        print(f"python -m benchmarks.harness: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    runners = {"multivariate": run_multivariate, "univariate": run_univariate,
               "realuse": run_realuse, "candidates": run_candidates, "speed": run_speed_cmd}
    full_argv = ["-m", "benchmarks.harness", *argv]
    try:
        if getattr(args, "k", 0) is None:
            from seqfusion.errors import ZooError
            from seqfusion.forecaster import SeqFusion

            try:
                args.k = SeqFusion.from_pretrained(args.zoo).k
            except ZooError:
                args.k = 3
        return runners[args.kind](args, full_argv, started)
    except UsageError as exc:
        print(f"python -m benchmarks.harness: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("python -m benchmarks.harness: interrupted (finished chunks stay cached)", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, RuntimeError, ImportError, OSError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"python -m benchmarks.harness: error: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
