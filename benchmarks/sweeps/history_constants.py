"""Sweep: the whole-history layer's constants, one at a time, on validation origins.

Each variant changes one module constant of :mod:`seqfusion.history` (the others at their
shipped values) and scores the default forecaster on the whole-history benchmark's
validation split (``python -m benchmarks.harness realuse --split validation``; geo-mean of
MASE relative to SeasonalNaive over 20 datasets): the number of back-tests
(``BACKTESTS``), the softmax temperature on log back-test errors (``TEMPERATURE``), the
points Theta and the damped trend smooth over (``THETA_HISTORY``, ``DAMPED_HISTORY``), the
cycles the seasonal indices are estimated on (``SEASON_CYCLES``) and the fewest cycles for
the zoo's forecast of cycle means (``AGG_MIN_CYCLES``).

``python -m benchmarks.sweeps.history_constants --competition-zoo ZOO`` writes
``benchmarks/results/sweep_history_constants.{md,json}``.
"""
from __future__ import annotations

import argparse
import time
from typing import Any

from benchmarks.sweeps.common import OUT, constant, realuse_validation, write_results

#: constant -> values tried (the shipped value among them)
GRID: dict[str, tuple[Any, ...]] = {
    "BACKTESTS": (3, 5, 8),
    "TEMPERATURE": (0.1, 0.2, 0.4),
    "THETA_HISTORY": (250, 500, 1000),
    "DAMPED_HISTORY": (100, 200, 400),
    "SEASON_CYCLES": (5, 10, 20),
    "AGG_MIN_CYCLES": (8, 12, 24),
}


def run(zoo: str, competition_zoo: str) -> dict[str, Any]:
    from seqfusion import history

    shipped = {name: getattr(history, name) for name in GRID}
    base = realuse_validation(zoo, competition_zoo)
    out: dict[str, Any] = {"shipped": shipped, "base": base, "variants": {}}
    for name, values in GRID.items():
        for value in values:
            if value == shipped[name]:
                continue
            start = time.perf_counter()
            with constant(history, name, value):
                res = realuse_validation(zoo, competition_zoo)
            out["variants"][f"{name}={value}"] = {**res, "seconds": time.perf_counter() - start}
    return out


def markdown(res: dict[str, Any]) -> str:
    meta = res["meta"]
    lines = ["# Sweep: constants of the whole-history layer", "",
             (__doc__ or "").split("\n\n")[0].replace("\n", " "), "",
             f"- command: `{meta['command']}`",
             f"- commit: {meta['git_commit']}{' (dirty)' if meta['git_dirty'] else ''}", "",
             "Validation origins only; geo-mean of MASE / SeasonalNaive over 20 datasets, lower is better.", "",
             "| constant | value | whole-history validation | vs shipped |", "|---|---|---|---|"]
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
    write_results("history_constants", res, markdown, args.out, argv, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
