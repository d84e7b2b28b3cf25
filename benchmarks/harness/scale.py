"""Scale benchmark: `seqfusion forecast` on long files of 100k to 1M series, and Dask.

Synthetic long inputs (``unique_id, ds, y``; ``length`` daily points per series) are written
to a temporary folder (never inside the repository), then the CLI runs in a child process
whose peak RSS (``ru_maxrss`` from ``os.wait4``) and wall time are recorded. Runs:

- ``csv-<n>``: a grouped long CSV of n series, local engine, ``--chunk-size``;
- ``csv-shuffled-<n>``: the same rows in random order (hash partition into buckets first);
- ``dask-<n>``: a Parquet folder of n series forecast by one process (local engine, both
  CPUs through the engine's threads), by one process pinned to one CPU (``taskset -c 0``)
  and by ``--engine dask --workers 2`` (a LocalCluster of two single-threaded processes;
  its wall time includes starting the cluster and the shuffle by ``unique_id``).

Results merge into ``<out>/scale.json`` (by run name) and ``<out>/scale.md``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

BLOCK = 50_000  # series generated at a time


def _values(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    t = np.arange(length)
    level = rng.normal(50, 10, (n, 1))
    season = rng.uniform(0, 5, (n, 1)) * np.sin(2 * np.pi * t / 7 + rng.uniform(0, 6, (n, 1)))
    walk = np.cumsum(rng.normal(0, 1, (n, length)), axis=1)
    return level + season + walk


def write_long(path: Path, n: int, length: int = 40, seed: int = 0, shuffled: bool = False,
               parquet_files: int = 0) -> None:
    """A long input of ``n`` series: CSV (grouped, or rows in random order) or, with
    ``parquet_files``, a folder of that many Parquet files (grouped)."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2020-01-01", periods=length, freq="D")
    text_days = np.asarray(days.strftime("%Y-%m-%d"), dtype=object)
    frames: list[pd.DataFrame] = []
    if parquet_files:
        path.mkdir(parents=True)
    with open(path, "w") if not parquet_files else open(os.devnull, "w") as fh:
        for i, start in enumerate(range(0, n, BLOCK)):
            m = min(BLOCK, n - start)
            ids = np.repeat(np.char.add("s", np.char.zfill(np.arange(start, start + m).astype(str), 7)), length)
            y = np.round(_values(rng, m, length), 4).ravel()
            if parquet_files:
                df = pd.DataFrame({"unique_id": ids, "ds": np.tile(days.values, m), "y": y})
                frames.append(df)
                continue
            df = pd.DataFrame({"unique_id": ids, "ds": np.tile(text_days, m), "y": y})
            if shuffled:
                frames.append(df)
            else:
                df.to_csv(fh, index=False, header=i == 0)
        if shuffled:
            df = pd.concat(frames, ignore_index=True)
            df.iloc[rng.permutation(len(df))].to_csv(fh, index=False)
    if parquet_files:
        df = pd.concat(frames, ignore_index=True)
        per = -(-n // parquet_files) * length
        for j in range(parquet_files):
            df.iloc[j * per:(j + 1) * per].to_parquet(path / f"part{j:03d}.parquet", index=False)


_LAUNCHER = """
import json, os, sys, time
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as fh:
    json.dump({"wall_s": time.perf_counter() - t0, "maxrss_kib": usage.ru_maxrss,
               "code": os.waitstatus_to_exitcode(status)}, fh)
"""


def measure(cmd: list[str], tmp: Path) -> dict[str, Any]:
    """Run ``cmd``; its wall time (s) and peak RSS (MiB).

    A small launcher process forks and execs ``cmd`` and reads its ``ru_maxrss`` with
    ``os.wait4``: forked straight from this (large) process, the command would inherit this
    process's RSS high-water mark across ``exec`` (Linux keeps it), so that is avoided.
    """
    report = tmp / "measure.json"
    proc = subprocess.run([sys.executable, "-c", _LAUNCHER, str(report), *cmd], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    got = json.loads(report.read_text())
    report.unlink()
    if proc.returncode != 0 or got["code"] != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({got['code']}): {proc.stderr[-2000:]}")
    return {"wall_s": round(got["wall_s"], 2), "peak_rss_mib": round(got["maxrss_kib"] / 1024, 1)}


def _git() -> dict[str, Any]:
    """The commit and whether code differs from it (the other benchmarks' fresh results in
    ``benchmarks/results/`` do not count, as in every other report)."""
    from benchmarks.harness.report import git_commit, git_dirty

    return {"commit": git_commit(), "dirty": git_dirty()}


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in ("numpy", "pandas", "pyarrow", "dask", "distributed", "tqdm", "seqfusion"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "-"
    return out


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "seqfusion.cli", "forecast", *args]


def run(kind: str, n: int, horizon: int, chunk_size: int, tmp: Path, length: int = 40) -> dict[str, Any]:
    """One benchmark run (``kind``: csv, csv-shuffled or dask) on ``n`` series."""
    row: dict[str, Any] = {"series": n, "length": length, "horizon": horizon, "chunk_size": chunk_size}
    if kind in ("csv", "csv-shuffled"):
        src = tmp / f"{kind}-{n}.csv"
        t0 = time.perf_counter()
        write_long(src, n, length, shuffled=kind == "csv-shuffled")
        row["input_mb"] = round(src.stat().st_size / 1e6, 1)
        row["generate_s"] = round(time.perf_counter() - t0, 1)
        out = tmp / f"{kind}-{n}.out.csv"
        row.update(measure(cli(str(src), "-H", str(horizon), "--chunk-size", str(chunk_size), "-o", str(out)), tmp))
        row["series_per_s"] = round(n / row["wall_s"], 1)
        row["output_rows"] = sum(1 for _ in open(out)) - 1
        src.unlink()
        out.unlink()
        return row
    src = tmp / f"dask-{n}.parquet"
    write_long(src, n, length, parquet_files=8)
    one = measure(cli(str(src), "-H", str(horizon), "--chunk-size", str(chunk_size), "-o", str(tmp / "one.parquet")),
                  tmp)
    pinned = measure(["taskset", "-c", "0", *cli(str(src), "-H", str(horizon), "--chunk-size", str(chunk_size),
                                                 "-o", str(tmp / "pinned.parquet"))], tmp)
    two = measure(cli(str(src), "-H", str(horizon), "--engine", "dask", "--workers", "2", "-o",
                      str(tmp / "dask_out")), tmp)
    a = pd.read_parquet(tmp / "one.parquet").sort_values(["unique_id", "ds"]).reset_index(drop=True)
    b = pd.read_parquet(tmp / "dask_out").sort_values(["unique_id", "ds"]).reset_index(drop=True)
    c = pd.read_parquet(tmp / "pinned.parquet").sort_values(["unique_id", "ds"]).reset_index(drop=True)
    row["dask_max_abs_diff_vs_one_process"] = float(np.abs(a["y"].to_numpy() - b["y"].to_numpy()).max())
    row["one_cpu_max_abs_diff_vs_one_process"] = float(np.abs(a["y"].to_numpy() - c["y"].to_numpy()).max())
    row["dask_same_rows"] = bool(len(a) == len(b) == n * horizon and (a["unique_id"] == b["unique_id"]).all())
    row["one_process"] = {**one, "series_per_s": round(n / one["wall_s"], 1)}
    row["one_process_one_cpu"] = {**pinned, "series_per_s": round(n / pinned["wall_s"], 1)}
    row["dask_two_workers"] = {**two, "series_per_s": round(n / two["wall_s"], 1),
                               "note": "peak RSS is the client process only; workers are separate processes"}
    row["speedup_two_workers_vs_one_process"] = round(one["wall_s"] / two["wall_s"], 2)
    row["speedup_two_workers_vs_one_cpu"] = round(pinned["wall_s"] / two["wall_s"], 2)
    shutil.rmtree(src)
    return row


def report(results: dict[str, Any]) -> str:
    meta = results["meta"]
    lines = ["# Scale: chunked long files and Dask", "",
             f"- command: `{meta['command']}`",
             f"- commit: {meta['commit']} (dirty: {meta['dirty']})",
             f"- versions: {', '.join(f'{k} {v}' for k, v in meta['versions'].items())}",
             f"- machine: {meta['cpus']} CPUs, {meta['platform']}; runs under `nice`, CPUs shared with others "
             "(timings are noisy)", "",
             "Synthetic daily series (level + weekly season + random walk), ISO dates, 4-decimal values; "
             "the shipped default zoo. Peak RSS: `ru_maxrss` of the CLI process (`os.wait4` in a small "
             "launcher process, so the CLI does not inherit the generator's high-water mark).", "",
             "| run | series | points | chunk size | input MB | wall s | series/s | peak RSS MiB |",
             "|---|---|---|---|---|---|---|---|"]
    for name, r in sorted(results["runs"].items(), key=lambda kv: (kv[0].split("-")[0], kv[1]["series"])):
        if name.startswith("dask"):
            continue
        lines.append(f"| {name} | {r['series']:,} | {r['length']} | {r['chunk_size']:,} | {r['input_mb']} | "
                     f"{r['wall_s']} | {r['series_per_s']:,} | {r['peak_rss_mib']:,} |")
    for name, r in results["runs"].items():
        if not name.startswith("dask"):
            continue
        lines += ["", f"## {name}: {r['series']:,} series of {r['length']} points, Parquet folder (8 files), "
                  f"H = {r['horizon']}", "",
                  "| engine | wall s | series/s | peak RSS MiB |", "|---|---|---|---|"]
        for key, label in [("one_process", "one process, local engine (engine threads on both CPUs)"),
                           ("one_process_one_cpu", "one process pinned to one CPU (taskset -c 0)"),
                           ("dask_two_workers", "--engine dask --workers 2 (incl. cluster start, shuffle)")]:
            v = r[key]
            lines.append(f"| {label} | {v['wall_s']} | {v['series_per_s']:,} | {v['peak_rss_mib']:,}"
                         f"{' (client)' if key.startswith('dask') else ''} |")
        diffs = [f"Dask vs one process {r['dask_max_abs_diff_vs_one_process']:.2e}"]
        if "one_cpu_max_abs_diff_vs_one_process" in r:
            diffs.append(f"one CPU vs two {r['one_cpu_max_abs_diff_vs_one_process']:.2e}")
        lines += ["", f"Speed-up of two workers: {r['speedup_two_workers_vs_one_process']}x over one process, "
                  f"{r['speedup_two_workers_vs_one_cpu']}x over one process on one CPU. Same rows: "
                  f"{r['dask_same_rows']}; largest |difference| of the forecasts: {', '.join(diffs)} "
                  "(0: bit-identical)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.harness.scale", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", nargs="+", default=["csv:100000", "csv-shuffled:100000", "csv:1000000", "dask:200000"],
                   help="KIND:SERIES pairs; KIND is csv, csv-shuffled or dask")
    p.add_argument("--horizon", type=int, default=12)
    p.add_argument("--chunk-size", type=int, default=10_000)
    p.add_argument("--out", default="benchmarks/results")
    p.add_argument("--tmp", default=None, help="folder for the synthetic inputs (default: the system's temp)")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "scale.json"
    results: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {"runs": {}}
    from seqfusion.engine import usable_cpus

    results["meta"] = {"command": "benchmarks/run_scale.sh " + " ".join(argv if argv is not None else sys.argv[1:]),
                       **_git(), "versions": _versions(), "cpus": usable_cpus(), "platform": platform.platform(),
                       "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    with tempfile.TemporaryDirectory(prefix="seqfusion-scale-", dir=args.tmp) as tmp:
        for spec in args.runs:
            kind, n = spec.split(":")
            print(f"== {kind} {int(n):,} series", file=sys.stderr, flush=True)
            row = run(kind, int(n), args.horizon, args.chunk_size, Path(tmp))
            row.update(commit=results["meta"]["commit"], dirty=results["meta"]["dirty"],
                       finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            results["runs"][f"{kind}-{n}"] = row
            print(json.dumps(row), file=sys.stderr, flush=True)
            path.write_text(json.dumps(results, indent=2) + "\n")
            (out / "scale.md").write_text(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
