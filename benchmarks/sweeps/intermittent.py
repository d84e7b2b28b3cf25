"""Sweep: quantiles of intermittent histories, on validation windows.

Variants of ``INTERMITTENT_SHARE`` and ``INTERMITTENT_WINDOW`` (:mod:`seqfusion.quantiles`):
the rule off (quantiles spread around the point forecast, as for any series), the share of
zeros that makes a history intermittent (0.2, 0.3, 0.5, 0.7) times the window it is counted
on and whose empirical quantiles are the forecast (12, 24, 36 points), and the shipped rule
without its season check (histories whose season was found count too). Scored on windows
that end before any test window, MASE of the median and CRPS (mean weighted quantile loss
over 0.1..0.9) relative to SeasonalNaive (GIFT-Eval's, ``benchmarks.gift``), geometric
mean over series groups; the variant with the lowest geometric mean of the four (real and
synthetic groups, MASE and CRPS) is shipped:

1. car parts: GIFT-Eval's ``car_parts/M/short`` window moved back by its test span
   (:func:`benchmarks.sweeps.backtest_weights.validation_task`), forecast with the zoo built
   without hospital, car parts and solar (``--zoo``, ``benchmarks/gift/no_gift.toml``);
2. Favorita grocery sales (daily, 1,000 series): the 14 days before the last 14, without
   the long-context member (it learned from Favorita); its router saw Favorita, which
   moves both sides of the comparison alike;
3. COVID-19 deaths per country (daily new deaths from the cumulative counts, series with a
   negative correction left out): the 30 days before the last 30;
4. synthetic intermittent demand (seed 0): monthly, weekly and daily series whose demand
   occurs with a slowly drifting probability, sizes 1 + Poisson; the last horizon;
5. synthetic solar power (seed 1): hourly, zero every night (half the points), sunny and
   cloudy days; the last 48 hours. A rule that took these for intermittent would throw the
   daily cycle away.

The whole-history benchmark's datasets have no intermittent history, so the rule does not
change them (its quantile row is scored with the rule on and off below as a check).

``python -m benchmarks.sweeps.intermittent --zoo ZOO --competition-zoo ZOO`` writes
``benchmarks/results/sweep_intermittent.{md,json}``.
"""
from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.gift.evaluate import QUANTILES
from benchmarks.gift.protocol import CONFIGS, Task, mase, split_windows, weighted_quantile_loss
from benchmarks.gift.seasonal_naive import score as seasonal_naive_score
from benchmarks.sweeps.backtest_weights import validation_task
from benchmarks.sweeps.common import header, realuse_quantile_validation, zoo_sweep_main
from seqfusion.training.data.paths import data_root
from seqfusion.training.data.readers import parse_tsf

#: label -> (INTERMITTENT_SHARE, INTERMITTENT_WINDOW, season check); share None: rule off
VARIANTS: dict[str, tuple[float | None, int, bool]] = {"off": (None, 12, True)}
VARIANTS.update({f"share {share}, window {window}": (share, window, True)
                 for share in (0.2, 0.3, 0.5, 0.7) for window in (12, 24, 36)})


def shipped() -> str:
    """The label of the shipped settings."""
    from seqfusion import quantiles

    return f"share {quantiles.INTERMITTENT_SHARE}, window {quantiles.INTERMITTENT_WINDOW}"



def _task(name: str, histories: list[np.ndarray], futures: list[np.ndarray], freq: str, season: int) -> Task:
    """A task of one window per series (``freq``: the GIFT-Eval alias of the config)."""
    series = [np.concatenate([h, f]) for h, f in zip(histories, futures)]
    horizon = len(futures[0])
    config = replace(CONFIGS["car_parts/M/short"], dataset=name, key=name, freq=freq)
    return Task(config, horizon, 1, season, len(series), min(len(s) for s in series),
                split_windows(series, horizon, 1))


def favorita(root: Path) -> Task:
    series = parse_tsf(root / "monash" / "favourita_sales_1000_dataset.tsf")[2]
    return _task("favorita", [s[:-28] for s in series], [s[-28:-14] for s in series], "D", 7)


