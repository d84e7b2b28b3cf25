"""Sweep: the median candidate (``median``, the flat median of the last cycle) of whole histories, validation origins.

Variants: without the candidate (it takes no weight, :data:`seqfusion.history.SWITCHED_OFF`)
and with it over at least ``MEDIAN_POINTS`` points (6, 12, 24). Scored on validation
origins only, never on test ones:

1. the whole-history benchmark's validation split (geo-mean of MASE relative to
   SeasonalNaive over 20 datasets);
2. GIFT-Eval validation windows (:func:`benchmarks.sweeps.backtest_weights.validation_task`)
   of the rebuilt configs, forecast with the zoo built without M3/M4/Tourism
   (``--competition-zoo``): MASE of the median and CRPS relative to SeasonalNaive. Car
   parts (71% zeros in the last two years) is the intermittent one.

``python -m benchmarks.sweeps.median_candidate --competition-zoo ZOO`` writes
``benchmarks/results/sweep_median_candidate.{md,json}``.
"""
from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator
from typing import Any

from benchmarks.gift.evaluate import geomean
from benchmarks.sweeps.backtest_weights import gift_scores, validation_task
from benchmarks.sweeps.common import OUT, realuse_validation, write_results
from benchmarks.sweeps.nonnegative import CONFIGS

#: label -> module settings of seqfusion.history
VARIANTS: dict[str, dict[str, Any]] = {
    "without": {"SWITCHED_OFF": ("median",)},
    "MEDIAN_POINTS=6": {"MEDIAN_POINTS": 6},
    "shipped": {},
    "MEDIAN_POINTS=24": {"MEDIAN_POINTS": 24},
}


@contextlib.contextmanager
def settings(values: dict[str, Any]) -> Iterator[None]:
    """``seqfusion.history`` with ``values`` (restored after)."""
    from seqfusion import history

    saved = {name: getattr(history, name) for name in values}
    try:
        for name, value in values.items():
            setattr(history, name, value)
        yield
    finally:
        for name, value in saved.items():
            setattr(history, name, value)


def run(zoo: str, competition_zoo: str) -> dict[str, Any]:
    from seqfusion import SeqFusion, history

    tasks = {name: validation_task(name) for name in CONFIGS}
    model = SeqFusion.from_pretrained(competition_zoo)
    out: dict[str, Any] = {"shipped": {"MEDIAN_POINTS": history.MEDIAN_POINTS}, "variants": {}}
    for label, values in VARIANTS.items():
        start = time.perf_counter()
        with settings(values):
            whole = realuse_validation(zoo, competition_zoo)
            scores = gift_scores(model, tasks)
        out["variants"][label] = {
            "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}, "realuse": whole,
            "gift_mase": geomean([v["mase"] for v in scores.values()]),
            "gift_crps": geomean([v["crps"] for v in scores.values()]),
            "per_config": scores, "seconds": time.perf_counter() - start}
    out["configs"] = {n: {"horizon": t.horizon, "windows": t.n_windows, "series": t.n_series}
                      for n, t in tasks.items()}
    return out


def markdown(res: dict[str, Any]) -> str:
    meta = res["meta"]
    variants = res["variants"]
    labels = list(variants)
    lines = ["# Sweep: the median candidate", "",
             (__doc__ or "").split("\n\n")[0].replace("\n", " "), "",
             f"- command: `{meta['command']}`",
             f"- commit: {meta['git_commit']}{' (dirty)' if meta['git_dirty'] else ''}",
             f"- shipped: {res['shipped']}", "",
             "Validation origins only. MASE (CRPS) relative to SeasonalNaive; lower is better.", "",
             "| variant | whole-history validation | GIFT-Eval validation MASE | GIFT-Eval validation CRPS |",
             "|---|---|---|---|"]
    for label, v in variants.items():
        lines.append(f"| {label} | {v['realuse']['geomean']:.4f} | {v['gift_mase']:.4f} | {v['gift_crps']:.4f} |")
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
    write_results("median_candidate", res, markdown, args.out, argv, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
