"""Scoring of quantile forecasts: WQL, interval coverage and interval width.

Every quantile method of the benchmarks forecasts the grid ``QUANTILES`` (0.025, 0.1,
0.2, ..., 0.9, 0.975): ``[n, H, Q]`` for ``n`` windows. From it:

* **WQL** (weighted quantile loss, as GIFT-Eval / gluonts ``MeanWeightedSumQuantileLoss``
  over ``WQL_QUANTILES`` = 0.1..0.9): for each level ``q``,
  ``2 * sum(pinball_q(y, f_q)) / sum(|y|)`` with the sums over *every* target point of the
  dataset (all series, windows and steps), then the mean over the 9 levels. Pinball loss
  ``pinball_q(y, f) = max(q (y - f), (q - 1)(y - f))``. The factor 2 makes the loss of the
  median equal to the absolute error. This is the "mean absolute target" scaling:
  ``2 * mean(pinball) / mean(|y|)``.

  Computed here in numpy rather than with ``utilsforecast.losses.scaled_crps``:
  utilsforecast divides by ``sum |y|`` *per (series, cutoff) group*, so averaging its
  values gives a mean of per-window ratios, not GIFT-Eval's ratio of dataset sums; and
  the harness needs per-window partial sums to re-score any subset of windows (a
  subsampled method is compared with SeasonalNaive on the same windows). With all
  points in one group the two definitions coincide, and the tests check that
  ``wql`` equals ``scaled_crps`` there.
* **Coverage** of the central 80% and 95% intervals (quantiles 0.1/0.9 and 0.025/0.975):
  the fraction of target points with ``lo <= y <= hi`` (both ends included, as
  ``utilsforecast.losses.coverage``).
* **Width** of the same intervals: per window, the mean of ``hi - lo`` over the horizon
  divided by the window's MASE scale (in-sample seasonal-naive MAE of its context, as
  :func:`benchmarks.harness.realuse.seasonal_naive_scale`), then the mean over windows
  whose scale is positive. Scale-free per series like MASE, so narrow-and-wrong (low
  width, low coverage) and wide-and-safe (high width, high coverage) both show.
* **MSIS** (M4's mean scaled interval score) of the same intervals, which prices width
  and misses in one number: per point ``(hi - lo) + (2 / a)(lo - y)[y < lo] + (2 / a)(y -
  hi)[y > hi]`` with ``a = 1 - level / 100``, averaged over the horizon, divided by the
  same scale, averaged over windows.
* **MASE of the median** (the 0.5 quantile): mean over windows of ``mean|y - q0.5| /
  scale``, the point accuracy of the quantile forecast's centre.

Crossing quantiles are *sorted* along the quantile axis before scoring (the
"rearrangement", which never increases the pinball loss) and counted
(``crossing_points``: target points where the forecast grid was not monotone), so a
method that crosses is visible in the result files rather than refused.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: the grid every quantile method forecasts
QUANTILES: tuple[float, ...] = (0.025, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.975)
#: the levels WQL averages over (GIFT-Eval)
WQL_QUANTILES: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
#: central intervals scored for coverage and width: level -> (lo quantile, hi quantile)
INTERVALS: dict[int, tuple[float, float]] = {80: (0.1, 0.9), 95: (0.025, 0.975)}
#: statsforecast ``level=`` values whose bounds give ``QUANTILES`` (the 0.5 quantile is
#: the mean forecast, the centre of statsforecast's symmetric intervals)
LEVELS: tuple[int, ...] = (20, 40, 60, 80, 95)


def level_bounds(level: float) -> tuple[float, float]:
    """Quantiles of statsforecast's ``lo-L`` / ``hi-L`` bounds: ``(1 - L/100)/2`` and
    ``1 - (1 - L/100)/2`` (level 80 -> 0.1 / 0.9)."""
    if not 0 < level < 100:
        raise ValueError(f"level must be in (0, 100), got {level}")
    a = (1.0 - level / 100.0) / 2.0
    return round(a, 6), round(1.0 - a, 6)


def quantile_index(q: float, quantiles: Sequence[float] = QUANTILES) -> int:
    """Position of quantile ``q`` in ``quantiles`` (ValueError when absent)."""
    for i, v in enumerate(quantiles):
        if abs(v - q) < 1e-9:
            return i
    raise ValueError(f"quantile {q} is not in the grid {tuple(quantiles)}")


def sort_quantiles(pred: np.ndarray, quantiles: Sequence[float] = QUANTILES) -> tuple[np.ndarray, int]:
    """Check a quantile forecast ``[n, H, Q]`` and sort crossing quantiles.

    ``quantiles`` must be strictly increasing and match the last axis. Returns the
    forecast sorted along the quantile axis and the number of target points ``(n, h)``
    where it was not already non-decreasing.
    """
    p = np.asarray(pred, dtype=np.float64)
    qs = np.asarray(quantiles, dtype=np.float64)
    if p.ndim != 3 or p.shape[2] != len(qs):
        raise ValueError(f"quantile forecast must be [n, H, {len(qs)}], got shape {p.shape}")
    if len(qs) > 1 and not (np.diff(qs) > 0).all():
        raise ValueError(f"quantile levels must be strictly increasing, got {tuple(quantiles)}")
    crossing = int((np.diff(p, axis=2) < 0).any(axis=2).sum()) if p.shape[2] > 1 else 0
    return (np.sort(p, axis=2) if crossing else p), crossing


def pinball(y: np.ndarray, f: np.ndarray, q: float) -> np.ndarray:
    """Pinball (quantile) loss ``max(q (y - f), (q - 1)(y - f))`` elementwise."""
    d = np.asarray(y, dtype=np.float64) - np.asarray(f, dtype=np.float64)
    return np.maximum(q * d, (q - 1.0) * d)


def wql(y: np.ndarray, pred: np.ndarray, quantiles: Sequence[float] = QUANTILES,
        levels: Sequence[float] = WQL_QUANTILES) -> float:
    """WQL of a quantile forecast ``pred [..., Q]`` against targets ``y [...]``, pooled
    over all points: ``mean_q 2 sum(pinball_q) / sum|y|`` (NaN when ``sum|y| = 0``)."""
    y = np.asarray(y, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    denom = float(np.abs(y).sum())
    if denom == 0.0:
        return float("nan")
    losses = [2.0 * float(pinball(y, pred[..., quantile_index(q, quantiles)], q).sum()) / denom
              for q in levels]
    return float(np.mean(losses))


def coverage(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """Fraction of points with ``lo <= y <= hi`` (NaN for no point)."""
    y = np.asarray(y, dtype=np.float64)
    inside = (y >= lo) & (y <= hi)
    return float(inside.mean()) if inside.size else float("nan")


@dataclass
class WindowSums:
    """Per-window partial sums of a quantile forecast, so that any subset of windows can
    be scored exactly (all arrays have one entry per window).

    ``pinball``: ``[n, len(WQL_QUANTILES)]`` sum over the horizon of each level's pinball
    loss; ``abs_y``: sum of ``|y|``; ``points``: target points (H); ``inside``: level ->
    points inside the interval; ``width``: level -> mean interval width over the horizon
    divided by ``scale`` (NaN where the scale is not positive); ``crossing``: points where
    the forecast crossed (before sorting); ``interval_score``: level -> scaled interval
    score (MSIS term) per window; ``mase_median``: ``mean|y - q0.5| / scale`` per window
    (NaN where the scale is not positive).
    """

    pinball: np.ndarray
    abs_y: np.ndarray
    points: np.ndarray
    inside: dict[int, np.ndarray]
    width: dict[int, np.ndarray]
    crossing: np.ndarray
    interval_score: dict[int, np.ndarray]
    mase_median: np.ndarray

    @property
    def n(self) -> int:
        return int(len(self.abs_y))


def window_sums(y: np.ndarray, pred: np.ndarray, scale: np.ndarray | None = None,
                quantiles: Sequence[float] = QUANTILES) -> WindowSums:
    """Partial sums of every window: targets ``y [n, H]``, forecast ``pred [n, H, Q]``
    (crossings are sorted and counted), ``scale [n]`` for the widths (None: 1)."""
    y = np.asarray(y, dtype=np.float64)
    n, H = y.shape
    p = np.asarray(pred, dtype=np.float64)
    if p.shape[:2] != (n, H):
        raise ValueError(f"forecast shape {p.shape} does not match targets {y.shape}")
    crossing = (np.diff(p, axis=2) < 0).any(axis=2).sum(axis=1) if p.shape[2] > 1 else np.zeros(n)
    p, _ = sort_quantiles(p, quantiles)
    pin = np.stack([pinball(y, p[..., quantile_index(q, quantiles)], q).sum(axis=1)
                    for q in WQL_QUANTILES], axis=1)
    sc = np.ones(n) if scale is None else np.asarray(scale, dtype=np.float64)
    good = np.isfinite(sc) & (sc > 0)
    inside: dict[int, np.ndarray] = {}
    width: dict[int, np.ndarray] = {}
    iscore: dict[int, np.ndarray] = {}
    for level, (ql, qh) in INTERVALS.items():
        lo = p[..., quantile_index(ql, quantiles)]
        hi = p[..., quantile_index(qh, quantiles)]
        inside[level] = ((y >= lo) & (y <= hi)).sum(axis=1).astype(np.float64)
        w = np.full(n, np.nan)
        w[good] = (hi - lo).mean(axis=1)[good] / sc[good]
        width[level] = w
        a = 1.0 - level / 100.0
        score = (hi - lo) + (2.0 / a) * (np.maximum(lo - y, 0.0) + np.maximum(y - hi, 0.0))
        v = np.full(n, np.nan)
        v[good] = score.mean(axis=1)[good] / sc[good]
        iscore[level] = v
    med = np.full(n, np.nan)
    med[good] = np.abs(y - p[..., quantile_index(0.5, quantiles)]).mean(axis=1)[good] / sc[good]
    return WindowSums(pin, np.abs(y).sum(axis=1), np.full(n, float(H)), inside, width,
                      np.asarray(crossing, dtype=np.float64), iscore, med)


def concat_sums(parts: Sequence[WindowSums]) -> WindowSums:
    """Windows of several ``WindowSums`` one after the other."""
    return WindowSums(
        np.concatenate([p.pinball for p in parts]), np.concatenate([p.abs_y for p in parts]),
        np.concatenate([p.points for p in parts]),
        {lv: np.concatenate([p.inside[lv] for p in parts]) for lv in INTERVALS},
        {lv: np.concatenate([p.width[lv] for p in parts]) for lv in INTERVALS},
        np.concatenate([p.crossing for p in parts]),
        {lv: np.concatenate([p.interval_score[lv] for p in parts]) for lv in INTERVALS},
        np.concatenate([p.mase_median for p in parts]))


def take(s: WindowSums, idx: np.ndarray) -> WindowSums:
    """The windows ``idx`` of ``s``."""
    return WindowSums(s.pinball[idx], s.abs_y[idx], s.points[idx],
                      {lv: v[idx] for lv, v in s.inside.items()},
                      {lv: v[idx] for lv, v in s.width.items()}, s.crossing[idx],
                      {lv: v[idx] for lv, v in s.interval_score.items()}, s.mase_median[idx])


def summarize_sums(s: WindowSums) -> dict[str, float | int | None]:
    """Dataset-level scores of a set of windows: ``wql``, ``coverage_80/95``,
    ``width_80/95``, ``msis_80/95``, ``mase_median``, ``n_points``, ``inside_80/95``
    (counts, for pooling), ``crossing_points``."""
    denom = float(s.abs_y.sum())
    out: dict[str, float | int | None] = {
        "wql": float(np.mean(2.0 * s.pinball.sum(axis=0) / denom)) if denom > 0 and s.n else None,
        "n_points": int(s.points.sum()),
        "crossing_points": int(s.crossing.sum()),
    }
    pts = float(s.points.sum())
    for lv in INTERVALS:
        ins = float(s.inside[lv].sum())
        out[f"inside_{lv}"] = int(ins)
        out[f"coverage_{lv}"] = ins / pts if pts else None
        w = s.width[lv][np.isfinite(s.width[lv])]
        out[f"width_{lv}"] = float(w.mean()) if w.size else None
        v = s.interval_score[lv][np.isfinite(s.interval_score[lv])]
        out[f"msis_{lv}"] = float(v.mean()) if v.size else None
    out["width_windows"] = int(np.isfinite(s.width[80]).sum())
    m = s.mase_median[np.isfinite(s.mase_median)]
    out["mase_median"] = float(m.mean()) if m.size else None
    return out


def geomean(values: Sequence[float | None]) -> float | None:
    """Geometric mean of the positive finite values (None when there are none)."""
    logs = [math.log(v) for v in values if v is not None and math.isfinite(v) and v > 0]
    return math.exp(sum(logs) / len(logs)) if logs else None


def summary(rows: Sequence[dict[str, object]], datasets: Sequence[str]) -> dict[str, dict[str, object]]:
    """Per method (``row["method"]``) over ``datasets``: geo-mean of ``relative_wql``,
    pooled coverage (all scored points of all datasets), mean and minimum of the
    per-dataset coverages, mean of the per-dataset widths."""
    by: dict[str, dict[str, dict[str, object]]] = {}
    for r in rows:
        if r.get("dataset") in datasets:
            by.setdefault(str(r["method"]), {})[str(r["dataset"])] = dict(r)
    out: dict[str, dict[str, object]] = {}
    for label, per in by.items():
        rel = [per[d].get("relative_wql") for d in datasets if d in per]
        entry: dict[str, object] = {
            "geomean_relative_wql": geomean([float(v) for v in rel if isinstance(v, (int, float))]),
            "n_datasets": len(per),
        }
        pts = sum(int(r.get("n_points") or 0) for r in per.values())
        for lv in INTERVALS:
            ins = sum(int(r.get(f"inside_{lv}") or 0) for r in per.values())
            cov = [float(c) for r in per.values() if isinstance(c := r.get(f"coverage_{lv}"), (int, float))]
            wid = [float(w) for r in per.values() if isinstance(w := r.get(f"width_{lv}"), (int, float))]
            entry[f"coverage_{lv}_pooled"] = ins / pts if pts else None
            entry[f"coverage_{lv}_mean"] = float(np.mean(cov)) if cov else None
            entry[f"coverage_{lv}_min"] = min(cov) if cov else None
            entry[f"coverage_{lv}_min_dataset"] = (min(per, key=lambda d: float(per[d].get(f"coverage_{lv}") or 9.0))
                                                   if cov else None)
            entry[f"width_{lv}_mean"] = float(np.mean(wid)) if wid else None
            rel = [float(r[f"msis_{lv}"]) / float(r[f"snaive_msis_{lv}_same_windows"]) for r in per.values()
                   if isinstance(r.get(f"msis_{lv}"), (int, float))
                   and isinstance(r.get(f"snaive_msis_{lv}_same_windows"), (int, float))
                   and float(r[f"snaive_msis_{lv}_same_windows"]) > 0]
            entry[f"geomean_relative_msis_{lv}"] = geomean(rel)
        out[label] = entry
    return out
