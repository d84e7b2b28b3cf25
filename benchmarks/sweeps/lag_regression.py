"""Sweep: the lag regression candidates (``lags``, ``lags_differenced``) of whole histories, on validation origins.

Variants: without the candidates (they take no weight), with the regression on levels
only, and with both at several ridge penalties (``LAG_PENALTY``) and history lengths
(``LAG_HISTORY``) of :mod:`seqfusion.history`, the others at their shipped values. Scored on validation origins
only, never on test ones:

1. the whole-history benchmark's validation split (``python -m benchmarks.harness realuse
   --split validation``; geo-mean of MASE relative to SeasonalNaive over 20 datasets);
2. GIFT-Eval validation windows (each config's windows moved back by its test span, see
   :func:`benchmarks.sweeps.backtest_weights.validation_task`) of the rebuilt ETT and Jena
   weather configs and of M4 hourly, all forecast with the zoo built without M3/M4/Tourism
   (``--competition-zoo``), so that no zoo saw these histories; MASE and CRPS relative to
   SeasonalNaive.

``python -m benchmarks.sweeps.lag_regression --competition-zoo ZOO`` writes
``benchmarks/results/sweep_lag_regression.{md,json}``.
"""
from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from benchmarks.gift.evaluate import geomean
from benchmarks.sweeps.backtest_weights import GIFT_CONFIGS, gift_scores, validation_task
from benchmarks.sweeps.common import OUT, realuse_validation, write_results

CONFIGS = ["m4_hourly/H/short", *GIFT_CONFIGS]
#: label -> (candidates switched off, module settings of seqfusion.history)
VARIANTS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "without": (("lags", "lags_differenced"), {}),
    "levels only": (("lags_differenced",), {}),
    "differences only": (("lags",), {}),
    "shipped": ((), {}),
    "LAG_PENALTY=0.01": ((), {"LAG_PENALTY": 0.01}),
    "LAG_PENALTY=1.0": ((), {"LAG_PENALTY": 1.0}),
    "LAG_HISTORY=1000": ((), {"LAG_HISTORY": 1000}),
    "LAG_HISTORY=4000": ((), {"LAG_HISTORY": 4000}),
}


@contextlib.contextmanager
def variant(off: tuple[str, ...], settings: dict[str, Any]) -> Iterator[None]:
    """The history module with ``settings`` and the candidates ``off`` taking no weight
    (restored after)."""
    from seqfusion import history

    saved = {name: getattr(history, name) for name in ("LAG_PENALTY", "LAG_HISTORY", "lag_regression")}
    original = history.lag_regression

    def switched(histories: Any, horizon: int, seasons: Any, weeks: Any, differences: bool = False) -> Any:
        point, has = original(histories, horizon, seasons, weeks, differences)
        name = "lags_differenced" if differences else "lags"
        return point, (np.zeros_like(has) if name in off else has)

    try:
        history.lag_regression = switched
        for name, value in settings.items():
            setattr(history, name, value)
        yield
    finally:
        for name, value in saved.items():
            setattr(history, name, value)


def run(zoo: str, competition_zoo: str) -> dict[str, Any]:
    from seqfusion import SeqFusion, history

    tasks = {name: validation_task(name) for name in CONFIGS}
    model = SeqFusion.from_pretrained(competition_zoo)
    out: dict[str, Any] = {"shipped": {"LAG_PENALTY": history.LAG_PENALTY, "LAG_HISTORY": history.LAG_HISTORY},
                           "variants": {}}
    for label, (off, settings) in VARIANTS.items():
        start = time.perf_counter()
        with variant(off, settings):
            whole = realuse_validation(zoo, competition_zoo)
            scores = gift_scores(model, tasks)
        out["variants"][label] = {
            "off": list(off), "settings": settings, "realuse": whole,
            "gift_mase": geomean([v["mase"] for v in scores.values()]),
            "gift_crps": geomean([v["crps"] for v in scores.values()]),
            "per_config": scores, "seconds": time.perf_counter() - start}
    out["configs"] = {n: {"horizon": t.horizon, "windows": t.n_windows, "series": t.n_series}
                      for n, t in tasks.items()}
    return out


def markdown(res: dict[str, Any]) -> str:
    meta = res["meta"]
    variants = res["variants"]
    lines = ["# Sweep: the lag regression candidates", "",
             (__doc__ or "").split("\n\n")[0].replace("\n", " "), "",
             f"- command: `{meta['command']}`",
             f"- commit: {meta['git_commit']}{' (dirty)' if meta['git_dirty'] else ''}",
             f"- shipped: {res['shipped']}", "",
             "Validation origins only. MASE (CRPS) relative to SeasonalNaive; lower is better.", "",
             "| variant | whole-history validation | GIFT-Eval validation MASE | GIFT-Eval validation CRPS |",
             "|---|---|---|---|"]
    for label, v in variants.items():
        lines.append(f"| {label} | {v['realuse']['geomean']:.4f} | {v['gift_mase']:.4f} | {v['gift_crps']:.4f} |")
    labels = list(variants)
    lines += ["", "Whole-history validation per dataset:", "",
              "| dataset | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for d in variants[labels[0]]["realuse"]["per_dataset"]:
        lines.append(f"| {d} | " + " | ".join(f"{variants[k]['realuse']['per_dataset'][d]:.3f}" for k in labels) + " |")
    lines += ["", "GIFT-Eval validation windows per config (MASE / CRPS):", "",
              "| config | H | " + " | ".join(labels) + " |", "|---|---|" + "---|" * len(labels)]
    for c, info in res["configs"].items():
        cells = [f"{variants[k]['per_config'][c]['mase']:.3f} / {variants[k]['per_config'][c]['crps']:.3f}"
                 for k in labels]
        lines.append(f"| {c} | {info['horizon']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--zoo", default="src/seqfusion/default_zoo")
    ap.add_argument("--competition-zoo", required=True, help="the zoo built without M3/M4/Tourism")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    started = time.perf_counter()
    res = run(args.zoo, args.competition_zoo)
    write_results("lag_regression", res, markdown, args.out, argv, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
