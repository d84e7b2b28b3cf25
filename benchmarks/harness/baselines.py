"""Forecasting methods for the benchmarks, all of the form ``f(x [n, L], horizon) -> [n, H]``.

* ``Last``, ``Mean``, ``SeasonalNaive`` — naive rules on the look-back window.
* ``StatsForecastMethod`` — statsforecast's AutoETS / AutoTheta / AutoARIMA fitted on each
  window separately (numpy API, ``Model(season_length=m).forecast(y=, h=)``); a failed or
  non-finite fit falls back to ``Last`` and is counted in ``stats["fallbacks"]``.
* ``InTaskDeep`` — the paper's in-task DLinear / PatchTST baselines: one model per dataset
  and horizon, trained on the protocol's 50-step training budget (see its docstring).
* ``SeqFusionMethod`` — the zero-shot forecaster over a zoo, with pass-through options.

Methods whose forecast to ``H`` equals the first ``H`` steps of a longer forecast set
``horizon_invariant = True`` so the harness forecasts once to the longest horizon.
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness.protocol import MultivariateData


class Method:
    """Base class: a named callable ``(x [n, L], horizon) -> [n, horizon]`` with counters."""

    name: str = "method"
    horizon_invariant: bool = False

    def __init__(self) -> None:
        self.stats: dict[str, Any] = {}

    def options(self) -> dict[str, Any]:
        """Settings that change the forecasts (part of the result cache key)."""
        return {}

    def __call__(self, x: np.ndarray, horizon: int) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


def _as_windows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 1:
        raise ValueError(f"windows must be [n, L] with L >= 1, got shape {x.shape}")
    return x


class Last(Method):
    """Repeat the last input value."""

    name = "Last"
    horizon_invariant = True

    def __call__(self, x: np.ndarray, horizon: int) -> np.ndarray:
        x = _as_windows(x)
        return np.repeat(x[:, -1:], horizon, axis=1)


class Mean(Method):
    """Repeat the mean of the input window."""

    name = "Mean"
    horizon_invariant = True

    def __call__(self, x: np.ndarray, horizon: int) -> np.ndarray:
        x = _as_windows(x)
        return np.repeat(x.mean(axis=1, keepdims=True), horizon, axis=1)


class SeasonalNaive(Method):
    """Repeat the last ``period`` input values (``Last`` when the window is shorter)."""

    horizon_invariant = True

    def __init__(self, period: int = 7) -> None:
        super().__init__()
        if period < 1:
            raise ValueError("period must be >= 1")
        self.period = int(period)
        self.name = "SeasonalNaive" if period != 1 else "SeasonalNaive(1)"

    def options(self) -> dict[str, Any]:
        return {"period": self.period}

    def __call__(self, x: np.ndarray, horizon: int) -> np.ndarray:
        x = _as_windows(x)
        p = self.period if self.period <= x.shape[1] else 1
        reps = -(-horizon // p)
        return np.tile(x[:, -p:], (1, reps))[:, :horizon]


def season_length_for(season: int, lookback: int) -> int:
    """Season for a model fitted on ``lookback`` points: 1 if two seasons do not fit."""
    return 1 if season < 2 or 2 * season > lookback else int(season)


STATS_MODELS = ("AutoETS", "AutoTheta", "AutoARIMA")


def statsforecast_model(name: str, error: type[Exception] = RuntimeError) -> Any:
    """statsforecast's model class ``name`` (``AutoETS`` ...); ``error`` with an install
    hint when statsforecast is missing."""
    try:
        import statsforecast.models as sfm
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise error(f"{name} needs statsforecast (pip install 'seqfusion[baselines]')") from exc
    return getattr(sfm, name)


class StatsForecastMethod(Method):
    """A statsforecast model fitted on each window; falls back to ``Last`` on failure.

    ``season``: the data's natural season; the fitted ``season_length`` is
    ``season_length_for(season, L)`` (non-seasonal where two seasons do not fit).
    ``stats``: ``fits``, ``fallbacks`` (failed or non-finite fits), ``season_length``.
    """

    horizon_invariant = True

    def __init__(self, model: str, season: int = 1, progress: Any = None) -> None:
        super().__init__()
        if model not in STATS_MODELS:
            raise ValueError(f"unknown statsforecast model {model!r}; known: {STATS_MODELS}")
        self.model = model
        self.name = model
        self.season = int(season)
        self.progress = progress
        self.stats = {"fits": 0, "fallbacks": 0, "season_length": None}
        self._cls: Any = None

    def options(self) -> dict[str, Any]:
        return {"model": self.model, "season": self.season}

    def _model_class(self) -> Any:
        if self._cls is None:
            self._cls = statsforecast_model(self.model)
        return self._cls

    def fit_one(self, y: np.ndarray, horizon: int, season_length: int) -> np.ndarray | None:
        """Forecast one series ``y [L]``; None when the fit fails or is non-finite."""
        cls = self._model_class()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with np.errstate(all="ignore"):
                    out = cls(season_length=season_length).forecast(y=y, h=horizon)
            pred = np.asarray(out["mean"], dtype=np.float64).reshape(-1)
        except Exception:  # noqa: BLE001 - any numerical failure means "fall back"
            return None
        if pred.shape != (horizon,) or not np.isfinite(pred).all():
            return None
        return pred

    def __call__(self, x: np.ndarray, horizon: int) -> np.ndarray:
        x = _as_windows(x)
        m = season_length_for(self.season, x.shape[1])
        self.stats["season_length"] = m
        out = np.empty((len(x), horizon), dtype=np.float64)
        for i, y in enumerate(x):
            pred = self.fit_one(y, horizon, m)
            self.stats["fits"] += 1
            if pred is None:
                self.stats["fallbacks"] += 1
                pred = np.full(horizon, y[-1])
            out[i] = pred
            if self.progress is not None:
                self.progress(1)
        return out


# ------------------------------------------------------------------ in-task deep models

TRAIN_BUDGET = 50


def in_task_rows(data: MultivariateData, budget: int = TRAIN_BUDGET) -> tuple[int, int]:
    """Row range ``[start, stop)`` of the scaled series used to train in-task baselines.

    As ForecastPFN's loader with ``train_budget`` (used for the paper's in-task rows):
    ``start = max(0, n_train - L - budget)``, ``stop = n_train`` — the last ``budget``
    target steps of the training split plus the ``L`` look-back rows before them.
    """
    return max(0, data.n_train - data.lookback - budget), data.n_train


def in_task_windows(
    data: MultivariateData, horizon: int, budget: int = TRAIN_BUDGET
) -> tuple[np.ndarray, np.ndarray]:
    """Training pairs for one horizon, all variates pooled: ``x [m*C, L]``, ``y [m*C, H]``
    with ``m = stop - start - L - H + 1`` windows per variate (3 for H=48, 45 for H=6)."""
    start, stop = in_task_rows(data, budget)
    part = data.values[start:stop]
    L = data.lookback
    m = len(part) - L - horizon + 1
    if m < 1:
        raise ValueError(f"{data.name}: the training budget has no window for horizon {horizon}")
    view = np.lib.stride_tricks.sliding_window_view(part, L + horizon, axis=0)[:m]
    pairs = np.ascontiguousarray(view).reshape(-1, L + horizon)
    return pairs[:, :L], pairs[:, L:]


class InTaskDeep(Method):
    """DLinear / PatchTST trained per (dataset, horizon) on ``in_task_windows``.

    Direct multi-step: one model per horizon, all variates pooled as univariate rows,
    trained with ``seqfusion.training.training.train_ptm`` (per-window normalization, MSE, Adam)
    for ``epochs`` epochs (at least ``min_steps`` optimizer steps, since the budget holds
    as few as 3 windows per variate), no early stopping, seeded. Forecasting a horizon
    for the first time trains its model; ``stats["train"]`` keeps each model's metadata.
    """

    horizon_invariant = False

    def __init__(
        self,
        architecture: str,
        data: MultivariateData,
        epochs: int = 10,
        lr: float = 1e-3,
        batch_size: int = 32,
        min_steps: int = 100,
        seed: int = 0,
        budget: int = TRAIN_BUDGET,
        model_config: dict[str, Any] | None = None,
        progress: bool = False,
    ) -> None:
        super().__init__()
        if architecture not in ("dlinear", "patchtst"):
            raise ValueError(f"in-task architecture must be dlinear or patchtst, got {architecture!r}")
        self.architecture = architecture
        self.name = {"dlinear": "DLinear", "patchtst": "PatchTST"}[architecture]
        self.data = data
        self.epochs, self.lr, self.batch_size = epochs, lr, batch_size
        self.min_steps, self.seed, self.budget = min_steps, seed, budget
        self.model_config = dict(model_config or {})
        self.progress = progress
        self.models: dict[int, Any] = {}
        self.stats = {"train": {}}

    def options(self) -> dict[str, Any]:
        return {
            "architecture": self.architecture, "epochs": self.epochs, "lr": self.lr,
            "batch_size": self.batch_size, "min_steps": self.min_steps, "seed": self.seed,
            "budget": self.budget, "model_config": self.model_config,
        }

    def model_for(self, horizon: int) -> Any:
        """The trained model of ``horizon`` (trained on first use)."""
        if horizon not in self.models:
            from seqfusion.training.training import TrainConfig, train_ptm

            x, y = in_task_windows(self.data, horizon, self.budget)
            steps_per_epoch = math.ceil(len(x) / self.batch_size)
            epochs = max(self.epochs, math.ceil(self.min_steps / steps_per_epoch))
            cfg = TrainConfig(epochs=epochs, lr=self.lr, batch_size=self.batch_size, seed=self.seed)
            model, meta = train_ptm(
                x, y, self.architecture, {"input_length": x.shape[1], "horizon": horizon,
                                          **self.model_config},
                cfg, progress=self.progress, desc=f"{self.name} H={horizon}",
            )
            self.models[horizon] = model
            self.stats["train"][str(horizon)] = meta
        return self.models[horizon]

    def __call__(self, x: np.ndarray, horizon: int) -> np.ndarray:
        import torch

        x = _as_windows(x)
        model = self.model_for(horizon)
        out = np.empty((len(x), horizon), dtype=np.float64)
        with torch.no_grad():
            for i in range(0, len(x), 8192):
                xb = torch.as_tensor(x[i : i + 8192], dtype=torch.float32)
                out[i : i + 8192] = model(xb).numpy()
        return out


# ------------------------------------------------------------------ SeqFusion

class SeqFusionMethod(Method):
    """``SeqFusion.from_pretrained(zoo).predict_windows(x, H, k=k, **options)``.

    ``zoo``: a zoo folder or None (the shipped default zoo). ``options`` are passed
    through (e.g. ``fusion``, ``normalization`` for ablations). Not horizon-invariant by
    default (normalization may depend on H); pass ``horizon_invariant=True`` to forecast
    once to the longest horizon.
    """

    def __init__(
        self,
        zoo: str | Path | None = None,
        k: int = 3,
        options: dict[str, Any] | None = None,
        horizon_invariant: bool = False,
        label: str | None = None,
    ) -> None:
        super().__init__()
        self.zoo = None if zoo is None else str(zoo)
        self.k = int(k)
        self.extra = dict(options or {})
        self.horizon_invariant = horizon_invariant
        self.name = label or f"SeqFusion (k={self.k})"
        self._model: Any = None

    def options(self) -> dict[str, Any]:
        return {"zoo": self.zoo, "k": self.k, "options": self.extra,
                "horizon_invariant": self.horizon_invariant}

    @property
    def model(self) -> Any:
        if self._model is None:
            from seqfusion import SeqFusion

            self._model = SeqFusion.from_pretrained(self.zoo)
        return self._model

    def __call__(self, x: np.ndarray, horizon: int) -> np.ndarray:
        x = _as_windows(x)
        return np.asarray(self.model.predict_windows(x, horizon, k=self.k, **self.extra),
                          dtype=np.float64)


class SeqFusionHistoryMethod(SeqFusionMethod):
    """``SeqFusion.from_pretrained(zoo).predict_histories(contexts, H, k=k, **options)``:
    whole histories of any lengths (a list of 1-D arrays) -> ``[n, H]``."""

    def options(self) -> dict[str, Any]:
        return {**super().options(), "whole_history": True, "code": source_digest()}

    def __call__(self, contexts: Any, horizon: int) -> np.ndarray:
        return np.asarray(self.model.predict_histories(list(contexts), horizon, k=self.k, **self.extra),
                          dtype=np.float64)


def source_digest() -> str:
    """A short hash of the forecaster's code: whole history, quantiles, engine and
    preprocessing (cache keys of SeqFusion's forecasts change when that code does)."""
    import hashlib

    from seqfusion import engine, forecaster, history, preprocess, quantiles

    digest = hashlib.sha256()
    engine_files = sorted(Path(str(engine.__file__)).parent.glob("*.py"))  # a package: every module
    for file in [*(Path(str(m.__file__)) for m in (forecaster, history, quantiles)), *engine_files,
                 Path(str(preprocess.__file__))]:
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def zoo_folder(zoo: str | Path | None) -> Path:
    """The folder of a zoo (``None``: the shipped default zoo)."""
    if zoo is not None:
        return Path(zoo)
    from seqfusion.zoo import DEFAULT_ZOO

    return Path(DEFAULT_ZOO)


def zoo_fingerprint(zoo: str | Path | None) -> str:
    """A short hash of the zoo's manifest (for cache keys); "missing" when absent."""
    import hashlib

    try:
        manifest = zoo_folder(zoo) / "zoo.json"
        return hashlib.sha256(manifest.read_bytes()).hexdigest()[:16]
    except (OSError, ImportError):
        return "missing"


# ------------------------------------------------------------------ registry

NAIVE = ("last", "mean", "snaive")
CLASSICAL = ("autoets", "autotheta", "autoarima")
DEEP = ("dlinear", "patchtst")
ALL_METHODS = NAIVE + CLASSICAL + DEEP + ("seqfusion",)
SLOW_METHODS = ("autoarima",)


def make_method(
    key: str,
    data: MultivariateData | None = None,
    season: int = 7,
    snaive_period: int | None = None,
    zoo: str | Path | None = None,
    k: int = 3,
    seqfusion_options: dict[str, Any] | None = None,
    deep_options: dict[str, Any] | None = None,
    freq: str | None = None,
) -> Method:
    """Build a method by its CLI key (see ``ALL_METHODS``).

    ``season``: the data's natural season (statsforecast season, reduced by
    ``season_length_for``); ``snaive_period``: the SeasonalNaive period (default
    ``season``). ``data`` is needed by the in-task deep methods. ``freq``: the data's
    sampling frequency, passed to SeqFusion (its router may use it).
    """
    key = key.lower()
    if key == "last":
        return Last()
    if key == "mean":
        return Mean()
    if key == "snaive":
        return SeasonalNaive(snaive_period or season)
    if key in CLASSICAL:
        return StatsForecastMethod({"autoets": "AutoETS", "autotheta": "AutoTheta",
                                    "autoarima": "AutoARIMA"}[key], season)
    if key in DEEP:
        if data is None:
            raise ValueError(f"{key} needs the dataset to train on")
        return InTaskDeep(key, data, **(deep_options or {}))
    if key == "seqfusion":
        opts = dict(seqfusion_options or {})
        hi = bool(opts.pop("horizon_invariant", False))
        if freq is not None:
            opts.setdefault("freq", freq)
        return SeqFusionMethod(zoo, k, opts, horizon_invariant=hi)
    raise ValueError(f"unknown method {key!r}; known: {', '.join(ALL_METHODS)}")
