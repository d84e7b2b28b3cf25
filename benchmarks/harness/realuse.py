"""Whole-history benchmark ("realuse"): forecast from every point before the origin.

The other protocols hand every method a fixed look-back window (36 points, or the
paper's per-dataset L). Here each method gets the *whole* history of a series before the
forecast origin, as a forecaster in real use would; a method may cap it (where, is said
below and in the result files).

Protocol
--------
* Context: every point of the series before the origin. Caps, per method:
  SeqFusion's default uses the whole history (:mod:`seqfusion.history`; its zoo sees the
  last 36 points), its zoo alone (``seqfusion_last``) and its paper design keep the last 36
  points (their input length); a history
  shorter than its ``min_length`` of 8 points is left-padded here with its first value;
  AutoETS and AutoTheta see the last ``STATS_CAP`` (500)
  points and AutoARIMA the last ``ARIMA_CAP`` (150) points, because statsforecast's fits
  on many thousands of points take minutes each. Naive and SeasonalNaive need only the
  last ``season`` points.
* Horizon by frequency (``HORIZON_BY_FREQ``): yearly 6, quarterly 8, monthly 18, weekly
  13, daily 14, hourly / half-hourly / sub-hourly 48; competition data (M3, M4, Tourism)
  use the competition's own horizon.
* Origins: competition data (M3, M4, Tourism): the competition's test window, i.e.
  origin ``n - H`` for a series of ``n`` values. Other data: the last ``N_ORIGINS`` (5)
  windows, ``H`` apart, ending at the end of each series: origins ``n - k H``,
  ``k = 1..5``. Validation split (``split="validation"``), whose targets all lie before
  the test origins: the 5 windows before the test windows (``k = 6..10``), and for
  competition data the last ``H`` points of the training part (origin ``n - 2H``).
  Windows whose context would have fewer than ``MIN_CONTEXT`` points are dropped (counted).
* Metrics per dataset: MASE, the mean over windows of ``MAE / scale`` where ``scale`` is
  the in-sample seasonal-naive MAE of that window's context with the season of its
  frequency (``SEASON_BY_FREQ``: 1, 4, 12, 52, 7, 24, 48; 1 for M3 "other"); contexts with
  at most ``season`` points use season 1, and windows whose scale is 0 (a constant
  context) are left out of MASE for every method (both counted). Competition data also
  get the competition's metric over all forecast points: SMAPE (M3, M4; ``200 |y-f| /
  (|y|+|f|)``) or MAPE (Tourism; ``100 |y-f| / |y|``, points with ``y = 0`` skipped).
  MASE, SMAPE and MAPE come from ``utilsforecast.losses``.
* Summary: geometric mean over datasets of (method MASE / SeasonalNaive MASE), both on
  the same windows (a subsampled method is compared with SeasonalNaive on its subsample).

* Quantile forecasts (``python -m benchmarks.harness realuse --quantiles``,
  :mod:`benchmarks.harness.quantile_runs`): the same windows, caps and subsamples, scored
  by WQL (GIFT-Eval's weighted quantile loss over 0.1..0.9), coverage of the 80% / 95%
  intervals and their width (:mod:`benchmarks.harness.quantiles`); geometric mean over
  datasets of WQL / WQL of SeasonalNaive with residual quantiles. Results in
  ``realuse_quantiles[_validation].{md,json}``, next to the point results.

Methods are ``f(contexts: list[1-D array], H) -> [n, H]``; :class:`RaggedMethod` adapts
the fixed-window baselines of :mod:`benchmarks.harness.baselines` by grouping contexts of
equal length (so each call gets an exact ``[n, L]`` of real history, never padding).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seqfusion.training.data.paths import data_root

# ------------------------------------------------------------------ protocol constants

HORIZON_BY_FREQ: dict[str, int] = {
    "yearly": 6, "quarterly": 8, "monthly": 18, "weekly": 13, "daily": 14,
    "hourly": 48, "half-hourly": 48, "subhourly": 48,
}
SEASON_BY_FREQ: dict[str, int] = {
    "yearly": 1, "quarterly": 4, "monthly": 12, "weekly": 52, "daily": 7,
    "hourly": 24, "half-hourly": 48,
}
N_ORIGINS = 5
MIN_CONTEXT = 3
SPLITS = ("test", "validation")
STATS_CAP = 500
ARIMA_CAP = 150
ARIMA_MAX_SEASON = 24
SEQFUSION_MIN_POINTS = 8
PAPER_DESIGN = {"fusion": "mean", "k": 16}


def horizon_for(frequency: str) -> int:
    """Forecast horizon of a frequency class (``yearly`` ... ``subhourly``)."""
    try:
        return HORIZON_BY_FREQ[frequency]
    except KeyError:
        raise ValueError(f"unknown frequency {frequency!r}; known: {', '.join(HORIZON_BY_FREQ)}") from None


def season_for(frequency: str, step_minutes: int | None = None) -> int:
    """MASE season of a frequency class; sub-hourly data: steps per day (needs the step)."""
    if frequency == "subhourly":
        if not step_minutes or 1440 % step_minutes:
            raise ValueError("sub-hourly data need a step in minutes that divides a day")
        return 1440 // step_minutes
    try:
        return SEASON_BY_FREQ[frequency]
    except KeyError:
        raise ValueError(f"unknown frequency {frequency!r}; known: {', '.join(SEASON_BY_FREQ)}") from None


# ------------------------------------------------------------------ datasets


@dataclass(frozen=True)
class RealuseSpec:
    """One dataset of the protocol.

    ``reader``: ``frame`` (a benchmark CSV with a ``date`` column, every other column a
    series), ``m3`` / ``tsf`` / ``m4`` (competition files, full series) or ``columns``
    (:func:`seqfusion.training.data.readers.read_csv_columns` with ``columns``). ``frequency``: the
    class (sets H and the MASE season unless ``horizon``/``season`` are given); ``freq``:
    the pandas alias given to SeqFusion (None: not stated). ``metric``: the competition's
    metric. ``leak``: source-name prefixes a zoo must not have used for the dataset to be
    zero-shot for it. ``group``: ``targets``, ``competitions`` or ``other``.
    """

    name: str
    path: str
    reader: str
    frequency: str
    freq: str | None
    group: str
    horizon_override: int | None = None
    season_override: int | None = None
    metric: str | None = None
    leak: tuple[str, ...] = ()
    columns: tuple[str, ...] | None = None
    note: str = ""

    @property
    def competition(self) -> bool:
        return self.group == "competitions"

    @property
    def horizon(self) -> int:
        return self.horizon_override or horizon_for(self.frequency)

    @property
    def season(self) -> int:
        return self.season_override or season_for(self.frequency)


def _target(name: str, filename: str, frequency: str = "daily", freq: str = "D",
            note: str = "") -> RealuseSpec:
    return RealuseSpec(name, f"benchmark/{filename}", "frame", frequency, freq, "targets", note=note)


def _comp(name: str, path: str, reader: str, frequency: str, freq: str | None, horizon: int,
          season: int, metric: str) -> RealuseSpec:
    return RealuseSpec(name, path, reader, frequency, freq, "competitions", horizon, season, metric,
                       (name.split("_")[0] + "_",))


DATASETS: dict[str, RealuseSpec] = {
    s.name: s
    for s in (
        # benchmark targets, named as the multivariate protocol names them (daily aggregates)
        _target("ECL", "electricity_agg.csv"),
        _target("ETTh1", "ETTh1_agg.csv"),
        _target("ETTh2", "ETTh2_agg.csv"),
        _target("ETTm1", "ETTm1_agg.csv"),
        _target("ETTm2", "ETTm2_agg.csv"),
        _target("Exchange", "exchange_rate.csv"),
        _target("Illness", "national_illness.csv", "weekly", "W"),
        _target("Weather", "weather_agg.csv"),
        # raw hourly ETT (the inputs of the daily aggregates)
        _target("ETTh1_hourly", "ETTh1.csv", "hourly", "h"),
        _target("ETTh2_hourly", "ETTh2.csv", "hourly", "h"),
        # competitions: their own horizon and metric
        _comp("m3_yearly", "m3/m3_yearly.csv", "m3", "yearly", "YS", 6, 1, "smape"),
        _comp("m3_quarterly", "m3/m3_quarterly.csv", "m3", "quarterly", "QS", 8, 4, "smape"),
        _comp("m3_monthly", "m3/m3_monthly.csv", "m3", "monthly", "MS", 18, 12, "smape"),
        _comp("m3_other", "m3/m3_other.csv", "m3", "other", None, 8, 1, "smape"),
        _comp("tourism_yearly", "tourism/tourism_yearly_dataset.tsf", "tsf", "yearly", "YS", 4, 1, "mape"),
        _comp("tourism_quarterly", "tourism/tourism_quarterly_dataset.tsf", "tsf", "quarterly", "QS", 8, 4, "mape"),
        _comp("tourism_monthly", "tourism/tourism_monthly_dataset.tsf", "tsf", "monthly", "MS", 24, 12, "mape"),
        _comp("m4_hourly", "m4/Train/Hourly-train.csv", "m4", "hourly", "h", 48, 24, "smape"),
        _comp("m4_weekly", "m4/Train/Weekly-train.csv", "m4", "weekly", "W", 13, 52, "smape"),
        # the one shared dataset that no zoo build used (sources.toml: air_passengers;
        # retail_sales is left out: it is related to FRED-MD, a source of both zoos)
        RealuseSpec("air_passengers", "misc/prophet_example_air_passengers.csv", "columns",
                    "monthly", "MS", "other", leak=("air_passengers",), columns=("y",)),
    )
}
GROUPS = ("targets", "competitions", "other")


def resolve(name: str) -> RealuseSpec:
    """Look a dataset up by name (case-insensitive)."""
    for key, spec in DATASETS.items():
        if key.lower() == name.lower():
            return spec
    raise ValueError(f"unknown realuse dataset {name!r}; known: {', '.join(DATASETS)}")


def read_series(spec: RealuseSpec, root: Path | None = None) -> list[np.ndarray]:
    """Every series of a dataset in full (for competition data: train + test part)."""
    from benchmarks.harness.protocol import load_frame
    from benchmarks.harness.univariate import read_competition_series
    from seqfusion.training.data import readers

    path = (root if root is not None else data_root()) / spec.path
    if not path.is_file():
        raise FileNotFoundError(f"dataset file not found: {path}")
    if spec.reader == "frame":
        _, values = load_frame(path)
        return [np.ascontiguousarray(values[:, j]) for j in range(values.shape[1])]
    if spec.reader in ("m3", "tsf", "m4"):
        return read_competition_series(spec.reader, path)
    if spec.reader == "columns":
        return readers.read_csv_columns(path, columns=list(spec.columns or ()))
    raise ValueError(f"unknown reader {spec.reader!r}")


# ------------------------------------------------------------------ origins and windows


def origins(length: int, horizon: int, split: str = "test", competition: bool = False,
            n_origins: int = N_ORIGINS, min_context: int = MIN_CONTEXT) -> list[int]:
    """Forecast origins of one series (ascending): index of the first target point.

    The context of origin ``o`` is ``series[:o]`` and its target ``series[o:o+H]``.
    Origins whose context would be shorter than ``min_context`` are left out.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} ({' or '.join(SPLITS)})")
    if horizon < 1:
        raise ValueError("horizon must be >= 1")
    if competition:
        ks = [1] if split == "test" else [2]
    else:
        first = 1 if split == "test" else n_origins + 1
        ks = list(range(first, first + n_origins))
    return sorted(o for o in (length - k * horizon for k in ks) if o >= min_context)


