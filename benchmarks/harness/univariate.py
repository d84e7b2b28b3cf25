"""Univariate benchmark of the paper's Tables 4/5: M3, Tourism and M4 (Hourly, Weekly).

Per series, the test part is its last ``H`` values and the input is the ``L`` points
before it; a series whose training part is shorter than ``L`` is left-padded with its
first value. One method call per dataset: ``f(x [n_series, L], H) -> [n_series, H]``.

Look-back / horizon (paper, "transfer setting"): M3 Yearly 12/6, Quarterly 24/8,
Monthly 24/18, Other 16/8; Tourism Yearly 12/4, Quarterly 24/8, Monthly 36/24;
M4 Weekly 65/13. M4 Hourly is not in the paper's list; we use 48/48 (its competition
horizon). Only M4 Hourly and Weekly have training data here, so the M4 aggregate is
not comparable with the paper's M4 number (which also covers Yearly ... Daily).

Metrics: SMAPE (M3, M4) ``200 |y - f| / (|y| + |f|)`` (0 where both are 0) and MAPE
(Tourism) ``100 |y - f| / |y|`` (points with ``y == 0`` skipped and counted), averaged
over all points of a dataset. Family aggregates weight datasets by series count.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seqfusion.training.data.paths import data_root


@dataclass(frozen=True)
class UnivariateSpec:
    """One univariate dataset: file (below the data root), reader, L, H, metric, season."""

    name: str
    path: str
    reader: str  # "m3", "tsf" or "m4"
    lookback: int
    horizon: int
    metric: str  # "smape" or "mape"
    season: int
    freq: str | None = None  # sampling frequency (pandas alias); None: not stated

    @property
    def family(self) -> str:
        return self.name.split("_")[0]


UNIVARIATE: dict[str, UnivariateSpec] = {
    s.name: s
    for s in (
        UnivariateSpec("m3_yearly", "m3/m3_yearly.csv", "m3", 12, 6, "smape", 1, "YS"),
        UnivariateSpec("m3_quarterly", "m3/m3_quarterly.csv", "m3", 24, 8, "smape", 4, "QS"),
        UnivariateSpec("m3_monthly", "m3/m3_monthly.csv", "m3", 24, 18, "smape", 12, "MS"),
        UnivariateSpec("m3_other", "m3/m3_other.csv", "m3", 16, 8, "smape", 1),
        UnivariateSpec("tourism_yearly", "tourism/tourism_yearly_dataset.tsf", "tsf", 12, 4, "mape", 1, "YS"),
        UnivariateSpec("tourism_quarterly", "tourism/tourism_quarterly_dataset.tsf", "tsf", 24, 8, "mape", 4, "QS"),
        UnivariateSpec("tourism_monthly", "tourism/tourism_monthly_dataset.tsf", "tsf", 36, 24, "mape", 12, "MS"),
        UnivariateSpec("m4_hourly", "m4/Train/Hourly-train.csv", "m4", 48, 48, "smape", 24, "h"),
        UnivariateSpec("m4_weekly", "m4/Train/Weekly-train.csv", "m4", 65, 13, "smape", 52, "W"),
    )
}

FAMILY_METRIC = {"m3": "smape", "m4": "smape", "tourism": "mape"}
LEAKY_PREFIXES = ("m3_", "m4_", "tourism_")


def resolve_univariate(name: str) -> UnivariateSpec:
    """Look a dataset up by name (case-insensitive)."""
    key = name.lower()
    if key not in UNIVARIATE:
        raise ValueError(f"unknown univariate dataset {name!r}; known: {', '.join(UNIVARIATE)}")
    return UNIVARIATE[key]


# ------------------------------------------------------------------ reading


def read_competition_series(reader: str, path: Path) -> list[np.ndarray]:
    """Full series (train + test) of a competition file in file order; ``reader``: ``"m3"``,
    ``"tsf"`` (Tourism) or ``"m4"``."""
    from seqfusion.training.data import readers

    if reader == "m3":
        return readers.read_m3_tidy(path, split="all")
    if reader == "tsf":
        return readers.read_tsf(path)
    if reader == "m4":
        return readers.read_m4_wide(path, include_test=True)
    raise ValueError(f"unknown reader {reader!r}")


@dataclass
class UnivariateData:
    """Inputs ``x [n, L]`` and targets ``y [n, H]`` of one dataset, plus padding counts."""

    spec: UnivariateSpec
    x: np.ndarray
    y: np.ndarray
    n_padded: int


def make_windows(
    series: list[np.ndarray], lookback: int, horizon: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Last-``H`` test windows: ``x [n, L]``, ``y [n, H]`` and the number of padded inputs.

    Inputs shorter than ``L`` are left-padded with their first value.
    """
    n = len(series)
    x = np.empty((n, lookback), dtype=np.float64)
    y = np.empty((n, horizon), dtype=np.float64)
    padded = 0
    for i, s in enumerate(series):
        s = np.asarray(s, dtype=np.float64)
        if len(s) <= horizon:
            raise ValueError(f"series {i} has {len(s)} values, needs more than {horizon}")
        if not np.isfinite(s).all():
            raise ValueError(f"series {i} has missing values")
        train, y[i] = s[:-horizon], s[-horizon:]
        inp = train[-lookback:]
        if len(inp) < lookback:
            padded += 1
            inp = np.concatenate([np.full(lookback - len(inp), inp[0]), inp])
        x[i] = inp
    return x, y, padded


