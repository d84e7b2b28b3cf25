"""Sweep: the grids of the whole-history layer's Theta and damped trend and its fixed weights, on validation origins.

Each variant replaces one grid of :mod:`seqfusion.history` (the rest at the shipped
values) and scores the default forecaster on the whole-history benchmark's validation
split, as ``benchmarks/sweeps/history_constants.py`` does (geo-mean of MASE relative to
SeasonalNaive over 20 datasets): the smoothing weights Theta chooses from
(``THETA_ALPHAS``), the (alpha, beta, phi) grid of the damped trend (``DAMPED_GRID``;
``beta`` is a fraction of ``alpha``) and the fixed candidate weights of low-frequency
histories too short for a back-test (``SHORT_WEIGHTS``, over ``history.CANDIDATES``).

``python -m benchmarks.sweeps.history_grids --competition-zoo ZOO`` writes
``benchmarks/results/sweep_history_grids.{md,json}``.
"""
from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from benchmarks.sweeps.common import OUT, constant, realuse_validation, write_results


def damped(alphas: tuple[float, ...], betas: tuple[float, ...], phis: tuple[float, ...]) -> list[tuple[float, ...]]:
    """The damped trend's grid: every (alpha, alpha * beta, phi)."""
    return [(a, a * b, p) for a in alphas for b in betas for p in phis]


def shares(*names: str) -> np.ndarray:
    """Equal weights on the candidates ``names`` (columns as ``seqfusion.history.CANDIDATES``)."""
    from seqfusion import history

    w = np.array([float(c in names) for c in history.CANDIDATES])
    return w / w.sum()


#: grid -> label -> value (the shipped one labelled "shipped" and checked against the module)
GRID: dict[str, dict[str, Any]] = {
    "THETA_ALPHAS": {
        "shipped: linspace(0.05, 1, 20)": np.linspace(0.05, 1.0, 20),
        "linspace(0.05, 1, 10)": np.linspace(0.05, 1.0, 10),
        "linspace(0.05, 1, 40)": np.linspace(0.05, 1.0, 40),
        "linspace(0.01, 1, 20)": np.linspace(0.01, 1.0, 20),
        "linspace(0.1, 1, 19)": np.linspace(0.1, 1.0, 19),
    },
    "DAMPED_GRID": {
        "shipped: a (0.1, 0.3, 0.5, 0.8), b (0.05, 0.2), phi (0.9, 0.98)":
            damped((0.1, 0.3, 0.5, 0.8), (0.05, 0.2), (0.9, 0.98)),
        "phi (0.8, 0.9, 0.98)": damped((0.1, 0.3, 0.5, 0.8), (0.05, 0.2), (0.8, 0.9, 0.98)),
        "phi (0.9, 0.98, 1.0)": damped((0.1, 0.3, 0.5, 0.8), (0.05, 0.2), (0.9, 0.98, 1.0)),
        "a (0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0)": damped((0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0), (0.05, 0.2),
                                                         (0.9, 0.98)),
        "b (0.01, 0.05, 0.2, 0.5)": damped((0.1, 0.3, 0.5, 0.8), (0.01, 0.05, 0.2, 0.5), (0.9, 0.98)),
        "a (0.3, 0.8), b 0.2, phi 0.98 (small)": damped((0.3, 0.8), (0.2,), (0.98,)),
    },
    # weights over history.CANDIDATES, by name
    "SHORT_WEIGHTS": {
        "shipped: thirds of theta, damped, drift": shares("theta", "damped", "drift"),
        "the zoo alone": shares("zoo"),
        "quarters of zoo, theta, damped, drift": shares("zoo", "theta", "damped", "drift"),
        "halves of theta, damped": shares("theta", "damped"),
        "theta alone": shares("theta"),
    },
}


def same(a: Any, b: Any) -> bool:
    return bool(np.array_equal(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)))


def run(zoo: str, competition_zoo: str) -> dict[str, Any]:
    from seqfusion import history

    for name, values in GRID.items():
        label = next(k for k in values if k.startswith("shipped"))
        if not same(values[label], getattr(history, name)):
            raise SystemExit(f"GRID[{name!r}][{label!r}] is not history.{name}: update the sweep")
    base = realuse_validation(zoo, competition_zoo)
    out: dict[str, Any] = {"shipped": {name: next(k for k in v if k.startswith("shipped")).split(": ", 1)[1]
                                       for name, v in GRID.items()},
                           "base": base, "variants": {}}
    for name, values in GRID.items():
        for label, value in values.items():
            if label.startswith("shipped"):
                continue
            start = time.perf_counter()
            with constant(history, name, value):
                res = realuse_validation(zoo, competition_zoo)
            out["variants"][f"{name}={label}"] = {**res, "value": np.asarray(value).tolist(),
                                                  "seconds": time.perf_counter() - start}
            print(f"{name}={label}: {res['geomean']:.4f}", flush=True)
    return out


def markdown(res: dict[str, Any]) -> str:
    meta = res["meta"]
    lines = ["# Sweep: grids and fixed weights of the whole-history layer", "",
             (__doc__ or "").split("\n\n")[0].replace("\n", " "), "",
             f"- command: `{meta['command']}`",
             f"- commit: {meta['git_commit']}{' (dirty)' if meta['git_dirty'] else ''}", "",
             "Validation origins only; geo-mean of MASE / SeasonalNaive over 20 datasets, lower is better.", "",
             "| grid | value | whole-history validation | vs shipped |", "|---|---|---|---|"]
    base = res["base"]["geomean"]
    for name, value in res["shipped"].items():
        lines.append(f"| {name} | {value} (shipped) | {base:.4f} | |")
        for label, v in res["variants"].items():
            if label.startswith(name + "="):
                lines.append(f"| {name} | {label.split('=', 1)[1]} | {v['geomean']:.4f} | {v['geomean'] - base:+.4f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--zoo", default="src/seqfusion/default_zoo")
    ap.add_argument("--competition-zoo", required=True, help="the zoo built without M3/M4/Tourism")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    started = time.perf_counter()
    res = run(args.zoo, args.competition_zoo)
    write_results("history_grids", res, markdown, args.out, argv, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
