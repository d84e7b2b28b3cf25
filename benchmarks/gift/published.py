"""Extract GIFT-Eval's published per-config results into the project's files.

Reads ``results/<model folder>/all_results.csv`` (and ``config.json``) of the
SalesforceAIResearch/gift-eval repository, either from a checkout (a folder holding
``results/``) or from a bare git directory (read at ``--rev`` with ``git show``), and
writes, next to this script by default:

* ``published.csv``: one row per (model folder, config) of the selected models with
  MASE and CRPS (``eval_metrics/MASE[0.5]``, ``eval_metrics/mean_weighted_sum_quantile_loss``)
  and the folder's ``config.json`` fields ``model_type`` and ``testdata_leakage``;
* ``published.json``: the repository commit read, the selected models and every folder
  found (with its row count and leakage flag);
* ``published_summary.md``: per model, the geometric mean over configs of MASE and CRPS
  relative to ``seasonal_naive`` (selected models, then every folder), and a check
  against reference figures.

Usage: ``python benchmarks/gift/published.py PATH [--rev HEAD] [--out DIR] [--models all|a,b,...]``
"""
from __future__ import annotations

import argparse
import io
import json
import math
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

REPOSITORY = "SalesforceAIResearch/gift-eval"
MASE = "eval_metrics/MASE[0.5]"
CRPS = "eval_metrics/mean_weighted_sum_quantile_loss"
BASELINE = "seasonal_naive"
HERE = Path(__file__).resolve().parent

#: Folders extracted by default: the models the project compares with (every version
#: present of TTM, FlowState, Toto, Moirai 2) and the statistical baselines.
DEFAULT_MODELS: tuple[str, ...] = (
    "chronos-2", "TiRex", "TimesFM-2.5", "FlowState-r1.1", "Granite-FlowState-r1.1", "FlowState-9.1M",
    "TTM-R3-PT", "TTM-R3-FT", "TTM-R2-Pretrained", "TTM-R1-Pretrained", "Moirai2", "moirai_small",
    "Toto-2.0-4m", "Toto_Open_Base_1.0", "Reverso-Nano", "chronos_bolt_small",
    "auto_arima", "auto_theta", "auto_ets", "seasonal_naive", "naive",
)

#: Reference figures (geo-means over the 97 configs relative to seasonal_naive, and M4
#: hourly MASE) stated for commit 4fd98a9; the summary reports our differences.
REFERENCE_COMMIT = "4fd98a9"
REFERENCE_GEOMEANS = {
    "chronos-2": (0.698, 0.485), "TiRex": (0.716, 0.488),
    "chronos_bolt_small": (0.822, 0.577), "auto_arima": (1.074, 0.912),
}
REFERENCE_M4_HOURLY = {"seasonal_naive": 1.193, "TiRex": 0.722, "chronos-2": 0.788, "chronos_bolt_small": 0.866}
M4_HOURLY = "m4_hourly/H/short"


class Source:
    """Files of the gift-eval repository: a checkout folder or a bare git dir at a rev."""

    def __init__(self, path: str | Path, rev: str = "HEAD") -> None:
        self.path = Path(path)
        self.checkout = (self.path / "results").is_dir()
        self.rev = rev
        self.commit = self._commit()

    def _git(self, *args: str) -> str:
        flag = ["-C", str(self.path)] if self.checkout else ["--git-dir", str(self.path)]
        return subprocess.run(["git", *flag, *args], capture_output=True, text=True, check=True).stdout

    def _commit(self) -> str | None:
        try:
            return self._git("rev-parse", f"{self.rev}^{{commit}}").strip()
        except (subprocess.CalledProcessError, FileNotFoundError):
            if self.checkout:
                return None  # a plain copy of the files, not a git checkout
            raise

    def commit_date(self) -> str | None:
        if self.commit is None:
            return None
        return self._git("show", "-s", "--format=%cI", self.commit).strip()

    def listdir(self, folder: str) -> list[str]:
        if self.checkout:
            return sorted(p.name for p in (self.path / folder).iterdir())
        out = self._git("ls-tree", "-z", "--name-only", f"{self.commit}:{folder}")
        return sorted(n for n in out.split("\0") if n)

    def is_dir(self, folder: str) -> bool:
        if self.checkout:
            return (self.path / folder).is_dir()
        return self._git("cat-file", "-t", f"{self.commit}:{folder}").strip() == "tree"

    def read(self, file: str) -> str:
        if self.checkout:
            return (self.path / file).read_text(encoding="utf-8")
        return self._git("show", f"{self.commit}:{file}")


@dataclass
class Folder:
    name: str
    results_file: str | None
    config: dict
    frame: pd.DataFrame | None


