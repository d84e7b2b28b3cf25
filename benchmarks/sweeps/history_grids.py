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

import time
from typing import Any

import numpy as np

from benchmarks.sweeps.common import constant, header, one_at_a_time, realuse_validation, zoo_sweep_main
from seqfusion.history import shares


def damped(alphas: tuple[float, ...], betas: tuple[float, ...], phis: tuple[float, ...]) -> list[tuple[float, ...]]:
    """The damped trend's grid: every (alpha, alpha * beta, phi)."""
    return [(a, a * b, p) for a in alphas for b in betas for p in phis]


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
    lines = [*header("Sweep: grids and fixed weights of the whole-history layer", __doc__, res), "",
             "Validation origins only; geo-mean of MASE / SeasonalNaive over 20 datasets, lower is better.", "",
             *one_at_a_time(res, "grid")]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    return zoo_sweep_main("history_grids", __doc__, run, markdown, argv)


if __name__ == "__main__":
    raise SystemExit(main())
