"""Sweep: how the whole-history layer turns back-test errors into candidate weights.

Variants (:mod:`seqfusion.history`):

* ``fixed, one weight``: back-tests of a horizon fixed by the frequency
  (``BACKTEST_HORIZONS``), one set of weights for every step (``STEP_WEIGHTS = False``);
* ``fixed, per step``: the same back-tests, step ``h`` weighted by the mean error over
  steps ``1..min(h, B)`` (``STEP_WEIGHTS = True``);
* ``requested, one weight``: back-tests as long as the requested horizon (the design before
  the back-test horizon was fixed; a shorter forecast is then not a prefix of a longer one);
* ``max(B, H), one weight``: back-tests of the longer of the fixed horizon and the requested
  one (a forecast to ``h <= B`` is a prefix of any longer one up to ``B``; beyond ``B`` the
  back-tests follow the horizon).

Scored on validation origins only, never on test ones:

1. the whole-history benchmark's validation split (``python -m benchmarks.harness realuse
   --split validation``; its horizons are the M4 horizons, i.e. ``BACKTEST_HORIZONS``);
2. GIFT-Eval validation windows: for the rebuilt configs the default zoo never saw (ETT
   daily, weekly and hourly at three terms, Jena weather), the config's windows moved back
   by its whole test span, so they end where the test windows begin; horizons there differ
   from ``BACKTEST_HORIZONS`` (8, 30, 48, 480, 720). MASE and CRPS relative to our
   SeasonalNaive on the same windows, geometric mean over configs.

``python -m benchmarks.sweeps.backtest_weights --competition-zoo ZOO`` writes
``benchmarks/results/sweep_backtest_weights.{md,json}``.
"""
from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from benchmarks.gift.evaluate import QUANTILES, geomean, pandas_freq
from benchmarks.gift.protocol import Task, build_task, mase, split_windows, weighted_quantile_loss
from benchmarks.gift.seasonal_naive import score as seasonal_naive_score
from benchmarks.sweeps.common import OUT, realuse_validation, write_results
from seqfusion.training.data.paths import data_root

#: rebuilt GIFT-Eval configs whose series no zoo member, extractor or router saw
GIFT_CONFIGS = ["ett1/D/short", "ett2/D/short", "ett1/W/short", "ett2/W/short",
                "ett1/H/short", "ett1/H/medium", "ett1/H/long", "ett2/H/short", "ett2/H/medium", "ett2/H/long",
                "jena_weather/D/short"]
VARIANTS: dict[str, dict[str, Any]] = {
    "fixed, one weight": {"step": False, "requested": "fixed"},
    "fixed, per step": {"step": True, "requested": "fixed"},
    "requested, one weight": {"step": False, "requested": "requested"},
    "max(B, H), one weight": {"step": False, "requested": "longer"},
}
PREFIX = {"fixed": "yes", "requested": "no", "longer": "up to B"}


@contextlib.contextmanager
def variant(step: bool, requested: str) -> Iterator[None]:
    """Run the forecaster with one variant's settings (module attributes, restored after).
    ``requested``: the back-tests' length, ``"fixed"`` (the frequency's ``B``),
    ``"requested"`` (the forecast's horizon) or ``"longer"`` (the longer of the two)."""
    from seqfusion import history

    lengths = {
        "fixed": lambda classes, horizon: history.backtest_horizons(classes),
        "requested": lambda classes, horizon: np.full(len(history.backtest_horizons(classes)), int(horizon)),
        "longer": lambda classes, horizon: np.maximum(history.backtest_horizons(classes), int(horizon)),
    }
    saved_step, saved_lengths = history.STEP_WEIGHTS, history.backtest_lengths
    history.STEP_WEIGHTS = step
    history.backtest_lengths = lengths[requested]
    try:
        yield
    finally:
        history.STEP_WEIGHTS, history.backtest_lengths = saved_step, saved_lengths


def validation_task(name: str) -> Task:
    """``name``'s GIFT-Eval windows moved back by the test span (no test value is used)."""
    task = build_task(name)
    span = task.horizon * task.n_windows
    cut = [np.asarray(s, dtype=np.float64)[: len(s) - span] for s in task.config.loader(data_root())]
    windows = split_windows(cut, task.horizon, task.n_windows)
    return Task(task.config, task.horizon, task.n_windows, task.season, task.n_series,
                min(len(s) for s in cut), windows)


def gift_scores(model: Any, tasks: dict[str, Task]) -> dict[str, dict[str, float]]:
    out = {}
    for name, task in tasks.items():
        histories = [w.history for w in task.windows]
        freq = pandas_freq(task.config.freq)
        q = np.asarray(model.predict_histories(histories, task.horizon, freq=freq, quantiles=list(QUANTILES)))
        median = q[:, :, list(QUANTILES).index(0.5)]
        base = seasonal_naive_score(task)
        out[name] = {"mase": mase(task.windows, median, task.season) / base["mase"],
                     "crps": weighted_quantile_loss(task.futures, q.transpose(0, 2, 1)) / base["crps"]}
    return out


def run(zoo: str) -> dict[str, Any]:
    from seqfusion import SeqFusion

    model = SeqFusion.from_pretrained()
    tasks = {name: validation_task(name) for name in GIFT_CONFIGS}
    results: dict[str, Any] = {}
    for label, settings in VARIANTS.items():
        start = time.perf_counter()
        with variant(**settings):
            gift = gift_scores(model, tasks)
            whole = realuse_validation(None, zoo)["geomean"]
        results[label] = {
            "realuse_validation": whole,
            "gift_validation_mase": geomean([v["mase"] for v in gift.values()]),
            "gift_validation_crps": geomean([v["crps"] for v in gift.values()]),
            "per_config": gift, "seconds": time.perf_counter() - start}
    return {"variants": results, "configs": {n: {"horizon": t.horizon, "windows": t.n_windows}
                                             for n, t in tasks.items()}}


def markdown(res: dict[str, Any]) -> str:
    meta = res["meta"]
    lines = ["# Sweep: back-test weights of the whole-history layer", "",
             (__doc__ or "").split("\n\n")[0].replace("\n", " "), "",
             f"- command: `{meta['command']}`",
             f"- commit: {meta['git_commit']}{' (dirty)' if meta['git_dirty'] else ''}", "",
             "Validation origins only. Lower is better.", "",
             "| variant | whole-history validation (MASE / SNaive) | GIFT-Eval validation MASE / SNaive "
             "| GIFT-Eval validation CRPS / SNaive | prefix of a longer forecast |", "|---|---|---|---|---|"]
    for label, v in res["variants"].items():
        prefix = PREFIX[VARIANTS[label]["requested"]]
        lines.append(f"| {label} | {v['realuse_validation']:.4f} | {v['gift_validation_mase']:.4f} | "
                     f"{v['gift_validation_crps']:.4f} | {prefix} |")
    lines += ["", "Per GIFT-Eval config (validation windows; MASE / CRPS relative to SeasonalNaive):", "",
              "| config | H | " + " | ".join(res["variants"]) + " |",
              "|---|---|" + "---|" * len(res["variants"])]
    for name, info in res["configs"].items():
        cells = [f"{v['per_config'][name]['mase']:.3f} / {v['per_config'][name]['crps']:.3f}"
                 for v in res["variants"].values()]
        lines.append(f"| {name} | {info['horizon']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--competition-zoo", required=True, help="the zoo built without M3/M4/Tourism")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    started = time.perf_counter()
    res = run(args.competition_zoo)
    write_results("backtest_weights", res, markdown, args.out, argv, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