def expected_origins(competition: bool, n_origins: int = N_ORIGINS) -> int:
    """How many origins every series has before windows with short contexts are dropped."""
    return 1 if competition else n_origins


@dataclass
class RealuseData:
    """The windows of one dataset and split: window ``i`` is series ``series_of[i]``
    forecast from origin ``origin[i]`` (context ``series[:origin]``, target the next H)."""

    spec: RealuseSpec
    split: str
    series: list[np.ndarray]
    series_of: np.ndarray
    origin: np.ndarray
    dropped: int = 0

    @property
    def horizon(self) -> int:
        return self.spec.horizon

    @property
    def n_windows(self) -> int:
        return int(len(self.origin))

    @property
    def n_series(self) -> int:
        return int(len(np.unique(self.series_of)))

    def contexts(self, idx: Sequence[int] | np.ndarray | None = None) -> list[np.ndarray]:
        """The contexts (whole histories before the origins) of windows ``idx``."""
        idx = range(self.n_windows) if idx is None else idx
        return [self.series[self.series_of[i]][: self.origin[i]] for i in idx]

    def targets(self, idx: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """Targets ``[n, H]`` of windows ``idx``."""
        idx = range(self.n_windows) if idx is None else idx
        H = self.horizon
        return np.stack([self.series[self.series_of[i]][self.origin[i]: self.origin[i] + H]
                         for i in idx]) if len(idx) else np.empty((0, H))

    def context_lengths(self) -> np.ndarray:
        return self.origin.copy()


def make_windows(spec: RealuseSpec, series: list[np.ndarray], split: str = "test",
                 n_origins: int = N_ORIGINS) -> RealuseData:
    """Windows of every series for ``split`` (series order, origins ascending).

    Series with missing values are rejected (none of the protocol's files has any).
    """
    H = spec.horizon
    s_of: list[int] = []
    orig: list[int] = []
    dropped = 0
    clean = []
    for i, s in enumerate(series):
        s = np.asarray(s, dtype=np.float64)
        if not np.isfinite(s).all():
            raise ValueError(f"{spec.name}: series {i} has missing or infinite values")
        clean.append(s)
        os_ = origins(len(s), H, split, spec.competition, n_origins)
        dropped += expected_origins(spec.competition, n_origins) - len(os_)
        s_of += [i] * len(os_)
        orig += os_
    return RealuseData(spec, split, clean, np.asarray(s_of, dtype=np.int64),
                       np.asarray(orig, dtype=np.int64), dropped)


def load(name: str, split: str = "test", max_series: int | None = None,
         root: Path | None = None) -> RealuseData:
    """Read a dataset and build its windows (``max_series``: the first N series)."""
    spec = resolve(name)
    series = read_series(spec, root)
    if max_series is not None:
        series = series[:max_series]
    return make_windows(spec, series, split)


def subsample(n_windows: int, max_windows: int | None) -> np.ndarray:
    """Evenly spaced window indices (all when ``max_windows`` is None or large enough).

    Windows are ordered by series, then origin, so the picks spread over the series and,
    with several origins per series, cycle through the origins.
    """
    if max_windows is None or max_windows >= n_windows:
        return np.arange(n_windows)
    if max_windows < 1:
        raise ValueError("max_windows must be >= 1")
    return np.unique(np.linspace(0, n_windows - 1, max_windows).round().astype(np.int64))


# ------------------------------------------------------------------ methods


class RaggedMethod:
    """``f(contexts, H) -> [n, H]`` from a fixed-window method ``inner(x [n, L], H)``.

    ``cap``: keep at most the last ``cap`` points of each context; ``min_points``:
    left-pad shorter contexts with their first value (counted in ``stats["padded"]``).
    Contexts of equal length are stacked and forecast together.
    """

    def __init__(self, key: str, inner: Any, label: str, cap: int | None = None,
                 min_points: int | None = None, ragged: bool = False) -> None:
        self.key = key
        self.inner = inner
        self.name = label
        self.cap = cap
        self.min_points = min_points
        self.ragged = ragged
        self.stats: dict[str, Any] = inner.stats if isinstance(getattr(inner, "stats", None), dict) else {}
        self.stats.setdefault("padded", 0)
        self.stats.setdefault("capped", 0)

    def options(self) -> dict[str, Any]:
        out = {"inner": self.inner.options(), "cap": self.cap, "min_points": self.min_points}
        if self.ragged:  # (only then: the cache keys of the other methods stay as they were)
            out["ragged"] = True
        return out

    def __call__(self, contexts: Sequence[np.ndarray], horizon: int) -> np.ndarray:
        ctx = []
        for c in contexts:
            c = np.asarray(c, dtype=np.float64)
            if self.cap is not None and len(c) > self.cap:
                c = c[-self.cap:]
                self.stats["capped"] += 1
            if self.min_points is not None and len(c) < self.min_points:
                c = np.concatenate([np.full(self.min_points - len(c), c[0]), c])
                self.stats["padded"] += 1
            ctx.append(c)
        if self.ragged:  # the method takes contexts of any lengths at once
            return np.asarray(self.inner(ctx, horizon), dtype=np.float64)
        return by_length(self.inner, ctx, horizon)


def by_length(fn: Callable[[np.ndarray, int], np.ndarray], contexts: Sequence[np.ndarray],
              horizon: int) -> np.ndarray:
    """Call ``fn`` once per distinct context length on the stacked contexts; ``[n, H]``."""
    out = np.empty((len(contexts), horizon), dtype=np.float64)
    lengths = np.array([len(c) for c in contexts], dtype=np.int64)
    if len(contexts) and lengths.min() < 1:
        raise ValueError("empty context")
    for length in np.unique(lengths):
        rows = np.flatnonzero(lengths == length)
        x = np.stack([contexts[i] for i in rows])
        pred = np.asarray(fn(x, horizon), dtype=np.float64)
        if pred.shape != (len(rows), horizon):
            raise ValueError(f"method returned shape {pred.shape}, expected {(len(rows), horizon)}")
        out[rows] = pred
    return out


METHODS = ("snaive", "naive", "autoets", "autotheta", "autoarima", "seqfusion", "seqfusion_last",
           "seqfusion_paper")
METHOD_ALIASES = {"last": "naive", "seasonalnaive": "snaive", "paper": "seqfusion_paper",
                  "zoo_alone": "seqfusion_last"}
LABELS = {
    "snaive": "SeasonalNaive",
    "naive": "Naive",
    "autoets": "AutoETS",
    "autotheta": "AutoTheta",
    "autoarima": "AutoARIMA",
    "seqfusion": "SeqFusion (default: whole history, frequency given)",
    "seqfusion_last": "SeqFusion zoo alone (history=\"last\": the last 36 points)",
    "seqfusion_paper": "SeqFusion paper design (similarity top-16, mean)",
}
#: context caps per method (None: whole history; the paper design caps itself at its input length)
CAPS: dict[str, int | None] = {"snaive": None, "naive": None, "autoets": STATS_CAP,
                               "autotheta": STATS_CAP, "autoarima": ARIMA_CAP,
                               "seqfusion": None, "seqfusion_last": None, "seqfusion_paper": None}
SLOW = ("autoets", "autotheta", "autoarima")


def canonical_method(key: str) -> str:
    key = key.lower()
    return METHOD_ALIASES.get(key, key)


def make_method(key: str, spec: RealuseSpec, zoo: str | Path | None = None,
                k: int | None = None, no_freq: bool = False) -> RaggedMethod:
    """A method of the protocol for one dataset (``zoo``: SeqFusion's zoo for it)."""
    from benchmarks.harness import baselines as bl

    key = canonical_method(key)
    if key == "snaive":
        inner: Any = bl.SeasonalNaive(spec.season)
    elif key == "naive":
        inner = bl.Last()
    elif key in ("autoets", "autotheta"):
        inner = bl.StatsForecastMethod({"autoets": "AutoETS", "autotheta": "AutoTheta"}[key],
                                       spec.season)
    elif key == "autoarima":
        season = spec.season if spec.season <= ARIMA_MAX_SEASON else 1
        inner = bl.StatsForecastMethod("AutoARIMA", season)
    elif key in ("seqfusion", "seqfusion_last", "seqfusion_paper"):
        opts: dict[str, Any] = {}
        if spec.freq is not None and not no_freq:
            opts["freq"] = spec.freq
        if key == "seqfusion_paper":
            opts["fusion"] = PAPER_DESIGN["fusion"]
            opts["history"] = "last"
            kk = PAPER_DESIGN["k"]
            inner = bl.SeqFusionMethod(zoo, kk, opts, horizon_invariant=False)
            return RaggedMethod(key, inner, LABELS[key], None, SEQFUSION_MIN_POINTS)
        kk = k if k is not None else default_k(zoo)
        if key == "seqfusion_last":
            inner = bl.SeqFusionMethod(zoo, kk, {**opts, "history": "last"}, horizon_invariant=False)
            return RaggedMethod(key, inner, LABELS[key], None, SEQFUSION_MIN_POINTS)
        inner = bl.SeqFusionHistoryMethod(zoo, kk, opts)
        return RaggedMethod(key, inner, LABELS[key], None, SEQFUSION_MIN_POINTS, ragged=True)
    else:
        raise ValueError(f"unknown method {key!r}; known: {', '.join(METHODS)}")
    return RaggedMethod(key, inner, LABELS[key], CAPS[key])


_K_CACHE: dict[str, int] = {}


def default_k(zoo: str | Path | None) -> int:
    """The number of members a zoo recommends fusing."""
    key = str(zoo)
    if key not in _K_CACHE:
        from seqfusion.forecaster import SeqFusion

        _K_CACHE[key] = int(SeqFusion.from_pretrained(zoo).k)
    return _K_CACHE[key]


# ------------------------------------------------------------------ metrics


def seasonal_naive_scale(context: np.ndarray, season: int) -> tuple[float, int]:
    """In-sample seasonal-naive MAE of a context and the season used.

    Season 1 is used when the context has at most ``season`` points. NaN for a context of
    one point.
    """
    c = np.asarray(context, dtype=np.float64)
    m = season if len(c) > season else 1
    if len(c) <= m:
        return float("nan"), m
    return float(np.mean(np.abs(c[m:] - c[:-m]))), m


def _long_frames(data: RealuseData, idx: np.ndarray, preds: dict[str, np.ndarray]) -> tuple[Any, Any]:
    """utilsforecast frames: forecasts (id = series, cutoff = origin - 1, ds = position)
    and the training frame holding each series up to its last used origin."""
    import pandas as pd

    H = data.horizon
    s_of = data.series_of[idx]
    orig = data.origin[idx]
    steps = np.arange(H)
    df = pd.DataFrame({
        "unique_id": np.repeat(s_of, H),
        "cutoff": np.repeat(orig - 1, H),
        "ds": (orig[:, None] + steps[None, :]).reshape(-1),
        "y": data.targets(idx).reshape(-1),
    })
    for label, p in preds.items():
        df[label] = np.asarray(p, dtype=np.float64).reshape(-1)
    last = {}
    for s, o in zip(s_of, orig):
        last[int(s)] = max(last.get(int(s), 0), int(o))
    ids, ds, ys = [], [], []
    for s, stop in last.items():
        ids.append(np.full(stop, s))
        ds.append(np.arange(stop))
        ys.append(data.series[s][:stop])
    train = pd.DataFrame({"unique_id": np.concatenate(ids), "ds": np.concatenate(ds),
                          "y": np.concatenate(ys)})
    return df, train


def window_metrics(data: RealuseData, idx: np.ndarray, preds: dict[str, np.ndarray]
                   ) -> dict[str, Any]:
    """Per-window MASE (and SMAPE / MAPE for competition data) of every method.

    ``preds[label]``: forecasts ``[len(idx), H]`` for windows ``idx`` (NaN rows: not
    forecast). Returns ``{"mase": {label: [n]}, "smape"/"mape": {label: [n]},
    "scale": [n], "season_used": [n]}`` aligned with ``idx``; MASE is NaN where the scale
    is 0 or undefined.
    """
    from utilsforecast import losses

    labels = list(preds)
    n = len(idx)
    out: dict[str, Any] = {"mase": {lb: np.full(n, np.nan) for lb in labels}}
    scale = np.empty(n)
    used = np.empty(n, dtype=np.int64)
    for j, i in enumerate(idx):
        scale[j], used[j] = seasonal_naive_scale(data.series[data.series_of[i]][: data.origin[i]],
                                                 data.spec.season)
    out["scale"], out["season_used"] = scale, used
    if n == 0:
        return out
    df, train = _long_frames(data, idx, preds)
    key = list(zip(data.series_of[idx].tolist(), (data.origin[idx] - 1).tolist()))
    pos = {k: j for j, k in enumerate(key)}
    for m in np.unique(used):
        sel = np.flatnonzero(used == m)
        rows = np.isin(np.arange(len(df)) // data.horizon, sel)
        res = losses.mase(df[rows], labels, int(m), train, id_col="unique_id",
                          target_col="y", cutoff_col="cutoff", time_col="ds")
        at = np.array([pos[(int(a), int(b))] for a, b in zip(res["unique_id"], res["cutoff"])])
        for lb in labels:
            out["mase"][lb][at] = res[lb].to_numpy(np.float64)
    bad = ~(np.isfinite(scale) & (scale > 0))
    for lb in labels:
        out["mase"][lb][bad] = np.nan
    metric = data.spec.metric
    if metric in ("smape", "mape"):
        fn = losses.smape if metric == "smape" else losses.mape
        res = fn(df, labels, id_col="unique_id", target_col="y", cutoff_col="cutoff")
        at = np.array([pos[(int(a), int(b))] for a, b in zip(res["unique_id"], res["cutoff"])])
        vals = {}
        for lb in labels:
            v = np.full(n, np.nan)
            v[at] = res[lb].to_numpy(np.float64) * (200.0 if metric == "smape" else 100.0)
            vals[lb] = v
        out[metric] = vals
    return out


def aggregate(values: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean of the finite values (within ``mask``); NaN when there are none."""
    v = np.asarray(values, dtype=np.float64)
    if mask is not None:
        v = v[mask]
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def geomean(ratios: Sequence[float]) -> float | None:
    """Geometric mean of positive finite ratios (None when there are none)."""
    logs = [math.log(r) for r in ratios if r is not None and math.isfinite(r) and r > 0]
    return math.exp(sum(logs) / len(logs)) if logs else None


def score_dataset(data: RealuseData, forecasts: dict[str, tuple[np.ndarray, np.ndarray]],
                  reference: str) -> dict[str, dict[str, Any]]:
    """Dataset-level scores per label from ``forecasts[label] = (idx, pred [len(idx), H])``.

    ``reference``: the label of SeasonalNaive, which must cover every window; each
    method's ratio uses the reference's MASE on the same windows.
    """
    n = data.n_windows
    H = data.horizon
    full: dict[str, np.ndarray] = {}
    covered: dict[str, np.ndarray] = {}
    for label, (idx, pred) in forecasts.items():
        p = np.full((n, H), np.nan)
        p[idx] = pred
        full[label] = p
        c = np.zeros(n, dtype=bool)
        c[idx] = True
        covered[label] = c
    if reference not in full or not covered[reference].all():
        raise ValueError("the reference method must cover every window")
    wm = window_metrics(data, np.arange(n), full)
    valid = np.isfinite(wm["scale"]) & (wm["scale"] > 0)
    out: dict[str, dict[str, Any]] = {}
    for label in full:
        cov = covered[label]
        mase_v = aggregate(wm["mase"][label], cov & valid)
        ref_v = aggregate(wm["mase"][reference], cov & valid)
        row: dict[str, Any] = {
            "mase": mase_v,
            "snaive_mase_same_windows": ref_v,
            "relative_mase": mase_v / ref_v if ref_v and math.isfinite(ref_v) and ref_v > 0 else None,
            "n_windows": int(cov.sum()),
            "n_windows_mase": int((cov & valid).sum()),
            "n_series": int(len(np.unique(data.series_of[cov]))),
            "zero_scale_windows": int((cov & ~valid).sum()),
            "season_fallback_windows": int((cov & (wm["season_used"] != data.spec.season)).sum()),
            "subsampled": bool(cov.sum() < n),
        }
        metric = data.spec.metric
        if metric:
            row[metric] = aggregate(wm[metric][label], cov)
            row[f"snaive_{metric}_same_windows"] = aggregate(wm[metric][reference], cov)
        out[label] = row
    return out


def summarize(rows: list[dict[str, Any]], datasets: Sequence[str],
              group_of: Callable[[str], str] | None = None) -> dict[str, dict[str, Any]]:
    """Geo-mean of ``relative_mase`` per method over ``datasets`` (and per group)."""
    by: dict[str, dict[str, float]] = {}
    for r in rows:
        if r.get("relative_mase") is not None:
            by.setdefault(r["method"], {})[r["dataset"]] = float(r["relative_mase"])
    out: dict[str, dict[str, Any]] = {}
    for label, per in by.items():
        used = [d for d in datasets if d in per]
        entry: dict[str, Any] = {"geomean": geomean([per[d] for d in used]), "n_datasets": len(used)}
        if group_of is not None:
            for g in GROUPS:
                gd = [d for d in used if group_of(d) == g]
                if gd:
                    entry[f"geomean_{g}"] = geomean([per[d] for d in gd])
                    entry[f"n_{g}"] = len(gd)
        out[label] = entry
    return out


# ------------------------------------------------------------------ zoo choice and leakage


def zoo_saw(zoo: str | Path | None, spec: RealuseSpec) -> list[str]:
    """The sources of ``zoo`` that ``spec`` must not have been built from (empty: zero-shot)."""
    from benchmarks.harness.univariate import zoo_sources

    if not spec.leak:
        return []
    return sorted({s for s in zoo_sources(zoo) if any(s.lower().startswith(p) for p in spec.leak)})
