"""Sweep: the spread constants of :mod:`seqfusion.quantiles`, one at a time, on validation origins.

Each variant changes one constant (the others at their shipped values) and scores the
default forecaster's quantiles where the constant acts, on validation origins only:

* ``BACKTEST_FACTOR`` (histories with back-tests) and the t distribution's degrees of
  freedom: the whole-history benchmark's validation split (``python -m benchmarks.harness
  realuse --quantiles --split validation``; geo-mean over 20 datasets of WQL relative to
  SeasonalNaive's normal quantiles, pooled coverage of the 80% / 95% intervals);
* ``FALLBACK_FACTOR`` and ``SPREAD_CAP`` (histories with no back-test): the validation
  windows of the 36-point protocol, where every history is one zoo input (same scores,
  six datasets), and the whole-history split;
* ``DIFF_HISTORY`` (the points the random-walk spread reads) binds only on histories
  longer than it without a back-test, i.e. with ``history="last"`` (the default's
  histories without a back-test are shorter than 36 + 48 points): the whole-history
  split forecast with ``history="last"``, shipped value included.

``DEGREES_OF_FREEDOM`` rows replace :func:`seqfusion.quantiles.t_quantile` by scipy's
Student t (the shipped closed form is the 3-degree one); ``inf`` is the normal distribution.

``python -m benchmarks.sweeps.quantile_constants --competition-zoo ZOO`` writes
``benchmarks/results/sweep_quantile_constants.{md,json}``.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.sweeps.common import (
    OUT,
    PROTOCOL_ROWS,
    constant,
    protocol_quantile_validation,
    realuse_quantile_validation,
    write_results,
)

#: constant -> values tried (the shipped value among them)
GRID: dict[str, tuple[Any, ...]] = {
    "BACKTEST_FACTOR": (0.6, 0.7, 0.8, 0.9, 1.0),
    "FALLBACK_FACTOR": (0.8, 1.0, 1.2, 1.4, 1.6),
    "SPREAD_CAP": (0.5, 0.75, 1.0, 1.5, 2.0),
    "DIFF_HISTORY": (50, 100, 200, 400),
    "DEGREES_OF_FREEDOM": (2, 3, 5, 10, float("inf")),
}
#: where each constant is scored: "realuse" (whole-history validation split), "protocol"
#: (36-point validation windows), "last" (whole-history split with history="last")
SCORED_ON: dict[str, tuple[str, ...]] = {
    "BACKTEST_FACTOR": ("realuse",),
    "FALLBACK_FACTOR": ("protocol", "realuse"),
    "SPREAD_CAP": ("protocol", "realuse"),
    "DIFF_HISTORY": ("last",),
    "DEGREES_OF_FREEDOM": ("realuse", "protocol"),
}


@contextlib.contextmanager
def degrees_of_freedom(df: float) -> Iterator[None]:
    """:func:`seqfusion.quantiles.t_quantile` of a t distribution with ``df`` degrees of
    freedom (scipy; the normal distribution for ``inf``) inside the block."""
    from scipy import stats

    from seqfusion import quantiles

    def t_quantile(q: np.ndarray) -> np.ndarray:
        q = np.asarray(q, dtype=np.float64)
        return np.asarray(stats.norm.ppf(q) if np.isinf(df) else stats.t.ppf(q, df), dtype=np.float64)

    with constant(quantiles, "t_quantile", t_quantile):
        yield


@contextlib.contextmanager
def last_history() -> Iterator[None]:
    """``SeqFusion.from_pretrained`` returns forecasters with ``history="last"`` inside the block."""
    from seqfusion.forecaster import SeqFusion

    original = SeqFusion.from_pretrained

    def from_pretrained(path: Any = None, **settings: Any) -> SeqFusion:
        return original(path, **settings).with_options(history="last")

    with constant(SeqFusion, "from_pretrained", staticmethod(from_pretrained)):
        yield


def setting(name: str, value: Any) -> contextlib.AbstractContextManager[None]:
    from seqfusion import quantiles

    if name == "DEGREES_OF_FREEDOM":
        return degrees_of_freedom(value) if value != quantiles.DEGREES_OF_FREEDOM else contextlib.nullcontext()
    return constant(quantiles, name, value)


def scorers(zoo: str | None, competition_zoo: str, rows: int) -> dict[str, Callable[[], dict[str, Any]]]:
    from seqfusion.forecaster import SeqFusion

    def protocol() -> dict[str, Any]:
        return protocol_quantile_validation(SeqFusion.from_pretrained(zoo), rows)

    def realuse() -> dict[str, Any]:
        return realuse_quantile_validation(zoo, competition_zoo)

    def last() -> dict[str, Any]:
        with last_history():
            return realuse_quantile_validation(zoo, competition_zoo)

    return {"protocol": protocol, "realuse": realuse, "last": last}


def run(zoo: str | None, competition_zoo: str, rows: int) -> dict[str, Any]:
    from seqfusion import quantiles

    score = scorers(zoo, competition_zoo, rows)
    shipped = {name: getattr(quantiles, name) for name in GRID}
    out: dict[str, Any] = {"shipped": shipped, "scored_on": SCORED_ON, "rows": rows, "base": {}, "variants": {}}
    for where in sorted({w for ws in SCORED_ON.values() for w in ws}):
        out["base"][where] = score[where]()
        print(f"shipped on {where}: {out['base'][where]['geomean']:.4f}", flush=True)
    for name, values in GRID.items():
        for value in values:
            if value == shipped[name]:
                continue
            for where in SCORED_ON[name]:
                start = time.perf_counter()
                with setting(name, value):
                    res = score[where]()
                out["variants"][f"{name}={value}|{where}"] = {**res, "seconds": time.perf_counter() - start}
                print(f"{name}={value} on {where}: {res['geomean']:.4f}", flush=True)
    return out


WHERE = {"realuse": "whole-history validation (20)", "protocol": "36-point validation (6)",
         "last": "whole-history validation, history=\"last\" (20)"}


def markdown(res: dict[str, Any]) -> str:
    meta = res["meta"]
    lines = ["# Sweep: spread constants of the quantile forecasts", "",
             (__doc__ or "").split("\n\n")[0].replace("\n", " "), "",
             f"- command: `{meta['command']}`",
             f"- commit: {meta['git_commit']}{' (dirty)' if meta['git_dirty'] else ''}", "",
             "Validation origins only. Score: geo-mean of WQL / SeasonalNaive WQL on the same windows "
             f"(lower is better); coverage of the 80% and 95% intervals pooled over all target points. "
             f"36-point validation: {res['rows']} rows per dataset. The intervals' coverage targets "
             "(`realuse_quantiles_validation.md`): 75-85% and 91-98% pooled; a lower WQL bought with "
             "intervals that cover less than that is not a better value.", "",
             "| constant | value | scored on | rel. WQL | vs shipped | cov 80 | cov 95 |",
             "|---|---|---|---|---|---|---|"]
    for name, value in res["shipped"].items():
        for where in res["scored_on"][name]:
            base = res["base"][where]
            lines.append(f"| {name} | {value:g} (shipped) | {WHERE[where]} | {base['geomean']:.4f} | | "
                         f"{100 * base['coverage_80']:.1f} | {100 * base['coverage_95']:.1f} |")
            for label, v in res["variants"].items():
                key, on = label.split("|")
                if key.startswith(name + "=") and on == where:
                    lines.append(f"| {name} | {key.split('=', 1)[1]} | {WHERE[where]} | {v['geomean']:.4f} | "
                                 f"{v['geomean'] - base['geomean']:+.4f} | {100 * v['coverage_80']:.1f} | "
                                 f"{100 * v['coverage_95']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--zoo", default=None, help="zoo folder (default: the shipped zoo)")
    ap.add_argument("--competition-zoo", required=True, help="the zoo built without M3/M4/Tourism")
    ap.add_argument("--rows", type=int, default=PROTOCOL_ROWS, help="36-point validation rows per dataset")
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--markdown-only", action="store_true",
                    help="rewrite the markdown from the results JSON in --out (no run)")
    args = ap.parse_args(argv)
    if args.markdown_only:
        path = Path(args.out) / "sweep_quantile_constants"
        path.with_suffix(".md").write_text(markdown(json.loads(path.with_suffix(".json").read_text())))
        return 0
    started = time.perf_counter()
    res = run(args.zoo, args.competition_zoo, args.rows)
    write_results("quantile_constants", res, markdown, args.out, argv, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