def load_univariate(
    name: str, root: Path | None = None, max_series: int | None = None, split: str = "test"
) -> UnivariateData:
    """Read a dataset and build its windows (``max_series``: the first N series).

    ``split="test"``: the last H values of each series are the targets. ``"validation"``:
    the last H values are dropped first, so the targets are the H values before the test
    part (for choosing designs without the test values); series left with H values or
    fewer are skipped.
    """
    spec = resolve_univariate(name)
    path = (root if root is not None else data_root()) / spec.path
    if not path.is_file():
        raise FileNotFoundError(f"dataset file not found: {path}")
    series = read_competition_series(spec.reader, path)
    if max_series is not None:
        series = series[:max_series]
    if split == "validation":
        series = [s[: -spec.horizon] for s in series if len(s) > 2 * spec.horizon]
    elif split != "test":
        raise ValueError(f"unknown split {split!r} (test or validation)")
    x, y, padded = make_windows(series, spec.lookback, spec.horizon)
    return UnivariateData(spec, x, y, padded)


# ------------------------------------------------------------------ metrics


def smape(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean SMAPE in percent, ``200 |y-f| / (|y|+|f|)``; 0 where both are 0."""
    num = np.abs(target - pred)
    den = np.abs(target) + np.abs(pred)
    with np.errstate(divide="ignore", invalid="ignore"):
        val = np.where(den > 0, 200.0 * num / den, 0.0)
    return float(val.mean())


def mape(pred: np.ndarray, target: np.ndarray) -> tuple[float, int]:
    """Mean MAPE in percent over points with ``y != 0``; returns (value, skipped count)."""
    keep = target != 0
    val = 100.0 * np.abs(target[keep] - pred[keep]) / np.abs(target[keep])
    return float(val.mean()) if val.size else float("nan"), int((~keep).sum())


@dataclass
class UnivariateResult:
    """Score of one method on one dataset."""

    dataset: str
    metric: str
    value: float
    n_series: int
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "metric": self.metric, "value": self.value,
                "n_series": self.n_series, "seconds": self.seconds, **self.extra}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> UnivariateResult:
        known = {"dataset", "metric", "value", "n_series", "seconds"}
        return cls(d["dataset"], d["metric"], float(d["value"]), int(d["n_series"]),
                   float(d["seconds"]), {k: v for k, v in d.items() if k not in known})


def evaluate_univariate(
    method: Callable[[np.ndarray, int], np.ndarray], data: UnivariateData
) -> UnivariateResult:
    """Forecast every series once and score it with the dataset's metric."""
    spec = data.spec
    start = time.perf_counter()
    pred = np.asarray(method(data.x, spec.horizon), dtype=np.float64)
    if pred.shape != data.y.shape:
        raise ValueError(f"method returned shape {pred.shape}, expected {data.y.shape}")
    seconds = time.perf_counter() - start
    extra: dict[str, Any] = {"lookback": spec.lookback, "horizon": spec.horizon,
                             "n_padded": data.n_padded}
    if not np.isfinite(pred).all():
        extra["non_finite"] = int((~np.isfinite(pred)).sum())
        pred = np.where(np.isfinite(pred), pred, np.repeat(data.x[:, -1:], spec.horizon, 1))
    if spec.metric == "smape":
        value = smape(pred, data.y)
    else:
        value, skipped = mape(pred, data.y)
        extra["zero_targets_skipped"] = skipped
    return UnivariateResult(spec.name, spec.metric, value, len(data.x), seconds, extra)


def family_average(results: list[UnivariateResult]) -> dict[str, dict[str, Any]]:
    """Series-weighted mean per family (``m3``, ``m4``, ``tourism``) of the given results."""
    out: dict[str, dict[str, Any]] = {}
    for fam in FAMILY_METRIC:
        rs = [r for r in results if r.dataset.startswith(fam + "_")]
        if rs:
            n = sum(r.n_series for r in rs)
            value = sum(r.value * r.n_series for r in rs) / n
            out[fam] = {"value": value, "metric": FAMILY_METRIC[fam], "n_series": n,
                        "datasets": [r.dataset for r in rs]}
    return out


# ------------------------------------------------------------------ leakage guard


class LeakageError(ValueError):
    """A zoo was trained on data of the family being evaluated."""


def zoo_sources(zoo: str | Path | None) -> list[str]:
    """Every data source a zoo's build used, from its ``zoo.json``.

    The kept PTMs' ``source`` (key ``ptms``) and the build's sub-datasets
    (``info.sources``: PTM training, extractor sub-series and transferability windows,
    including those of members later pruned), and the router's training groups
    (``router.info.groups``). An unreadable manifest raises
    :class:`LeakageError` (the guard fails closed).
    """
    from benchmarks.harness.baselines import zoo_folder

    path = zoo_folder(zoo) / "zoo.json"
    try:
        manifest = json.loads(path.read_text())
        out = [str(p.get("source", "")) for p in manifest.get("ptms", [])]
        subs = (manifest.get("info") or {}).get("sources") or {}
        out += [str(v.get("source", k)) if isinstance(v, dict) else str(k)
                for k, v in subs.items()]
        groups = ((manifest.get("router") or {}).get("info") or {}).get("groups") or {}
        out += [str(g).split("@")[0] for g in groups if not str(g).startswith("synthetic_")]
    except (OSError, ValueError, AttributeError, ImportError) as exc:
        raise LeakageError(f"cannot read the sources of zoo {zoo or '(default)'} "
                           f"({path}): {exc}") from None
    return sorted({s for s in out if s})


def check_leakage(zoo: str | Path | None, datasets: list[str]) -> None:
    """Refuse a zoo built with a source from an evaluated family (m3_, m4_, tourism_)."""
    sources = zoo_sources(zoo)
    for name in datasets:
        fam = resolve_univariate(name).family + "_"
        bad = sorted({s for s in sources if s.lower().startswith(fam)})
        if bad:
            raise LeakageError(
                f"zoo {zoo or '(default)'} was built with data from {', '.join(bad)}; it "
                f"cannot be evaluated on {name} (same dataset family {fam[:-1]!r}); use a zoo "
                f"without {fam}* sources, e.g. one built from configs/no_competitions.toml"
            )
