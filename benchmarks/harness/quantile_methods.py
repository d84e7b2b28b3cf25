"""Quantile forecasting methods for the benchmarks: ``f(contexts, H) -> [n, H, Q]``.

``contexts`` is a list of 1-D histories (any lengths) or an ``[n, L]`` array; the result
holds the quantiles ``QUANTILES`` of :mod:`benchmarks.harness.quantiles` on its last
axis (0.025, 0.1, ..., 0.9, 0.975).

* :class:`SeasonalNaiveQuantiles` — the reference. ``kind="normal"`` (the default and the
  reference of every ratio): the standard seasonal-naive interval formula, as
  statsforecast's ``SeasonalNaive(level=...)`` and Hyndman & Athanasopoulos (FPP3, 5.5)
  compute it: point forecast = the last season repeated; ``sigma = sqrt(sum(e^2) / (L - m))``
  over the in-sample seasonal-naive errors ``e_t = y_t - y_{t-m}`` of the whole context;
  step ``h`` (0-based) gets ``sigma * sqrt(floor(h / m) + 1)`` and quantile ``q`` is
  ``point + z_q * sigma_h`` (``z_q`` the standard normal quantile). ``kind="empirical"``:
  ``point + Q_q(e) * sqrt(floor(h / m) + 1)`` with ``Q_q(e)`` the empirical quantile
  (linear interpolation) of the same, uncentred errors. Season ``m``: the data's season
  when the context has more than ``m`` points, else 1 (the point SeasonalNaive repeats
  the last ``m`` values whenever ``m <= L``; with ``L == m`` the errors use season 1).
* :class:`StatsForecastQuantiles` — statsforecast AutoETS / AutoTheta with
  ``level=LEVELS`` (20, 40, 60, 80, 95 give the quantiles 0.4/0.6 ... 0.025/0.975; the
  0.5 quantile is the mean forecast), fitted per context on its last ``cap`` points; or
  any of them (and SeasonalNaive) with statsforecast's conformal intervals
  (``ConformalIntervals(h=H, n_windows=w)``). A failed or non-finite fit, or a context
  too short for the conformal windows, falls back to ``SeasonalNaiveQuantiles`` on that
  context and is counted in ``stats["fallbacks"]``.
* :class:`SeqFusionQuantiles` — ``SeqFusion.predict_histories(histories, H, freq=...,
  quantiles=QUANTILES)`` (issue 12's contract); raises :class:`MethodUnavailable` when the
  installed forecaster has no ``predict_histories`` yet.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from benchmarks.harness.baselines import season_length_for, source_digest, statsforecast_model
from benchmarks.harness.quantiles import LEVELS, QUANTILES, level_bounds


class MethodUnavailable(RuntimeError):
    """The method cannot run in this installation (the harness skips it with the message)."""


def _as_contexts(contexts: Sequence[np.ndarray] | np.ndarray) -> list[np.ndarray]:
    if isinstance(contexts, np.ndarray) and contexts.ndim == 2:
        return [np.asarray(r, dtype=np.float64) for r in contexts]
    out = [np.asarray(c, dtype=np.float64).reshape(-1) for c in contexts]
    if any(len(c) < 1 for c in out):
        raise ValueError("empty context")
    return out


class QuantileMethod:
    """Base class: named callable ``(contexts, H) -> [n, H, len(QUANTILES)]`` with counters."""

    name: str = "quantile method"
    horizon_invariant: bool = False

    def __init__(self) -> None:
        self.stats: dict[str, Any] = {"fits": 0, "fallbacks": 0}

    def options(self) -> dict[str, Any]:
        """Settings that change the forecasts (part of the cache key)."""
        return {}

    def usable(self, length: int, horizon: int) -> bool:
        """Whether a context of ``length`` points can be forecast without falling back."""
        return True

    def __call__(self, contexts: Sequence[np.ndarray] | np.ndarray, horizon: int) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover


class SeasonalNaiveQuantiles(QuantileMethod):
    """Seasonal naive with quantiles from its in-sample errors (see the module docstring)."""

    horizon_invariant = True

    def __init__(self, season: int, kind: str = "normal") -> None:
        super().__init__()
        if season < 1:
            raise ValueError("season must be >= 1")
        if kind not in ("normal", "empirical"):
            raise ValueError(f"kind must be 'normal' or 'empirical', got {kind!r}")
        self.season = int(season)
        self.kind = kind
        self.name = ("SeasonalNaive (residual sigma, normal)" if kind == "normal"
                     else "SeasonalNaive (empirical residual quantiles)")
        self._z = np.array([NormalDist().inv_cdf(q) for q in QUANTILES])

    def options(self) -> dict[str, Any]:
        return {"season": self.season, "kind": self.kind}

    def block(self, x: np.ndarray, horizon: int) -> np.ndarray:
        """Quantiles ``[n, H, Q]`` of equal-length contexts ``x [n, L]``."""
        x = np.asarray(x, dtype=np.float64)
        n, L = x.shape
        p = self.season if self.season <= L else 1
        reps = -(-horizon // p)
        point = np.tile(x[:, -p:], (1, reps))[:, :horizon]  # [n, H]
        mr = p if L > p else 1
        k = np.floor(np.arange(horizon) / p)
        widen = np.sqrt(k + 1.0)  # [H]
        if L <= mr:  # a single point: no error to learn from
            return np.repeat(point[:, :, None], len(QUANTILES), axis=2)
        err = x[:, mr:] - x[:, :-mr]  # [n, L - mr]
        if self.kind == "normal":
            sigma = np.sqrt((err ** 2).sum(axis=1) / (L - mr))  # [n]
            return point[:, :, None] + sigma[:, None, None] * widen[None, :, None] * self._z[None, None, :]
        qe = np.quantile(err, QUANTILES, axis=1).T  # [n, Q]
        return point[:, :, None] + qe[:, None, :] * widen[None, :, None]

    def __call__(self, contexts: Sequence[np.ndarray] | np.ndarray, horizon: int) -> np.ndarray:
        ctx = _as_contexts(contexts)
        out = np.empty((len(ctx), horizon, len(QUANTILES)))
        lengths = np.array([len(c) for c in ctx], dtype=np.int64)
        for length in np.unique(lengths):
            rows = np.flatnonzero(lengths == length)
            out[rows] = self.block(np.stack([ctx[i] for i in rows]), horizon)
        self.stats["fits"] += len(ctx)
        return out


def levels_to_grid(res: dict[str, Any], horizon: int) -> np.ndarray:
    """statsforecast's ``{"mean", "lo-L", "hi-L"}`` for ``L`` in ``LEVELS`` -> ``[H, Q]``
    on the ``QUANTILES`` grid (``lo-L`` is quantile ``(1 - L/100)/2``, ``hi-L`` its mirror,
    ``mean`` the 0.5 quantile)."""
    cols: dict[float, np.ndarray] = {0.5: np.asarray(res["mean"], dtype=np.float64).reshape(-1)}
    for lv in LEVELS:
        lo_q, hi_q = level_bounds(lv)
        cols[lo_q] = np.asarray(res[f"lo-{lv}"], dtype=np.float64).reshape(-1)
        cols[hi_q] = np.asarray(res[f"hi-{lv}"], dtype=np.float64).reshape(-1)
    missing = [q for q in QUANTILES if not any(abs(q - c) < 1e-9 for c in cols)]
    if missing:
        raise ValueError(f"levels {LEVELS} do not give the quantiles {missing}")
    grid = np.stack([next(v for c, v in cols.items() if abs(c - q) < 1e-9) for q in QUANTILES], axis=1)
    if grid.shape != (horizon, len(QUANTILES)):
        raise ValueError(f"statsforecast returned {grid.shape}, expected {(horizon, len(QUANTILES))}")
    return grid


STATS_QUANTILE_MODELS = ("AutoETS", "AutoTheta", "SeasonalNaive")


class StatsForecastQuantiles(QuantileMethod):
    """statsforecast prediction intervals per context as quantiles (module docstring).

    ``model``: AutoETS, AutoTheta or SeasonalNaive; ``season``: the data's season (fitted
    ``season_length = season_length_for(season, L)``: none where two seasons do not fit);
    ``cap``: the last ``cap`` points of each context are used (None: all);
    ``conformal_windows``: use ``ConformalIntervals(h=H, n_windows=w)`` with ``w`` at most
    this many windows, reduced so that the first conformal training part keeps at least
    ``max(season_length, 2)`` points (a context with fewer than 2 such windows falls back).
    ``stats``: ``fits``, ``fallbacks``, ``conformal_windows_used`` (min / max seen).
    """

    horizon_invariant = True

    def __init__(self, model: str, season: int = 1, cap: int | None = None,
                 conformal_windows: int | None = None) -> None:
        super().__init__()
        if model not in STATS_QUANTILE_MODELS:
            raise ValueError(f"unknown model {model!r}; known: {STATS_QUANTILE_MODELS}")
        if model == "SeasonalNaive" and conformal_windows is None:
            raise ValueError("SeasonalNaive's own intervals are SeasonalNaiveQuantiles")
        self.model = model
        self.season = int(season)
        self.cap = cap
        self.conformal_windows = conformal_windows
        self.horizon_invariant = conformal_windows is None
        self.name = (f"{model} + conformal ({conformal_windows} windows)" if conformal_windows
                     else f"{model} (level intervals)")
        self.fallback = SeasonalNaiveQuantiles(season)
        self.stats.update({"season_length": None, "conformal_windows_min": None,
                           "conformal_windows_max": None, "capped": 0})
        self._cls: Any = None

    def options(self) -> dict[str, Any]:
        return {"model": self.model, "season": self.season, "cap": self.cap,
                "conformal_windows": self.conformal_windows, "levels": list(LEVELS)}

    def _model_class(self) -> Any:
        if self._cls is None:
            self._cls = statsforecast_model(self.model, MethodUnavailable)
        return self._cls

    def _windows(self, length: int, horizon: int, m: int) -> int:
        assert self.conformal_windows is not None
        return min(self.conformal_windows, (length - max(m, 2)) // horizon)

    def usable(self, length: int, horizon: int) -> bool:
        if self.conformal_windows is None:
            return True
        c = min(length, self.cap) if self.cap is not None else length
        return self._windows(c, horizon, season_length_for(self.season, c)) >= 2

    def fit_one(self, y: np.ndarray, horizon: int) -> np.ndarray | None:
        """Quantiles ``[H, Q]`` of one context, None when the fit fails or is not finite."""
        cls = self._model_class()
        m = season_length_for(self.season, len(y))
        kwargs: dict[str, Any] = {"season_length": m}
        if self.conformal_windows is not None:
            from statsforecast.utils import ConformalIntervals

            w = self._windows(len(y), horizon, m)
            if w < 2:
                return None
            lo, hi = self.stats["conformal_windows_min"], self.stats["conformal_windows_max"]
            self.stats["conformal_windows_min"] = w if lo is None else min(lo, w)
            self.stats["conformal_windows_max"] = w if hi is None else max(hi, w)
            kwargs["prediction_intervals"] = ConformalIntervals(h=horizon, n_windows=w)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with np.errstate(all="ignore"):
                    res = cls(**kwargs).forecast(y=y, h=horizon, level=list(LEVELS))
            grid = levels_to_grid(res, horizon)
        except Exception:  # noqa: BLE001 - any numerical failure means "fall back"
            return None
        self.stats["season_length"] = m
        return grid if np.isfinite(grid).all() else None

    def __call__(self, contexts: Sequence[np.ndarray] | np.ndarray, horizon: int) -> np.ndarray:
        ctx = _as_contexts(contexts)
        out = np.empty((len(ctx), horizon, len(QUANTILES)))
        for i, c in enumerate(ctx):
            if self.cap is not None and len(c) > self.cap:
                c = c[-self.cap:]
                self.stats["capped"] += 1
            grid = self.fit_one(c, horizon)
            self.stats["fits"] += 1
            if grid is None:
                self.stats["fallbacks"] += 1
                grid = self.fallback.block(c[None, :], horizon)[0]
            out[i] = grid
        return out


class SeqFusionQuantiles(QuantileMethod):
    """``SeqFusion.from_pretrained(zoo).predict_histories(histories, H, freq=freq,
    quantiles=QUANTILES)`` (issue 12's contract, ``[n, H, Q]``).

    Histories shorter than ``min_points`` are left-padded with their first value (as the
    point rows of the whole-history benchmark do; counted in ``stats["padded"]``).
    """

    def __init__(self, zoo: str | Path | None = None, freq: str | None = None,
                 min_points: int = 8, label: str | None = None) -> None:
        super().__init__()
        self.zoo = None if zoo is None else str(zoo)
        self.freq = freq
        self.min_points = int(min_points)
        self.name = label or "SeqFusion (predict_histories quantiles)"
        self.stats["padded"] = 0
        self._model: Any = None

    def options(self) -> dict[str, Any]:
        return {"zoo": self.zoo, "freq": self.freq, "min_points": self.min_points,
                "quantiles": list(QUANTILES), "code": source_digest()}

    @staticmethod
    def available() -> bool:
        """Whether the installed forecaster has ``predict_histories``."""
        from seqfusion.forecaster import SeqFusion

        return callable(getattr(SeqFusion, "predict_histories", None))

    @property
    def model(self) -> Any:
        if self._model is None:
            if not self.available():
                raise MethodUnavailable("SeqFusion.predict_histories does not exist in this checkout yet "
                                        "(issue 12's forecaster side); SeqFusion quantile rows skipped")
            from seqfusion.forecaster import SeqFusion

            self._model = SeqFusion.from_pretrained(self.zoo)
        return self._model

    def __call__(self, contexts: Sequence[np.ndarray] | np.ndarray, horizon: int) -> np.ndarray:
        ctx = _as_contexts(contexts)
        hist = []
        for c in ctx:
            if len(c) < self.min_points:
                c = np.concatenate([np.full(self.min_points - len(c), c[0]), c])
                self.stats["padded"] += 1
            hist.append(c)
        out = np.asarray(self.model.predict_histories(hist, horizon, freq=self.freq,
                                                      quantiles=list(QUANTILES)), dtype=np.float64)
        if out.shape != (len(ctx), horizon, len(QUANTILES)):
            raise ValueError(f"predict_histories returned {out.shape}, expected "
                             f"{(len(ctx), horizon, len(QUANTILES))}")
        self.stats["fits"] += len(ctx)
        return out
