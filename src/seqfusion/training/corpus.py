"""The long-context members' training corpus: real series, synthetic series, and batches.

* **Real series**: every Parquet file of the data root's ``extra/`` folder (long format
  ``unique_id, ds, y``) and registered sources (:mod:`seqfusion.training.data.sources`),
  each dataset's series cleaned by :func:`~seqfusion.training.data.sources.clean_series`.
* **Synthetic series** (:func:`kernel_series`): random compositions, by sums and products,
  of Gaussian-process-like components drawn in closed form (periodic components as
  random harmonic sums, smooth components as random Fourier features, linear trends,
  autoregressive and white noise, level shifts), in the spirit of KernelSynth.
* **Batches** (:class:`Corpus.batch`): a dataset drawn with probability proportional to a
  power of its size, a series in proportion to its length, a window of context plus
  horizon inside it; windows are sometimes averaged over ``k`` steps (a coarser sampling
  frequency), cut to a shorter context (left-padded with NaN), or mixed: convex
  combinations of standardized windows of several datasets (as TSMixup).

Every draw comes from ``numpy.random.Generator`` seeded by the caller, so a batch is a
function of the seed and the step (training resumes exactly).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seqfusion.training.data.paths import data_root
from seqfusion.training.data.sources import clean_series, load_source

#: registered sources the long-context members learn from besides ``extra/``: those no
#: benchmark of the project (nor GIFT-Eval, nor the covariate benchmark) evaluates on
SOURCES: tuple[str, ...] = ("sunspot", "kaggle_web_traffic", "favorita", "nn5_daily", "yosemite",
                            "peyton_manning")
#: shortest cleaned piece of a real series kept (points)
MIN_SERIES = 96
#: coarser sampling steps a window may be averaged over
AGGREGATES = (2, 3, 4, 6, 12, 24)
#: periods (in steps) of synthetic periodic components
PERIODS = (4, 5, 7, 12, 24, 48, 52, 96, 144, 168, 288, 336)


@dataclass
class Corpus:
    """Datasets of 1-D float32 series (finite), sampled into training batches."""

    names: list[str]
    series: list[list[np.ndarray]]
    size_power: float = 0.5
    synthetic: float = 0.3
    mixup: float = 0.1
    aggregate: float = 0.25
    short: float = 0.2
    _p: np.ndarray = field(init=False, repr=False)
    _lengths: list[np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        keep = [i for i, s in enumerate(self.series) if s]
        self.names = [self.names[i] for i in keep]
        self.series = [self.series[i] for i in keep]
        self._lengths = [np.array([len(x) for x in s], dtype=np.float64) for s in self.series]
        sizes = np.array([lengths.sum() for lengths in self._lengths])
        p = sizes ** self.size_power
        self._p = p / p.sum()

    @property
    def n_values(self) -> int:
        return int(sum(lengths.sum() for lengths in self._lengths))

    def summary(self) -> dict[str, dict[str, float]]:
        """Per dataset: series, values, sampling probability (among real windows)."""
        return {n: {"series": len(s), "values": int(lg.sum()), "probability": round(float(p), 5)}
                for n, s, lg, p in zip(self.names, self.series, self._lengths, self._p)}

    def _window(self, rng: np.random.Generator, need: int) -> np.ndarray:
        """One real window of up to ``need`` points (shorter when the series is)."""
        d = int(rng.choice(len(self.series), p=self._p))
        lengths = self._lengths[d]
        x = self.series[d][int(rng.choice(len(lengths), p=lengths / lengths.sum()))]
        if len(x) > need:
            start = int(rng.integers(0, len(x) - need + 1))
            x = x[start : start + need]
        return x

    def _real(self, rng: np.random.Generator, context: int, horizon: int) -> np.ndarray:
        """A real window ``[context + horizon]`` (NaN-padded on the left when short)."""
        need = context + horizon
        k = 1
        if rng.random() < self.aggregate:
            k = int(rng.choice(AGGREGATES))
        x = self._window(rng, need * k)
        if k > 1:
            n = len(x) // k
            if n >= horizon + 16:
                x = x[len(x) - n * k :].reshape(n, k).mean(axis=1)
            else:
                x = x[-need:]
        out = np.full(need, np.nan, dtype=np.float32)
        out[need - len(x) :] = x
        return out

    def _mixed(self, rng: np.random.Generator, context: int, horizon: int) -> np.ndarray:
        """A convex combination of 2-3 standardized real windows."""
        k = int(rng.integers(2, 4))
        w = rng.dirichlet(np.full(k, 1.0))
        out = np.zeros(context + horizon, dtype=np.float64)
        for j in range(k):
            x = self._real(rng, context, horizon).astype(np.float64)
            ctx = x[:context]
            mu, sd = np.nanmean(ctx), np.nanstd(ctx)
            out += w[j] * (x - mu) / (sd if sd > 0 else 1.0)
        return out.astype(np.float32)

    def batch(self, rng: np.random.Generator, size: int, context: int, horizon: int) -> np.ndarray:
        """``[size, context + horizon]`` float32 windows (NaN: missing, only in contexts)."""
        out = np.empty((size, context + horizon), dtype=np.float32)
        kinds = rng.random(size)
        n_syn = int((kinds < self.synthetic).sum())
        if n_syn:
            out[:n_syn] = kernel_series(rng, n_syn, context + horizon)
        for i in range(n_syn, size):
            if kinds[i] < self.synthetic + self.mixup:
                out[i] = self._mixed(rng, context, horizon)
            else:
                out[i] = self._real(rng, context, horizon)
        short = rng.random(size) < self.short  # contexts cut to 32 ... context points
        for j in np.flatnonzero(short):
            keep = int(rng.integers(32, context + 1))
            out[j, : context - keep] = np.nan
        return out[rng.permutation(size)]


def extra_files(root: str | Path | None = None) -> list[Path]:
    """The Parquet files of the data root's ``extra/`` folder (sorted)."""
    base = Path(root) if root is not None else data_root()
    files = sorted((base / "extra").glob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"{base / 'extra'}: no Parquet files")
    return files