def _results_file(files: Sequence[str]) -> str | None:
    if "all_results.csv" in files:
        return "all_results.csv"
    # one folder spells it differently (all-results.csv)
    alt = [f for f in files if f.endswith(".csv") and "results" in f.lower()]
    return alt[0] if len(alt) == 1 else None


def read_folder(src: Source, name: str) -> Folder:
    files = src.listdir(f"results/{name}")
    config: dict = {}
    if "config.json" in files:
        try:
            config = json.loads(src.read(f"results/{name}/config.json"))
        except json.JSONDecodeError:
            config = {}
    result = _results_file(files)
    frame = None
    if result is not None:
        frame = pd.read_csv(io.StringIO(src.read(f"results/{name}/{result}")))
        frame.columns = [str(c).strip() for c in frame.columns]
        frame["dataset"] = frame["dataset"].astype(str).str.strip()
    return Folder(name, result, config, frame)


def read_all(src: Source) -> dict[str, Folder]:
    names = [n for n in src.listdir("results") if src.is_dir(f"results/{n}")]
    return {n: read_folder(src, n) for n in names}


def geomean_ratio(model: pd.DataFrame, base: pd.DataFrame, column: str) -> tuple[float, int]:
    """Geometric mean over the configs both hold of ``model/base`` in ``column``."""
    a = model.set_index("dataset")[column]
    b = base.set_index("dataset")[column]
    common = a.index.intersection(b.index)
    r = (a.loc[common] / b.loc[common]).to_numpy(np.float64)
    r = r[np.isfinite(r) & (r > 0)]
    return (float(np.exp(np.mean(np.log(r)))) if r.size else math.nan), int(r.size)


def summary_rows(folders: dict[str, Folder], names: Sequence[str]) -> list[dict]:
    base = folders[BASELINE].frame
    assert base is not None
    rows = []
    for n in names:
        f = folders[n]
        if f.frame is None:
            continue
        mase, n_mase = geomean_ratio(f.frame, base, MASE)
        crps, n_crps = geomean_ratio(f.frame, base, CRPS)
        m4h = f.frame.set_index("dataset")[MASE].get(M4_HOURLY, math.nan)
        rows.append({"model": n, "name": str(f.frame["model"].iloc[0]) if "model" in f.frame else "",
                     "type": f.config.get("model_type", ""), "leakage": f.config.get("testdata_leakage", ""),
                     "configs": min(n_mase, n_crps), "mase_rel": mase, "crps_rel": crps, "m4_hourly_mase": m4h})
    return rows


def published_frame(folders: dict[str, Folder], models: Sequence[str]) -> pd.DataFrame:
    parts = []
    for n in models:
        f = folders[n]
        if f.frame is None:
            raise ValueError(f"results/{n} has no results CSV")
        fr = f.frame
        absent = pd.Series([None] * len(fr), index=fr.index, dtype=object)
        part = pd.DataFrame({
            "model": n,
            "model_name": fr["model"].astype(str) if "model" in fr else absent,
            "dataset": fr["dataset"],
            MASE: fr[MASE].astype(np.float64),
            CRPS: fr[CRPS].astype(np.float64),
            "domain": fr["domain"].astype(object) if "domain" in fr else absent,
            "num_variates": (pd.to_numeric(fr["num_variates"], errors="coerce").astype("Int64").astype(object)
                             if "num_variates" in fr else absent),
            "model_type": f.config.get("model_type", ""),
            "testdata_leakage": f.config.get("testdata_leakage", ""),
        })
        parts.append(part.sort_values("dataset", kind="stable"))
    return pd.concat(parts, ignore_index=True)


def _fmt(x: float, nd: int = 3) -> str:
    return "nan" if not np.isfinite(x) else f"{x:.{nd}f}"


def _diff(x: float) -> str:
    return "nan" if not np.isfinite(x) else f"{x:+.4f}"


def _table(rows: list[dict]) -> list[str]:
    lines = ["| folder | name in file | type | test-data leakage | configs | MASE / SNaive | CRPS / SNaive "
             "| M4 hourly MASE |", "|---|---|---|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['name']} | {r['type']} | {r['leakage']} | {r['configs']} "
                     f"| {_fmt(r['mase_rel'])} | {_fmt(r['crps_rel'])} | {_fmt(r['m4_hourly_mase'])} |")
    return lines


