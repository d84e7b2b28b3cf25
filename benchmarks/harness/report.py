"""Result files of the benchmarks (markdown + JSON), run metadata, cost metering, and the
paper's reported numbers used as reference rows ("paper, not run here")."""
from __future__ import annotations

import json
import math
import os
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# ------------------------------------------------------------------ paper numbers

PAPER_DATASETS = ("ECL", "ETTh1", "ETTh2", "Exchange", "Illness", "Weather")

#: Table 2 / Table 3 of arXiv 2503.02836 (MSE; Traffic omitted: no data here).
#: Columns in the order of ``PAPER_DATASETS``.
PAPER_MULTIVARIATE: dict[str, tuple[float, ...]] = {
    "Last": (0.7360, 0.7640, 0.2639, 0.0217, 4.7867, 1.4799),
    "Mean": (0.6755, 0.6314, 0.3550, 0.0376, 4.8981, 1.4063),
    "SeasonalNaive (7)": (0.6091, 0.8539, 0.3315, 0.0272, 6.0760, 1.6105),
    "Arima (in-task 50)": (3.6648, 0.6389, 1.0048, 10.1624, 5.8628, 3.1264),
    "DLinear (in-task 50)": (0.6942, 0.6472, 0.3730, 0.0559, 4.8826, 1.4644),
    "PatchTST (in-task 50)": (0.6184, 0.7333, 0.4006, 0.0354, 3.9034, 1.4877),
    "Meta-N-BEATS": (0.7576, 0.7715, 0.3133, 0.0469, 4.6405, 1.4648),
    "GPT4TS": (0.7458, 0.6961, 0.3397, 0.0280, 6.9384, 1.4777),
    "ForecastPFN": (0.9511, 1.1851, 0.5144, 0.0579, 4.8880, 1.8770),
    "SeqFusion": (0.6029, 0.6001, 0.2450, 0.0217, 3.4956, 1.4488),
    "Chronos (small)": (0.5444, 0.5652, 0.2323, 0.0239, 5.7046, 1.3580),
    "Moirai (base)": (0.6909, 0.6986, 0.3102, 0.0372, 5.2899, 1.5127),
    "TimesFM": (0.6100, 0.5671, 0.4721, 0.0355, 3.1143, 1.4332),
    "SeqFusion (large zoo)": (0.5263, 0.5265, 0.2604, 0.0244, 4.3535, 1.3323),
}
PAPER_SNAIVE = "SeasonalNaive (7)"

#: Tables 4/5 (univariate, transfer setting): M4 SMAPE, M3 SMAPE, Tourism MAPE.
PAPER_UNIVARIATE: dict[str, tuple[float, float, float]] = {
    "Last": (13.1685, 16.2198, 35.6551),
    "Mean": (18.1079, 21.9992, 47.3637),
    "SeasonalNaive": (16.5641, 19.5313, 40.6277),
    "DLinear": (15.3976, 17.9384, 34.9516),
    "PatchTST": (12.0447, 13.7123, 25.4164),
    "Meta-N-BEATS": (11.9463, 13.3581, 27.3988),
    "ForecastPFN": (18.1150, 21.9990, 47.3637),
    "GPT4TS": (10.4272, 11.6235, 33.7843),
    "SeqFusion": (11.1604, 12.8145, 30.4334),
}
PAPER_SOURCE = ("Huang, Chen, Ye, SeqFusion, arXiv 2503.02836, Tables 2-5 "
                "(copied via shared/paper/README.md)")


def geomean_ratio(values: dict[str, float], reference: dict[str, float],
                  datasets: list[str] | tuple[str, ...]) -> tuple[float | None, int]:
    """Geometric mean over ``datasets`` of ``values[d] / reference[d]``.

    Returns (value, number of datasets used); datasets missing in either dict are
    skipped, and None is returned when none is left.
    """
    logs = [math.log(values[d] / reference[d]) for d in datasets
            if d in values and d in reference and values[d] > 0 and reference[d] > 0]
    return (math.exp(sum(logs) / len(logs)) if logs else None), len(logs)


# ------------------------------------------------------------------ run metadata