def covid_deaths(root: Path) -> Task:
    df = pd.read_csv(root / "misc" / "time_series_covid19_deaths_global.csv")
    values = df.iloc[:, 4:].to_numpy(np.float64)
    daily = np.diff(values, axis=1)
    keep = (daily >= 0).all(axis=1) & (values[:, -1] > 0)
    series = list(daily[keep])
    return _task("covid_deaths", [s[:-60] for s in series], [s[-60:-30] for s in series], "D", 7)


def synthetic_intermittent(seed: int = 0, n: int = 600) -> list[tuple[str, Task]]:
    """Intermittent demand: occurrence probability drifting on the logit scale around a
    level drawn from 0.05..0.9, sizes 1 + Poisson(mean 0..10); 40-300 points."""
    rng = np.random.default_rng(seed)
    out = []
    for freq, season, horizon in (("M", 12, 12), ("W", 1, 13), ("D", 7, 14)):
        hs, fs = [], []
        for _ in range(n // 3):
            length = int(rng.integers(40, 301)) + horizon
            level = math.log(p := rng.uniform(0.05, 0.9)) - math.log(1 - p)
            logit = level + np.cumsum(rng.normal(0, 0.05, length))
            occurs = rng.random(length) < 1 / (1 + np.exp(-logit))
            sizes = 1 + rng.poisson(rng.uniform(0, 10), length)
            y = np.where(occurs, sizes, 0).astype(np.float64)
            hs.append(y[:-horizon])
            fs.append(y[-horizon:])
        out.append((f"synthetic {freq}", _task(f"synthetic_{freq}", hs, fs, freq, season)))
    return out


def synthetic_solar(seed: int = 1, n: int = 100) -> Task:
    """Hourly power of a solar plant: a half sine from 8:00 to 16:00, zero the other 16
    hours, each day's level drawn from sunny to overcast; 30-90 days."""
    rng = np.random.default_rng(seed)
    hs, fs = [], []
    hours = np.arange(24)
    shape = np.where((hours > 8) & (hours < 16), np.sin(np.pi * (hours - 8) / 8), 0.0)
    for _ in range(n):
        days = int(rng.integers(30, 91)) + 2
        level = rng.uniform(0.2, 1.0, days) * rng.uniform(1, 100)
        y = (level[:, None] * shape[None, :] * rng.uniform(0.9, 1.1, (days, 24))).reshape(-1)
        hs.append(y[:-48])
        fs.append(y[-48:])
    return _task("synthetic_solar", hs, fs, "H", 24)


@contextlib.contextmanager
def variant(share: float | None, window: int, season_check: bool) -> Iterator[None]:
    """The quantile module with one variant's settings (restored after)."""
    from seqfusion import quantiles

    saved = (quantiles.INTERMITTENT_SHARE, quantiles.INTERMITTENT_WINDOW, quantiles.intermittent)
    original = quantiles.intermittent

    def rule(histories: Any, seasonal: np.ndarray) -> np.ndarray:
        if share is None:
            return np.zeros(len(histories), dtype=bool)
        return original(histories, seasonal if season_check else np.zeros_like(seasonal))

    quantiles.INTERMITTENT_SHARE = share if share is not None else 1.0
    quantiles.INTERMITTENT_WINDOW = window
    quantiles.intermittent = rule
    try:
        yield
    finally:
        quantiles.INTERMITTENT_SHARE, quantiles.INTERMITTENT_WINDOW, quantiles.intermittent = saved


def scores(model: Any, task: Task, pandas_freq: str) -> dict[str, float]:
    histories = [w.history for w in task.windows]
    q = np.asarray(model.predict_histories(histories, task.horizon, freq=pandas_freq, quantiles=list(QUANTILES)))
    median = q[:, :, list(QUANTILES).index(0.5)]
    base = seasonal_naive_score(task)
    return {"mase": mase(task.windows, median, task.season) / base["mase"],
            "crps": weighted_quantile_loss(task.futures, q.transpose(0, 2, 1)) / base["crps"]}


def zero_share(task: Task) -> float:
    """Share of exactly-zero values in the last 12 points of the histories."""
    return float(np.mean([np.mean(w.history[~np.isnan(w.history)][-12:] == 0) for w in task.windows]))


def run(zoo: str, competition_zoo: str) -> dict[str, Any]:
    from seqfusion import SeqFusion

    root = data_root()
    model = SeqFusion.from_pretrained(zoo)
    groups: list[tuple[str, Task, str, Any]] = [
        ("car parts", validation_task("car_parts/M/short"), "MS", model),
        ("favorita", favorita(root), "D", model.with_options(long_context=False)),
        ("covid deaths", covid_deaths(root), "D", model),
        *[(name, task, {"M": "MS", "W": "W", "D": "D"}[task.config.freq], model)
          for name, task in synthetic_intermittent()],
        ("synthetic solar", synthetic_solar(), "h", model),
    ]
    out: dict[str, Any] = {"shipped": shipped(), "groups": {name: {"series": t.n_series, "horizon": t.horizon,
                                             "zero_share_last_12": zero_share(t)} for name, t, _, _ in groups},
                           "variants": {}}
    from seqfusion import quantiles

    ship = shipped()
    variants = {**VARIANTS, f"{ship}, no season check": (quantiles.INTERMITTENT_SHARE,
                                                           quantiles.INTERMITTENT_WINDOW, False)}
    for label, settings in variants.items():
        start = time.perf_counter()
        with variant(*settings):
            per = {name: scores(m, task, freq) for name, task, freq, m in groups}
            whole = realuse_quantile_validation(None, competition_zoo) if label in ("off", ship) else None
        real = [per[g] for g in ("car parts", "favorita", "covid deaths")]
        synthetic = [v for g, v in per.items() if g.startswith("synthetic")]
        out["variants"][label] = {
            "per_group": per, "whole_history_quantiles": whole,
            "real_mase": _geo([v["mase"] for v in real]), "real_crps": _geo([v["crps"] for v in real]),
            "synthetic_mase": _geo([v["mase"] for v in synthetic]),
            "synthetic_crps": _geo([v["crps"] for v in synthetic]), "seconds": time.perf_counter() - start}
    return out


def _mean_of(v: dict[str, Any]) -> float:
    """The variant's score: the geometric mean of its four geo-means (real and synthetic
    groups, MASE and CRPS); the lowest is shipped."""
    return _geo([v["real_mase"], v["real_crps"], v["synthetic_mase"], v["synthetic_crps"]])


def _geo(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def markdown(res: dict[str, Any]) -> str:
    lines = [*header("Sweep: quantiles of intermittent histories", __doc__, res), "",
             "Validation windows only. MASE of the median and CRPS relative to SeasonalNaive; lower is better.", "",
             "| group | series | H | share of zeros in the last 12 points |", "|---|---|---|---|"]
    for name, g in res["groups"].items():
        lines.append(f"| {name} | {g['series']} | {g['horizon']} | {g['zero_share_last_12']:.2f} |")
    lines += ["", "| variant | real groups MASE | real groups CRPS | synthetic MASE | synthetic CRPS "
              "| geo-mean of the four |",
              "|---|---|---|---|---|---|"]
    for label, v in res["variants"].items():
        mark = " (shipped)" if label == res["shipped"] else ""
        lines.append(f"| {label}{mark} | {v['real_mase']:.4f} | {v['real_crps']:.4f} | {v['synthetic_mase']:.4f} | "
                     f"{v['synthetic_crps']:.4f} | {_mean_of(v):.4f} |")
    lines += ["", "Per group (MASE / CRPS):", "", "| group | " + " | ".join(res["variants"]) + " |",
              "|---|" + "---|" * len(res["variants"])]
    for name in res["groups"]:
        cells = [f"{v['per_group'][name]['mase']:.3f} / {v['per_group'][name]['crps']:.3f}"
                 for v in res["variants"].values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "Whole-history validation, quantile row (WQL relative to SeasonalNaive; 80% / 95% coverage):", ""]
    for label, v in res["variants"].items():
        w = v["whole_history_quantiles"]
        if w:
            lines.append(f"- {label}: {w['geomean']:.4f}; {100 * w['coverage_80']:.1f}% / "
                         f"{100 * w['coverage_95']:.1f}%")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    return zoo_sweep_main("intermittent", __doc__, run, markdown, argv)


if __name__ == "__main__":
    raise SystemExit(main())
