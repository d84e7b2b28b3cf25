"""Sweep: forecasts of series that never go below zero raised to 0 (``Options.nonnegative``), on validation origins.

Variants: off (forecasts and quantiles as they come) and on (the shipped default: a series
with no negative value in its history gets no negative forecast or quantile). Scored on
validation origins only, never on test ones:

1. the whole-history benchmark's validation split: geo-mean MASE relative to SeasonalNaive
   and, with quantiles, geo-mean WQL relative to SeasonalNaive's and pooled coverage;
2. GIFT-Eval validation windows (:func:`benchmarks.sweeps.backtest_weights.validation_task`)
   of the rebuilt configs, all forecast with the zoo built without M3/M4/Tourism
   (``--competition-zoo``): MASE of the median and CRPS relative to SeasonalNaive.

``python -m benchmarks.sweeps.nonnegative --competition-zoo ZOO`` writes
``benchmarks/results/sweep_nonnegative.{md,json}``.
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from benchmarks.sweeps.backtest_weights import gift_scores, validation_task
from benchmarks.sweeps.common import (
    config_info,
    gift_config_rows,
    gift_entry,
    header,
    per_dataset_rows,
    realuse_quantile_validation,
    realuse_validation,
    zoo_sweep_main,
)

CONFIGS = ["m4_hourly/H/short", "m4_weekly/W/short", "hospital/M/short", "car_parts/M/short",
           "ett1/D/short", "ett2/D/short", "ett1/W/short", "ett2/W/short", "ett1/H/short", "ett2/H/short",
           "jena_weather/D/short", "solar/W/short"]


@contextlib.contextmanager
def floor_off(off: bool) -> Iterator[None]:
    """Forecasters leave negative values as they come inside the block (``off``), whatever
    their ``nonnegative`` setting; restored after."""
    from seqfusion.forecaster import SeqFusion

    saved = SeqFusion._nonnegative
    if off:  # no row is raised to 0
        SeqFusion._nonnegative = lambda self, series: np.zeros(len(series), dtype=bool)  # type: ignore[method-assign]
    try:
        yield
    finally:
        SeqFusion._nonnegative = saved  # type: ignore[method-assign]


def run(zoo: str, competition_zoo: str) -> dict[str, Any]:
    from seqfusion import SeqFusion

    tasks = {name: validation_task(name) for name in CONFIGS}
    model = SeqFusion.from_pretrained(competition_zoo)
    out: dict[str, Any] = {"variants": {}}
    for label, off in (("off", True), ("on (shipped)", False)):
        start = time.perf_counter()
        with floor_off(off):
            whole = realuse_validation(zoo, competition_zoo)
            quant = realuse_quantile_validation(zoo, competition_zoo)
            scores = gift_scores(model, tasks)
        out["variants"][label] = {"realuse": whole, "realuse_quantiles": quant, **gift_entry(scores),
                                  "seconds": time.perf_counter() - start}
    out["configs"] = config_info(tasks)
    return out


def markdown(res: dict[str, Any]) -> str:
    lines = [*header("Sweep: non-negative forecasts of non-negative series", __doc__, res), "",
             "Validation origins only. MASE, WQL and CRPS relative to SeasonalNaive; lower is better.", "",
             "| variant | whole-history MASE | whole-history WQL | coverage 80 / 95 | GIFT MASE | GIFT CRPS |",
             "|---|---|---|---|---|---|"]
    for label, v in res["variants"].items():
        q = v["realuse_quantiles"]
        lines.append(f"| {label} | {v['realuse']['geomean']:.4f} | {q['geomean']:.4f} | "
                     f"{100 * q['coverage_80']:.1f} / {100 * q['coverage_95']:.1f} | {v['gift_mase']:.4f} | "
                     f"{v['gift_crps']:.4f} |")
    lines += ["", *gift_config_rows(res), "",
              *per_dataset_rows(res, "realuse_quantiles", "Whole-history validation WQL per dataset:")]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    return zoo_sweep_main("nonnegative", __doc__, run, markdown, argv)


if __name__ == "__main__":
    raise SystemExit(main())