def load_corpus(root: str | Path | None = None, sources: Sequence[str] = SOURCES, extra: bool = True,
                load: Callable[[str], Sequence[np.ndarray]] | None = None, **kwargs: float) -> Corpus:
    """The corpus of ``extra/`` (every Parquet file, one dataset each) and ``sources``
    (read by ``load``, default :func:`~seqfusion.training.data.sources.load_source`)."""
    names: list[str] = []
    series: list[list[np.ndarray]] = []
    if extra:
        for f in extra_files(root):
            names.append(f.stem)
            series.append(_parquet_series(f))
    read = load if load is not None else (lambda s: load_source(s, root))
    for s in sources:
        names.append(s)
        series.append([np.asarray(x, dtype=np.float32) for x in read(s) if len(x) >= MIN_SERIES])
    return Corpus(names, series, **kwargs)


def _parquet_series(path: Path) -> list[np.ndarray]:
    """The cleaned series of a long-format Parquet file (float32, at least MIN_SERIES points)."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["unique_id", "y"])
    ids = table.column("unique_id").to_numpy()
    y = table.column("y").to_numpy(zero_copy_only=False).astype(np.float64)
    cuts = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    out = []
    for piece in np.split(y, cuts):
        for x in clean_series(piece):
            if len(x) >= MIN_SERIES and np.ptp(x) > 0:
                out.append(x.astype(np.float32))
    return out


# ------------------------------------------------------------------ synthetic series


def kernel_series(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    """``[n, length]`` float32 synthetic series: 1-4 random components combined by sums
    (and, with probability 0.3 each, a product), plus noise."""
    t = np.arange(length, dtype=np.float64)
    out = np.empty((n, length), dtype=np.float32)
    for i in range(n):
        k = int(rng.integers(1, 5))
        x = _component(rng, t)
        for _ in range(k - 1):
            c = _component(rng, t)
            if rng.random() < 0.3:
                x = x * (1.0 + 0.5 * c / (np.abs(c).max() + 1e-9))
            else:
                x = x + c
        x = x + rng.exponential(0.1) * rng.standard_normal(length)
        if rng.random() < 0.2:  # a level shift
            x[int(rng.integers(length // 4, length)) :] += rng.normal(0.0, 1.0)
        if rng.random() < 0.2:  # counts or positive quantities
            x = np.maximum(x - np.quantile(x, rng.uniform(0.0, 0.3)), 0.0)
        out[i] = x * np.exp(rng.normal(0.0, 2.0)) + rng.normal(0.0, 3.0)
    return out


def _component(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """One random component over steps ``t``, of unit order of magnitude."""
    kind = rng.choice(5, p=[0.4, 0.2, 0.15, 0.15, 0.1])
    n = len(t)
    if kind == 0:  # periodic: a random harmonic sum (smoothness from the decay)
        period = float(rng.choice(PERIODS)) * (1.0 if rng.random() < 0.8 else rng.uniform(0.5, 2.0))
        harmonics = np.arange(1, min(12, max(1, int(period // 2))) + 1)
        amp = rng.standard_normal(len(harmonics)) * harmonics ** -rng.uniform(0.5, 2.5)
        phase = rng.uniform(0, 2 * np.pi, len(harmonics))
        return (amp[:, None] * np.cos(2 * np.pi * harmonics[:, None] * t[None, :] / period + phase[:, None])).sum(0)
    if kind == 1:  # smooth: random Fourier features of an RBF kernel
        scale = n * rng.uniform(0.02, 0.5)
        w = rng.standard_normal(32) / scale
        b = rng.uniform(0, 2 * np.pi, 32)
        waves = np.cos(w[:, None] * t[None, :] + b[:, None])
        return np.sqrt(2.0 / 32) * (rng.standard_normal(32)[:, None] * waves).sum(0)
    if kind == 2:  # linear trend
        return rng.normal(0.0, 1.0) * (t - t.mean()) / n * 2.0
    if kind == 3:  # AR(1)
        phi = rng.uniform(0.5, 0.99)
        e = rng.standard_normal(n) * np.sqrt(1 - phi * phi)
        x = np.empty(n)
        x[0] = rng.standard_normal()
        for j in range(1, n):
            x[j] = phi * x[j - 1] + e[j]
        return x
    return rng.standard_normal(n) * 0.5  # white noise