def git_commit(cwd: Path | None = None) -> str | None:
    """``git rev-parse HEAD`` of the checkout holding this package (None on failure)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10, cwd=cwd or Path(__file__).resolve().parent)
        return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None
    except (OSError, subprocess.SubprocessError):
        return None


def git_dirty(cwd: Path | None = None) -> bool | None:
    """Whether tracked files other than ``benchmarks/results/`` (the scripts' own outputs,
    written one after another by one script) differ from HEAD (None when git is
    unavailable)."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ":(top)",
                              ":(exclude,top)benchmarks/results"],
                             capture_output=True, text=True, timeout=10,
                             cwd=cwd or Path(__file__).resolve().parent)
        return bool(out.stdout.strip()) if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def library_versions() -> dict[str, str | None]:
    """Versions of the libraries the numbers depend on (None when not installed)."""
    from importlib import metadata

    out: dict[str, str | None] = {}
    for name in ("numpy", "pandas", "torch", "statsforecast", "seqfusion"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    if out["seqfusion"] is None:
        try:
            import seqfusion

            out["seqfusion"] = getattr(seqfusion, "__version__", None)
        except ImportError:
            pass
    return out


def run_metadata(argv: list[str] | None, started: float) -> dict[str, Any]:
    """Command line, commit, versions, machine and total wall time of a run."""
    try:
        import torch

        threads: int | None = torch.get_num_threads()
    except ImportError:  # pragma: no cover
        threads = None
    try:
        affinity: int | None = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        affinity = None
    return {
        "command": shlex.join(["python", *(argv or [])]),
        "process_argv": [sys.executable, *sys.argv],
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "versions": library_versions(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
        "torch_threads": threads,
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "total_wall_seconds": round(time.perf_counter() - started, 3),
    }


# ------------------------------------------------------------------ cost metering


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


@dataclass
class Cost:
    """Wall time and memory of one measured block."""

    seconds: float = 0.0
    peak_rss_mb: float | None = None
    rss_start_mb: float | None = None
    measure: str = ""

    def to_dict(self) -> dict[str, Any]:
        delta = (None if self.peak_rss_mb is None or self.rss_start_mb is None
                 else round(self.peak_rss_mb - self.rss_start_mb, 1))
        return {"seconds": round(self.seconds, 3),
                "peak_rss_mb": None if self.peak_rss_mb is None else round(self.peak_rss_mb, 1),
                "peak_rss_delta_mb": delta, "memory_measure": self.measure}


class CostMeter:
    """Context manager measuring wall time and the process's peak RSS inside the block.

    On Linux the kernel's peak counter (``VmHWM``) is reset on entry by writing 5 to
    ``/proc/self/clear_refs``, so ``peak_rss_mb`` is the peak RSS *during the block*
    (including what the process already held); the delta to the RSS at entry is also
    reported. Elsewhere ``ru_maxrss`` (peak over the process lifetime) is used.
    """

    def __enter__(self) -> Cost:
        self.cost = Cost()
        self.reset = _reset_peak() and _status_kib("VmHWM") is not None
        rss = _status_kib("VmRSS")
        self.cost.rss_start_mb = None if rss is None else rss / 1024
        self.cost.measure = ("peak RSS during the run (VmHWM after clear_refs reset)"
                             if self.reset else "process peak RSS (ru_maxrss)")
        self.start = time.perf_counter()
        return self.cost

    def __exit__(self, *exc: Any) -> None:
        self.cost.seconds = time.perf_counter() - self.start
        if self.reset:
            hwm = _status_kib("VmHWM")
            self.cost.peak_rss_mb = None if hwm is None else hwm / 1024
        else:
            import resource

            self.cost.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------ writing


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _peaks(per: dict[str, dict[str, Any]]) -> tuple[str, str]:
    """Max over datasets of the peak RSS and of its increase over the RSS at the start."""
    peaks = [r["peak_rss_mb"] for r in per.values() if r.get("peak_rss_mb") is not None]
    deltas = [r["peak_rss_delta_mb"] for r in per.values()
              if r.get("peak_rss_delta_mb") is not None]
    return (_fmt(float(max(peaks)) if peaks else None, 0),
            _fmt(float(max(deltas)) if deltas else None, 0))


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as indented JSON (atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1, default=str) + "\n")
    tmp.replace(path)


def _meta_lines(meta: dict[str, Any]) -> list[str]:
    v = meta.get("versions", {})
    commit = meta.get("git_commit") or "unknown"
    if meta.get("git_dirty"):
        commit += " (with uncommitted changes)"
    return [
        f"- command: `{meta.get('command')}`",
        f"- commit: {commit}",
        "- versions: " + ", ".join(f"{k} {v[k]}" for k in v),
        f"- machine: {meta.get('cpu_count')} CPUs ({meta.get('cpu_affinity')} usable), "
        f"torch threads {meta.get('torch_threads')}, {meta.get('platform')}",
        f"- total wall time of this run (timed inside the command): {meta.get('total_wall_seconds')} s "
        f"(finished {meta.get('finished_utc')})"
        + (f"; compute time of the rows shown, summed from their original (possibly cached) "
           f"runs: {meta['rows_compute_seconds']:.0f} s" if "rows_compute_seconds" in meta else ""),
    ]


def multivariate_markdown(rows: list[dict[str, Any]], meta: dict[str, Any],
                          datasets: list[str], horizons: list[int]) -> str:
    """Markdown of the multivariate results (``rows``: one dict per method x dataset)."""
    # (group, label) -> dataset -> row; group "full" or the subsample description
    cells: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for r in rows:
        cells.setdefault((r.get("group", "full"), r["method"]), {})[r["dataset"]] = r
    groups: dict[str, list[str]] = {}
    for group, label in cells:
        groups.setdefault(group, []).append(label)

    def snaive_ref(group: str) -> dict[str, float]:
        for label in groups.get(group, []):
            per = cells[(group, label)]
            if next(iter(per.values())).get("key") == "snaive":
                return {d: per[d]["mse"] for d in per}
        return {}

    lines = [
        "# Multivariate zero-shot benchmark",
        "",
        f"MSE on standardized values, look-back 36, mean over horizons {horizons}; "
        "ForecastPFN/SeqFusion protocol (`benchmarks.harness.protocol`): scaler fitted on "
        "the first 70% of rows, test = last 20% of rows, stride-1 windows, every variate a "
        "univariate series. Geo-mean = geometric mean over the datasets shown of "
        "MSE / SeasonalNaive-MSE (same rows; lower is better).",
        "",
        *_meta_lines(meta),
        "",
    ]
    for group in sorted(groups, key=lambda g: (g != "full", g)):
        title = ("Measured here (all test windows)" if group == "full"
                 else f"Measured here on an evenly spaced subsample ({group})")
        lines += [f"## {title}", ""]
        ref = snaive_ref(group)
        table = []
        for label in groups[group]:
            per = cells[(group, label)]
            vals = {d: per[d]["mse"] for d in per}
            gm, n = geomean_ratio(vals, ref, datasets)
            gm_s = _fmt(gm, 3) + ("" if n == len(datasets) or gm is None else f" ({n})")
            secs = sum(per[d].get("seconds", 0.0) for d in per)
            peak, delta = _peaks(per)
            fb = sum(int(per[d].get("stats", {}).get("fallbacks", 0) or 0) for d in per)
            table.append([label, *[_fmt(vals.get(d)) for d in datasets], gm_s,
                          _fmt(secs, 1), peak, delta, str(fb) if fb else ""])
        lines += _table(["method", *datasets, "geo-mean vs SNaive", "wall s", "peak RSS MiB",
                         "peak RSS Δ MiB", "fallbacks"], table)
        lines += [""]
    lines += ["## Reference rows copied from the paper (paper, not run here)", "",
              f"Source: {PAPER_SOURCE}. Traffic is omitted (no data). Geo-mean uses the "
              "paper's own SeasonalNaive row.", ""]
    pref = dict(zip(PAPER_DATASETS, PAPER_MULTIVARIATE[PAPER_SNAIVE]))
    table = []
    for name, vals in PAPER_MULTIVARIATE.items():
        v = dict(zip(PAPER_DATASETS, vals))
        gm, n = geomean_ratio(v, pref, datasets)
        table.append([f"{name} (paper, not run here)", *[_fmt(v.get(d)) for d in datasets],
                      _fmt(gm, 3)])
    lines += _table(["method", *datasets, "geo-mean vs SNaive"], table)
    lines += ["", "## MAE (measured)", ""]
    table = []
    for group in sorted(groups, key=lambda g: (g != "full", g)):
        for label in groups[group]:
            per = cells[(group, label)]
            table.append([label + ("" if group == "full" else f" ({group})"),
                          *[_fmt(per[d]["mae"]) if d in per else "—" for d in datasets]])
    lines += _table(["method", *datasets], table)
    lines += ["", "## Notes", "",
              "- Wall time: seconds summed over datasets (training included for in-task "
              "models; rows read from the cache keep their original time). Peak RSS: "
              "maximum over datasets of the process's peak resident memory while the "
              "method ran (VmHWM reset before each method x dataset). Per-row details, "
              "per-horizon MSE/MAE and fallback counts are in the JSON file.",
              "- AutoETS / AutoTheta / AutoARIMA (statsforecast) are fitted on each 36-point "
              "window, once to H=48 and sliced per horizon; season length 7 for daily data, "
              "1 for weekly Illness (52 > 36/2). A failed or non-finite fit falls back to "
              "Last (column 'fallbacks'). AutoARIMA runs on an evenly spaced subsample of "
              "rows (window i*n/N, variate j mod C); the naive rows beside it use the same rows.",
              "- In-task DLinear / PatchTST: one model per dataset and horizon, all variates "
              "pooled, trained on rows [n_train-36-50, n_train) of the scaled data (the "
              "ForecastPFN loader's train_budget=50: 50 target steps plus 36 look-back rows, "
              "i.e. 51-H windows per variate), 10 epochs (at least 100 Adam steps), batch 32, "
              "lr 1e-3, per-window normalization, no early stopping, seed 0.",
              "- SeasonalNaive uses period 7 on every dataset (as the paper's table).", ""]
    return "\n".join(lines) + "\n"


def univariate_markdown(rows: list[dict[str, Any]], meta: dict[str, Any],
                        datasets: list[str]) -> str:
    """Markdown of the univariate results (``rows``: one dict per method x dataset)."""
    from benchmarks.harness.univariate import UNIVARIATE, UnivariateResult, family_average

    by_label: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        by_label.setdefault(r["method"], {})[r["dataset"]] = r
    head = [f"{d} ({UNIVARIATE[d].lookback}/{UNIVARIATE[d].horizon})" for d in datasets]
    lines = [
        "# Univariate benchmark (M3, Tourism, M4 Hourly/Weekly)",
        "",
        "Test = last H values of each series, input = the L values before (left-padded "
        "with the first value when shorter); column headers give L/H. SMAPE for M3 and M4, "
        "MAPE for Tourism, in percent, averaged over all forecast points. Family columns: "
        "series-weighted mean of the datasets shown. M4 here covers Hourly and Weekly only "
        "(the other M4 training files are missing), so it is not comparable to the paper's "
        "M4 number.",
        "",
        *_meta_lines(meta),
        "",
        "## Measured here",
        "",
    ]
    table = []
    fams = ["m3", "m4", "tourism"]
    for label, per in by_label.items():
        fa = family_average([UnivariateResult.from_dict(per[d]) for d in per])
        secs = sum(per[d].get("seconds", 0.0) for d in per)
        peak, delta = _peaks(per)
        fb = sum(int(per[d].get("stats", {}).get("fallbacks", 0) or 0) for d in per)
        table.append([label, *[_fmt(per[d]["value"], 3) if d in per else "—" for d in datasets],
                      *[_fmt(fa[f]["value"], 3) if f in fa else "—" for f in fams],
                      _fmt(secs, 1), peak, delta, str(fb) if fb else ""])
    lines += _table(["method", *head, "M3 SMAPE", "M4 SMAPE", "Tourism MAPE", "wall s",
                     "peak RSS MiB", "peak RSS Δ MiB", "fallbacks"], table)

    # per-family summary: measured rows next to the paper's Table 5 rows
    lines += ["", "## Per family: measured rows and the paper's Table 5", "",
              "Measured rows: series-weighted means of the datasets above. Rows marked "
              "\"(paper, not run here)\" are copied from the paper's Table 5 "
              f"({PAPER_SOURCE}). **M4**: the measured figure covers M4 Hourly and Weekly "
              "only (the other M4 training files are missing), the paper's covers all M4 "
              "frequencies, so the M4 column is not comparable between the two kinds of "
              "row; M3 and Tourism cover the same datasets (M3 Yearly/Quarterly/Monthly/"
              "Other, Tourism Yearly/Quarterly/Monthly).", ""]
    summary = []
    for label, per in by_label.items():
        fa = family_average([UnivariateResult.from_dict(per[d]) for d in per])
        summary.append([label, *[_fmt(fa[f]["value"], 3) if f in fa else "—"
                                 for f in ("m3", "tourism", "m4")], "measured here"])
    for k, (m4, m3, tour) in PAPER_UNIVARIATE.items():
        summary.append([f"{k} (paper, not run here)", _fmt(m3), _fmt(tour), _fmt(m4),
                        "paper Table 5 (copied)"])
    lines += _table(["method", "M3 SMAPE", "Tourism MAPE",
                     "M4 SMAPE (measured: Hourly+Weekly only; paper: all M4)", "source"],
                    summary)

    # per-frequency rows: one row per dataset, one column per measured method
    labels = list(by_label)
    lines += ["", "## Per frequency (measured here)", "",
              "One row per dataset (frequency), L/H in brackets; metric as in the row. "
              "Bold: best measured value of the row. The paper reports no per-frequency "
              "numbers.", ""]
    freq_rows = []
    for d in datasets:
        vals = {lb: by_label[lb][d]["value"] for lb in labels if d in by_label[lb]}
        best = min(vals.values()) if vals else None
        cells = []
        for lb in labels:
            if lb not in vals:
                cells.append("—")
            else:
                txt = _fmt(vals[lb], 3)
                cells.append(f"**{txt}**" if vals[lb] == best else txt)
        spec = UNIVARIATE[d]
        n = max((by_label[lb][d].get("n_series", 0) for lb in vals), default=0)
        freq_rows.append([f"{d} ({spec.lookback}/{spec.horizon})", spec.metric.upper(),
                          str(n), *cells])
    lines += _table(["dataset (L/H)", "metric", "series", *labels], freq_rows)

    lines += ["", "## Notes", "",
              "- SeasonalNaive season: 1 yearly and other, 4 quarterly, 12 monthly, 52 weekly, "
              "24 hourly (Last where the season exceeds the look-back). AutoETS / AutoTheta "
              "(statsforecast) are fitted on the look-back window only, with that season, "
              "or non-seasonal where two seasons do not fit (2 x season > L: weekly).",
              "- M4 Hourly uses L = H = 48 (not in the paper's list). Inputs shorter than L "
              "are left-padded with the series' first value (the Mean rule averages the "
              "padding too).",
              "- Wall time: seconds summed over datasets; peak RSS as in the multivariate "
              "report. SeqFusion rows are refused for a zoo built with data of the same "
              "family (m3_*, m4_*, tourism_* sources among the PTMs or the build's "
              "sub-datasets in zoo.json).", ""]
    return "\n".join(lines) + "\n"


def _by_method(rows: list[dict[str, Any]]) -> tuple[dict[str, dict[str, dict[str, Any]]], list[str]]:
    """Result rows as ``{method: {dataset: row}}`` and the methods in order of appearance."""
    cells: dict[str, dict[str, dict[str, Any]]] = {}
    order: list[str] = []
    for r in rows:
        if r["method"] not in cells:
            order.append(r["method"])
        cells.setdefault(r["method"], {})[r["dataset"]] = r
    return cells, order


def realuse_markdown(rows: list[dict[str, Any]], meta: dict[str, Any], datasets: list[str],
                     info: dict[str, dict[str, Any]], summary: dict[str, dict[str, Any]],
                     split: str) -> str:
    """Markdown of the whole-history ("realuse") benchmark for one split."""
    from benchmarks.harness.realuse import ARIMA_CAP, ARIMA_MAX_SEASON, GROUPS, LABELS, N_ORIGINS, STATS_CAP

    cells, order = _by_method(rows)
    rank = {v: i for i, v in enumerate(LABELS.values())}
    labels = sorted(order, key=lambda lb: rank.get(lb, 99))

    def mark(r: dict[str, Any]) -> str:
        return ("*" if r.get("subsampled") else "") + ("†" if r.get("zoo_saw_source") else "")

    def cell(lb: str, d: str, key: str, digits: int = 3) -> str:
        r = cells[lb].get(d)
        if r is None or r.get(key) is None:
            return "—"
        return _fmt(float(r[key]), digits) + mark(r)

    title = "test" if split == "test" else "validation"
    origins = ("the competition's test window (origin n - H) for M3, M4 and Tourism; for the "
               f"others the last {N_ORIGINS} windows, H apart, ending at the end of each series"
               if split == "test" else
               "for M3, M4 and Tourism the last H points of the training part (origin n - 2H); "
               f"for the others the {N_ORIGINS} windows (H apart) just before the test windows "
               "(origins n - kH, k = 6..10); every target lies before the test origins")
    lines = [
        f"# Whole-history benchmark ({title} split)",
        "",
        "Every method gets the whole history of each series before the forecast origin "
        "(capped where stated below). Origins: " + origins + ". Horizon by frequency: "
        "yearly 6, quarterly 8, monthly 18, weekly 13, daily 14, hourly 48 (competition data: "
        "their own horizon). MASE per window = MAE / in-sample seasonal-naive MAE of the "
        "window's context (season 1, 4, 12, 52, 7, 24 for yearly ... hourly; 1 for M3 other), "
        "averaged over the dataset's windows. Summary: geometric mean over datasets of "
        "method MASE / SeasonalNaive MASE on the same windows (lower is better). Protocol: "
        "`benchmarks.harness.realuse`.",
        "",
        *_meta_lines(meta),
        "",
        "Marks: `*` evaluated on an evenly spaced subsample of the dataset's windows (its "
        "ratio uses SeasonalNaive on the same windows); `†` the SeqFusion zoo used for this "
        "dataset saw its source (not zero-shot).",
        "",
        "## Summary: geo-mean of MASE / SeasonalNaive MASE",
        "",
    ]
    head = ["method", f"all ({len(datasets)})"]
    present = [g for g in GROUPS if any(info.get(d, {}).get("group") == g for d in datasets)]
    for g in present:
        head.append(f"{g} ({sum(info.get(d, {}).get('group') == g for d in datasets)})")
    head += ["windows per dataset", "context", "wall s"]
    table = []
    for lb in labels:
        sm = summary.get(lb, {})
        per = cells[lb]
        any_dag = any(r.get("zoo_saw_source") for r in per.values())
        any_sub = any(r.get("subsampled") for r in per.values())
        suffix = ("*" if any_sub else "") + ("†" if any_dag else "")
        row = [lb, _fmt(sm.get("geomean"), 3) + suffix
               + ("" if sm.get("n_datasets") == len(datasets) else f" ({sm.get('n_datasets')})")]
        for g in present:
            row.append(_fmt(sm.get(f"geomean_{g}"), 3))
        limit = next((r.get("subsample_limit") for r in per.values()), None)
        cap = next((r.get("cap") for r in per.values()), None)
        key = next((r.get("key") for r in per.values()), "")
        row.append("all" if not limit else f"at most {limit}")
        row.append("last 36 (its input length)" if key in ("seqfusion_paper", "seqfusion_last")
                   else "whole history (zoo: last 36)" if key == "seqfusion"
                   else "whole history" if not cap else f"last {cap} points")
        row.append(_fmt(sum(float(r.get("seconds", 0.0)) for r in per.values()), 0))
        table.append(row)
    lines += _table(head, table)

    lines += ["", "## MASE per dataset", ""]
    table = []
    for d in datasets:
        i = info.get(d, {})
        table.append([d, str(i.get("group", "")), str(i.get("horizon", "")),
                      *[cell(lb, d, "mase") for lb in labels]])
    lines += _table(["dataset", "group", "H", *labels], table)

    lines += ["", "## MASE / SeasonalNaive MASE per dataset (same windows)", ""]
    table = []
    for d in datasets:
        table.append([d, *[cell(lb, d, "relative_mase") for lb in labels]])
    geo = ["**geo-mean**", *[(_fmt(summary.get(lb, {}).get("geomean"), 3)) for lb in labels]]
    table.append(geo)
    for g in present:
        table.append([f"geo-mean {g}", *[_fmt(summary.get(lb, {}).get(f"geomean_{g}"), 3)
                                         for lb in labels]])
    lines += _table(["dataset", *labels], table)

    comp = [d for d in datasets if info.get(d, {}).get("metric")]
    if comp:
        lines += ["", "## Competition metrics (SMAPE for M3/M4, MAPE for Tourism, percent)", "",
                  "Mean over all forecast points (MAPE: points with y = 0 skipped); a subsampled "
                  "method's value covers its subsample only.", ""]
        table = []
        for d in comp:
            m = info[d]["metric"]
            table.append([d, m.upper(), *[cell(lb, d, m, 2) for lb in labels]])
        lines += _table(["dataset", "metric", *labels], table)

    lines += ["", "## Datasets", ""]
    table = []
    for d in datasets:
        i = info.get(d, {})
        saw = i.get("zoo_saw_source") or []
        table.append([d, str(i.get("group", "")), str(i.get("frequency", "")),
                      str(i.get("freq_given") or "unknown"), str(i.get("horizon", "")),
                      str(i.get("season", "")), str(i.get("n_series", "")),
                      str(i.get("n_windows", "")), str(i.get("windows_dropped_short_context", 0)),
                      f"{i.get('context_min', '')} / {_fmt(i.get('context_median'), 0)} / "
                      f"{i.get('context_max', '')}", str(i.get("zoo") or "—"),
                      ("yes: " + ", ".join(saw)) if saw else "no"])
    lines += _table(["dataset", "group", "frequency", "freq given to SeqFusion", "H",
                     "MASE season", "series", "windows", "windows dropped (context < 3)",
                     "context length min / median / max", "SeqFusion zoo",
                     "zoo saw this source"], table)

    fb = {lb: sum(int((r.get("stats") or {}).get("fallbacks", 0) or 0) for r in cells[lb].values())
          for lb in labels}
    zs = {d: max((int(r.get("zero_scale_windows", 0)) for lb in labels
                  if (r := cells[lb].get(d)) is not None and not r.get("subsampled")), default=0)
          for d in datasets}
    sf = {d: max((int(r.get("season_fallback_windows", 0)) for lb in labels
                  if (r := cells[lb].get(d)) is not None and not r.get("subsampled")), default=0)
          for d in datasets}
    lines += ["", "## Notes", "",
              "- Context caps: SeqFusion (default) is given the whole history and uses all of it "
              "(`history=\"whole\"`: seasonal adjustment, Theta, seasonal naive and its zoo's "
              "forecast of the last 36 points, weighed by back-tests inside the history); the "
              "paper design keeps the last 36 points (its input length); histories shorter than "
              "8 points are left-padded with their first value before the call. "
              f"AutoETS and AutoTheta see the last {STATS_CAP} points, AutoARIMA "
              f"the last {ARIMA_CAP} (statsforecast's fits on thousands of points take "
              "minutes each); Naive and SeasonalNaive use the last season of the history.",
              "- statsforecast models use the dataset's season, or none where two seasons do "
              "not fit in the (capped) context; AutoARIMA is fitted without a season when the "
              f"season exceeds {ARIMA_MAX_SEASON} (weekly data). A failed or non-finite fit "
              "falls back to Naive (fallbacks: "
              + ", ".join(f"{lb} {n}" for lb, n in fb.items() if n) + ")."
              if any(fb.values()) else
              "- statsforecast models use the dataset's season, or none where two seasons do "
              "not fit in the (capped) context; AutoARIMA is fitted without a season when the "
              f"season exceeds {ARIMA_MAX_SEASON} (weekly data). No fit fell back to Naive.",
              "- Subsamples (`*`): evenly spaced windows in (series, origin) order, so they "
              "spread over the series and cycle through the origins; the same windows for "
              "every run of a method.",
              "- SeqFusion rows: the default design is the zoo's recommendation (learned router "
              "over all members, frequency given); the paper design is "
              "`SeqFusion.from_pretrained(fusion=\"mean\", k=16)` on the same zoo. The zoo per "
              "dataset is in the Datasets table: competition datasets use a zoo built without "
              "M3, M4 and Tourism (`configs/no_competitions.toml`) when it is available"
              + (" (zoo manifests, SHA-256 prefix: " + ", ".join(
                  f"{z} {h}" for z, h in sorted({(i.get("zoo"), i.get("zoo_manifest_sha256"))
                                                 for i in info.values() if i.get("zoo")}))
                 + ")" if any(i.get("zoo_manifest_sha256") for i in info.values()) else "")
              + ".",
              "- MASE: contexts with at most `season` points use season 1 for the scale ("
              + (", ".join(f"{d} {n}" for d, n in sf.items() if n) or "no window") + "); "
              "windows with a zero scale (constant context) are left out of MASE for every "
              "method (" + (", ".join(f"{d} {n}" for d, n in zs.items() if n) or "none") + ").",
              "- Wall time: seconds summed over datasets (rows read from the cache keep their "
              "original time); per-row details, counts and options are in the JSON file.", ""]
    return "\n".join(lines) + "\n"


def speed_markdown(result: dict[str, Any], meta: dict[str, Any]) -> str:
    """Markdown of the speed benchmark."""
    s = result.get("seqfusion", {})
    lines = ["# Speed, memory and size", "", *_meta_lines(meta), "",
             f"Workload: {s.get('n_series')} synthetic series of length {s.get('length')} "
             f"(seed {result.get('seed')}), horizon {s.get('horizon')}, k = {s.get('k')}; "
             f"engine threads (CPUs used) {result.get('engine_threads')}.", ""]
    rows = [
        ["forecasts / s, array [T, n] (`predict`)", _fmt(s.get("array_forecasts_per_s"), 1)],
        ["forecasts / s, long DataFrame (`predict`)", _fmt(s.get("frame_forecasts_per_s"), 1)],
        ["forecasts / s, windows (`predict_windows`)", _fmt(s.get("windows_forecasts_per_s"), 1)],
        ["forecasts / s, nine quantiles of the array (`predict_quantiles`)",
         _fmt(s.get("quantiles_forecasts_per_s"), 1)],
        ["quantiles' time / point forecast's time (array)", _fmt(s.get("quantiles_over_point_time"), 2)],
        [f"single-series latency, median of {s.get('single_latency_repeats')} (ms)",
         _fmt(s.get("single_latency_ms_median"), 2)],
        ["peak RSS of the process (MiB, ru_maxrss)", _fmt(result.get("peak_rss_mb"), 0)],
    ]
    fast = result.get("exact_false")
    if fast:  # the other rows use the default exact=True (batch-invariant products)
        lines[-2] += " Default settings (`exact=True`) unless a row says `exact=False`."
        rows[1:1] = [["forecasts / s, array, `exact=False` (plain products)",
                      _fmt(fast.get("array_forecasts_per_s"), 1)]]
        rows.insert(-1, ["single-series latency, `exact=False` (ms)",
                         _fmt(fast.get("single_latency_ms_median"), 2)])
    il = result.get("import_and_load")
    if il:
        rows += [["import `seqfusion` in a fresh interpreter (s)", _fmt(il.get("import_s"), 3)],
                 ["zoo load `from_pretrained` in a fresh interpreter (s)", _fmt(il.get("load_s"), 3)],
                 ["fresh interpreter total wall time (s)", _fmt(il.get("process_wall_s"), 3)]]
    if "zoo_size_bytes" in result:
        rows += [["zoo size on disk (MB)", _fmt(result["zoo_size_bytes"] / 1e6, 3)],
                 ["zoo members", str(result.get("zoo_members"))]]
    for name, d in (result.get("statsforecast") or {}).items():
        if isinstance(d, dict):
            rows.append([f"statsforecast {name} fits / s ({d['n_series']} series, "
                         f"season {d['season_length']})", _fmt(d["fits_per_s"], 1)])
    wh = result.get("whole_history")
    if wh:
        what = f"{wh['n_series']} daily series of {wh['length']} points, H = {wh['horizon']}"
        rows.append([f"forecasts / s, whole histories ({what}; `predict`, `freq=\"D\"`)",
                     _fmt(wh["forecasts_per_s"], 1)])
        for name, d in (wh.get("statsforecast") or {}).items():
            if isinstance(d, dict):
                rows.append([f"statsforecast {name} fits / s on the same histories ({d['n_series']} "
                             f"series, season {d['season_length']})", _fmt(d["fits_per_s"], 1)])
    wt = result.get("whole_history_512")
    if wt:
        rows.append([f"forecasts / s, whole histories ({wt['n_series']} daily series of {wt['length']} points, "
                     f"H = {wt['horizon']}; one timed call)", _fmt(wt["forecasts_per_s"], 1)])
    wl = result.get("whole_history_without_long")
    if wl:
        rows.append(["forecasts / s, the same whole histories without the long-context members "
                     "(`long_context=False`)", _fmt(wl["forecasts_per_s"], 1)])
    lm = result.get("long_member")
    if lm:
        rows.append([f"long-context member `{lm['member']}` alone: forecasts / s ({lm['n_series']} series of "
                     f"{lm['length']} points, {lm['horizon']} steps x {lm['quantiles']} quantiles)",
                     _fmt(lm["forecasts_per_s"], 1)])
    lines += _table(["quantity", "value"], rows)
    lines += [""]
    return "\n".join(lines) + "\n"


def quantiles_markdown(kind: str, rows: list[dict[str, Any]], meta: dict[str, Any], datasets: list[str],
                       info: dict[str, dict[str, Any]], summary: dict[str, dict[str, Any]],
                       extra: dict[str, Any]) -> str:
    """Markdown of a quantile run (``kind``: ``realuse_quantiles`` or
    ``multivariate_quantiles``): WQL, coverage and width per method and dataset."""
    from benchmarks.harness.quantile_methods import SeasonalNaiveQuantiles

    cells, order = _by_method(rows)
    ref = SeasonalNaiveQuantiles(1).name
    labels = sorted(order, key=lambda lb: (lb != ref, order.index(lb)))

    def mark(r: dict[str, Any]) -> str:
        return ("*" if r.get("subsampled") else "") + ("†" if r.get("zoo_saw_source") else "")

    def cell(lb: str, d: str, key: str, digits: int = 3, pct: bool = False) -> str:
        r = cells[lb].get(d)
        if r is None or r.get(key) is None:
            return "—"
        v = float(r[key]) * (100.0 if pct else 1.0)
        return _fmt(v, 1 if pct else digits) + mark(r)

    def pct(v: Any) -> str:
        return "—" if v is None else f"{100.0 * float(v):.1f}"

    realuse = kind.startswith("realuse")
    if realuse:
        split = extra.get("split", "test")
        title = f"# Whole-history benchmark: quantile forecasts ({split} split)"
        protocol = ("Windows, horizons, origins, context caps and subsamples as the point rows of "
                    "`python -m benchmarks.harness realuse` (`benchmarks.harness.realuse`; see "
                    + ("`realuse.md`" if split == "test" else "`realuse_validation.md`") + ").")
    else:
        title = "# Multivariate protocol (36-point windows, scaled values): quantile forecasts"
        protocol = ("Windows and scaling as the point rows of `python -m benchmarks.harness multivariate` "
                    "(`benchmarks.harness.protocol`): 36-point look-back, horizons "
                    + ", ".join(str(h) for h in extra.get("horizons", [])) + ", every test window "
                    "of every variate; values standardized with the training part's mean and std. "
                    "Dataset WQL = mean over the horizons of the per-horizon WQL (as the protocol's "
                    "MSE); coverage pooled over all horizons' points.")
    lines = [
        title, "",
        protocol + " Every method forecasts the quantiles 0.025, 0.1, 0.2, ..., 0.9, 0.975.", "",
        "- **WQL**: mean over q = 0.1, ..., 0.9 of 2 x sum(pinball_q) / sum(|y|), the sums over all "
        "target points of the dataset (GIFT-Eval's weighted quantile loss; "
        "`benchmarks.harness.quantiles`). **rel. WQL**: WQL / WQL of the reference "
        f"({ref}) on the same windows; summary: geometric mean over datasets (lower is better).",
        "- **coverage 80 / 95**: percent of target points inside [q0.1, q0.9] / [q0.025, q0.975] "
        "(ends included); targets of the issue: 75-85 and 91-98 pooled, no dataset below 60 for 80.",
        "- **width 80 / 95**: mean width of the interval divided by the window's in-sample "
        "seasonal-naive MAE (the MASE scale of its context), averaged over windows.",
        "- **MSIS 95**: M4's mean scaled interval score of the 95% interval (width + 2/0.05 x the "
        "distance of each miss), same scale; summary: geo-mean over datasets of MSIS / the "
        "reference's MSIS on the same windows. **MASE median**: MAE of the 0.5 quantile / the same "
        "scale, averaged over windows.",
        "- Reference: SeasonalNaive with the standard interval formula: sigma = RMS of the context's "
        "in-sample seasonal-naive errors, step h widened by sqrt(floor((h-1)/m) + 1), normal "
        "quantiles around the last season repeated (identical to statsforecast's "
        "`SeasonalNaive(level=...)`). The empirical variant uses the errors' empirical quantiles "
        "with the same widening.",
        "- statsforecast AutoETS / AutoTheta: `level=[20, 40, 60, 80, 95]` (level L gives quantiles "
        "(1-L/100)/2 and 1-(1-L/100)/2; the mean is q0.5). Conformal: statsforecast "
        "`SeasonalNaive(prediction_intervals=ConformalIntervals(h=H, n_windows=w))` "
        "(conformal_distribution), w reduced for short contexts (the options and the smallest w "
        "used are in the JSON); a context too short for 2 windows falls back to the reference's "
        "quantiles (counted as fallbacks).",
        "",
        *_meta_lines(meta), "",
        "Marks: `*` evaluated on an evenly spaced subsample of the windows (rows) or on a subset of "
        "the horizons (its ratio uses the reference on the same windows); `†` the SeqFusion zoo "
        "saw this dataset's source.", "",
        "## Summary", "",
    ]
    head = ["method", f"geo-mean rel. WQL ({len(datasets)})", "cov 80 pooled", "cov 80 mean",
            "cov 80 min (dataset)", "cov 95 pooled", "cov 95 mean", "cov 95 min", "width 80", "width 95",
            "geo-mean rel. MSIS 95",
            "windows per dataset", "context", "crossing points", "fallbacks", "wall s"]
    table = []
    for lb in labels:
        sm = summary.get(lb, {})
        per = cells[lb]
        suffix = ("*" if any(r.get("subsampled") for r in per.values()) else "") + (
            "†" if any(r.get("zoo_saw_source") for r in per.values()) else "")
        n_used = sm.get("n_datasets")
        limit = next((r.get("subsample_limit") for r in per.values()), None)
        table.append([
            lb, _fmt(sm.get("geomean_relative_wql"), 3) + suffix + ("" if n_used == len(datasets) else f" ({n_used})"),
            pct(sm.get("coverage_80_pooled")), pct(sm.get("coverage_80_mean")),
            f"{pct(sm.get('coverage_80_min'))} ({sm.get('coverage_80_min_dataset') or '—'})",
            pct(sm.get("coverage_95_pooled")), pct(sm.get("coverage_95_mean")), pct(sm.get("coverage_95_min")),
            _fmt(sm.get("width_80_mean"), 2), _fmt(sm.get("width_95_mean"), 2),
            _fmt(sm.get("geomean_relative_msis_95"), 3),
            "all" if not limit else f"at most {limit}",
            str(next((r.get("context") for r in per.values()), "")),
            str(sum(int(r.get("crossing_points") or 0) for r in per.values())),
            str(sum(int((r.get("stats") or {}).get("fallbacks", 0) or 0) for r in per.values())),
            _fmt(sum(float(r.get("seconds", 0.0)) for r in per.values()), 0)])
    lines += _table(head, table)
    for title_, key, p in (("WQL per dataset", "wql", False), ("rel. WQL per dataset (same windows)", "relative_wql",
                                                                False),
                           ("Coverage of the 80% interval per dataset (percent)", "coverage_80", True),
                           ("Coverage of the 95% interval per dataset (percent)", "coverage_95", True),
                           ("Width of the 80% interval per dataset (/ MASE scale)", "width_80", False),
                           ("Width of the 95% interval per dataset (/ MASE scale)", "width_95", False),
                           ("MSIS of the 95% interval per dataset", "msis_95", False),
                           ("MASE of the median (q0.5) per dataset", "mase_median", False)):
        lines += ["", f"## {title_}", ""]
        tab = []
        for d in datasets:
            i = info.get(d, {})
            tab.append([d, str(i.get("horizon", "")), *[cell(lb, d, key, 3, p) for lb in labels]])
        if key == "relative_wql":
            tab.append(["**geo-mean**", "", *[_fmt(summary.get(lb, {}).get("geomean_relative_wql"), 3)
                                              for lb in labels]])
        lines += _table(["dataset", "H", *labels], tab)
    if not realuse:
        lines += ["", "## Horizons scored per method", ""]
        tab = []
        for lb in labels:
            hs = sorted({tuple(r.get("horizons_scored") or []) for r in cells[lb].values()})
            tab.append([lb, "; ".join(",".join(str(h) for h in t) for t in hs)])
        lines += _table(["method", "horizons"], tab)
    lines += ["", "## Notes", "",
              "- Crossing quantiles are sorted before scoring and counted (`crossing points`: target "
              "points whose forecast grid was not monotone).",
              "- Non-finite forecasts of a window are replaced by the reference's quantiles (counted as "
              "`non_finite_windows` in the JSON).",
              "- statsforecast's intervals are scored as returned (no clipping). AutoTheta's bounds are "
              "quantiles of simulated paths while its 0.5 quantile is the analytic mean forecast, so "
              "they cross near the median (its crossing points). AutoETS's intervals come from the "
              "fitted model's analytic variance; a fit with multiplicative components can give an "
              "extremely wide interval that dominates a dataset's pooled WQL (see the per-dataset "
              "tables and MSIS).",
              "- Wall time: seconds summed over datasets (rows read from the cache keep their original "
              "time); per-row counts, options and per-horizon scores are in the JSON file.", ""]
    return "\n".join(lines) + "\n"