def summary_markdown(src: Source, folders: dict[str, Folder], models: Sequence[str]) -> str:
    selected = summary_rows(folders, models)
    everyone = sorted(summary_rows(folders, list(folders)), key=lambda r: (r["crps_rel"], r["mase_rel"]))
    by_model = {r["model"]: r for r in selected + everyone}
    short = (src.commit or "unknown")[:7]
    out = [
        "# GIFT-Eval published results: geometric means relative to seasonal_naive",
        "",
        f"Generated by `benchmarks/gift/published.py` from {REPOSITORY} at commit "
        f"`{src.commit or 'unknown'}` ({src.commit_date() or 'date unknown'}), files `results/*/all_results.csv`.",
        "",
        "For each model, the geometric mean over the configs it shares with `seasonal_naive` of "
        f"`{MASE}` and `{CRPS}` (CRPS) divided by `seasonal_naive`'s value on the same config. "
        "Leakage and type come from the folder's `config.json` (`testdata_leakage`, `model_type`).",
        "",
        "## Selected models",
        "",
        *_table(selected),
        "",
        f"## Check against the reference figures (stated for commit {REFERENCE_COMMIT}; this run: {short})",
        "",
        "| folder | figure | reference | extracted | difference |",
        "|---|---|---:|---:|---:|",
    ]
    for name, (mase, crps) in REFERENCE_GEOMEANS.items():
        r = by_model.get(name)
        for label, ref, key in (("MASE / SNaive", mase, "mase_rel"), ("CRPS / SNaive", crps, "crps_rel")):
            got = r[key] if r else math.nan
            out.append(f"| {name} | {label} | {ref:.3f} | {_fmt(got)} | {_diff(got - ref)} |")
    for name, ref in REFERENCE_M4_HOURLY.items():
        r = by_model.get(name)
        got = r["m4_hourly_mase"] if r else math.nan
        out.append(f"| {name} | M4 hourly MASE | {ref:.3f} | {_fmt(got)} | {_diff(got - ref)} |")
    missing = [f.name for f in folders.values() if f.frame is None]
    out += [
        "",
        f"## Every results folder ({len(folders)} folders; sorted by CRPS / SNaive)",
        "",
        *_table(everyone),
        "",
    ]
    if missing:
        out += [f"Folders without a results CSV: {', '.join(missing)}.", ""]
    return "\n".join(out)


def run(path: str | Path, rev: str = "HEAD", out_dir: str | Path = HERE,
        models: Sequence[str] | None = None) -> dict:
    src = Source(path, rev)
    folders = read_all(src)
    if BASELINE not in folders or folders[BASELINE].frame is None:
        raise ValueError(f"no results/{BASELINE}/all_results.csv in {path}")
    chosen = list(folders) if models == ["all"] else list(models or DEFAULT_MODELS)
    absent = [m for m in chosen if m not in folders]
    chosen = [m for m in chosen if m in folders and folders[m].frame is not None]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frame = published_frame(folders, chosen)
    frame.to_csv(out / "published.csv", index=False)
    meta = {
        "repository": REPOSITORY,
        "commit": src.commit,
        "commit_date": src.commit_date(),
        "files": "results/<folder>/all_results.csv, results/<folder>/config.json",
        "columns": {"MASE": MASE, "CRPS": CRPS, "leakage": "testdata_leakage (config.json)"},
        "models": chosen,
        "models_requested_but_absent": absent,
        "rows": int(len(frame)),
        "configs": int(frame["dataset"].nunique()),
        "folders": {
            n: {"rows": None if f.frame is None else int(len(f.frame)), "results_file": f.results_file,
                "model_name": None if f.frame is None else str(f.frame["model"].iloc[0]),
                "model_type": f.config.get("model_type"), "testdata_leakage": f.config.get("testdata_leakage")}
            for n, f in folders.items()
        },
    }
    (out / "published.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    (out / "published_summary.md").write_text(summary_markdown(src, folders, chosen), encoding="utf-8")
    return meta


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", help="gift-eval checkout (folder with results/) or bare git directory")
    ap.add_argument("--rev", default="HEAD", help="revision to read from a git directory (default HEAD)")
    ap.add_argument("--out", default=str(HERE), help="output folder (default: next to this script)")
    ap.add_argument("--models", default=None, help="comma-separated folder names, or 'all' (default: a fixed list)")
    args = ap.parse_args(argv)
    models = None if args.models is None else [m.strip() for m in args.models.split(",") if m.strip()]
    meta = run(args.path, args.rev, args.out, models)
    print(f"{REPOSITORY}@{meta['commit']}: {len(meta['folders'])} folders, {meta['rows']} rows of "
          f"{len(meta['models'])} models written to {args.out}")
    if meta["models_requested_but_absent"]:
        print("absent:", ", ".join(meta["models_requested_but_absent"]))


if __name__ == "__main__":
    main()
