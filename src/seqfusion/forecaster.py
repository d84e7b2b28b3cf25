"""The SeqFusion forecaster: match each variate to zoo members, roll them out, fuse."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from seqfusion.errors import SeqFusionError
from seqfusion.frames import assemble, parse
from seqfusion.rollout import rollout
from seqfusion.zoo import Zoo

FUSIONS = ("mean", "similarity")
NORMALIZATIONS = ("window", "last_h")
STD_FLOOR = 1e-8


class SeqFusion:
    """Zero-shot forecaster over a model zoo.

    Parameters
    ----------
    zoo: the :class:`~seqfusion.zoo.Zoo` to draw members from.
    k: members fused per variate (top-k by cosine similarity of representations).
    fusion: ``"mean"`` (plain average, as the paper) or ``"similarity"`` (softmax of the
        similarities divided by ``temperature``).
    normalization: ``"window"`` (statistics of the whole context) or ``"last_h"`` (of the
        last ``min(H, T)`` points).
    clip: bound on normalized roll-out values (guards against a diverging member).
    min_length: shortest accepted history; histories shorter than the zoo's input length
        are left-padded with their first value.
    """

    def __init__(
        self,
        zoo: Zoo,
        k: int = 3,
        fusion: str = "mean",
        normalization: str = "window",
        temperature: float = 0.05,
        clip: float | None = 10.0,
        min_length: int = 8,
    ) -> None:
        self.zoo = zoo
        self.k = k
        self.fusion = fusion
        self.normalization = normalization
        self.temperature = temperature
        self.clip = clip
        self.min_length = min_length
        self._validate_options(k, fusion, normalization)

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, **kwargs: Any) -> "SeqFusion":
        """Load a zoo folder (``None``: the shipped default zoo) and wrap it."""
        return cls(Zoo.load(path), **kwargs)

    # ------------------------------------------------------------------ checks
    def _validate_options(self, k: int, fusion: str, normalization: str) -> None:
        if len(self.zoo) == 0:
            raise SeqFusionError("the zoo holds no PTMs")
        if not isinstance(k, (int, np.integer)) or not 1 <= k <= len(self.zoo):
            raise SeqFusionError(f"k must be an integer in [1, {len(self.zoo)}], got {k!r}")
        if fusion not in FUSIONS:
            raise SeqFusionError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
        if normalization not in NORMALIZATIONS:
            raise SeqFusionError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")

    @property
    def input_length(self) -> int:
        return self.zoo.input_length

    def contexts(self, series: list[np.ndarray], names: list[Any] | None = None) -> np.ndarray:
        """Validate histories and make model contexts ``[n, T]``.

        Longer histories keep their last T points. NaN inside a history is filled by linear
        interpolation (leading/trailing NaN by the nearest value); inf is an error; a history
        with fewer than ``min_length`` finite points is an error; shorter histories are
        left-padded with their first value.
        """
        T = self.input_length
        if len(series) == 0:
            raise SeqFusionError("the input is empty")
        names = names if names is not None else list(range(len(series)))
        out = np.empty((len(series), T), dtype=np.float64)
        for i, (s, name) in enumerate(zip(series, names)):
            s = np.asarray(s, dtype=np.float64).reshape(-1)
            if np.isinf(s).any():
                raise SeqFusionError(f"series {name!r} contains inf")
            s = s[-T:] if len(s) > T else s
            finite = np.isfinite(s)
            if finite.sum() < self.min_length:
                raise SeqFusionError(
                    f"series {name!r} has {int(finite.sum())} usable points in its last {T}; "
                    f"at least {self.min_length} are needed"
                )
            if not finite.all():
                pos = np.arange(len(s))
                s = np.interp(pos, pos[finite], s[finite])
            out[i, T - len(s):] = s
            out[i, : T - len(s)] = s[0]
        return out

    # ------------------------------------------------------------------ core
    def _normalize(self, x: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ref = x if self.normalization == "window" else x[:, -min(horizon, x.shape[1]):]
        mean = ref.mean(axis=1, keepdims=True)
        std = ref.std(axis=1, keepdims=True)
        return (x - mean) / np.maximum(std, STD_FLOOR), mean, std

    def similarities(self, x: np.ndarray) -> np.ndarray:
        """Cosine similarity of each context ``[n, T]`` to every member: ``[n, M]``.

        Contexts are z-normalized in float64 before embedding, so selection does not depend
        on the series' level or scale.
        """
        x = np.asarray(x, dtype=np.float64)
        std = x.std(axis=1, keepdims=True)
        x = (x - x.mean(axis=1, keepdims=True)) / np.where(std > STD_FLOOR, std, 1.0)
        emb = self.zoo.extractor.embed(x)
        reps = self.zoo.representations()
        emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        reps = reps / np.maximum(np.linalg.norm(reps, axis=1, keepdims=True), 1e-12)
        return emb @ reps.T

    def select(self, x: np.ndarray, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k members per context: (indices ``[n, k]``, similarities ``[n, k]``).

        Ties are broken by member order in the zoo (stable sort).
        """
        k = self.k if k is None else k
        sims = self.similarities(x)
        idx = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        return idx, np.take_along_axis(sims, idx, axis=1)

    def _weights(self, sims: np.ndarray) -> np.ndarray:
        if self.fusion == "mean":
            return np.full_like(sims, 1.0 / sims.shape[1], dtype=np.float64)
        z = (sims - sims.max(axis=1, keepdims=True)) / self.temperature
        w = np.exp(z.astype(np.float64))
        return w / w.sum(axis=1, keepdims=True)

    def predict_windows(
        self,
        x: np.ndarray,
        horizon: int,
        k: int | None = None,
        selection: np.ndarray | None = None,
        **options: Any,
    ) -> np.ndarray:
        """Forecast each row of ``x [n, L]`` (one univariate history per row): ``[n, H]``.

        ``selection`` optionally fixes the chosen members per row (``[n, k]`` indices, e.g.
        chosen once per dataset); ``options`` override constructor settings for this call.
        """
        if options:
            return self._with(**options).predict_windows(x, horizon, k, selection)
        if not isinstance(horizon, (int, np.integer)) or horizon < 1:
            raise SeqFusionError(f"horizon must be a positive integer, got {horizon!r}")
        k = self.k if k is None else k
        self._validate_options(k, self.fusion, self.normalization)
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2:
            raise SeqFusionError(f"windows must be [n, L], got shape {x.shape}")
        ctx = self.contexts(list(x))
        xn, mean, std = self._normalize(ctx, horizon)
        idx, sims = self.select(ctx, k)
        if selection is not None:
            idx = np.asarray(selection, dtype=np.int64).reshape(len(x), -1)
            sims = np.take_along_axis(self.similarities(ctx), idx, axis=1)
        weights = self._weights(sims)
        fused = np.zeros((len(x), horizon), dtype=np.float64)
        xt = torch.as_tensor(xn, dtype=torch.float32)
        for m in np.unique(idx):
            rows, slot = np.nonzero(idx == m)
            pred = rollout(self.zoo.members[m].module, xt[rows], horizon, self.clip).numpy()
            fused[rows] += weights[rows, slot][:, None] * pred.astype(np.float64)
        out = fused * std + mean
        constant = (ctx.max(axis=1) - ctx.min(axis=1)) <= 1e-12 * np.maximum(1.0, np.abs(ctx).max(axis=1))
        out[constant] = ctx[constant, -1:]
        return out

    def _with(self, **options: Any) -> "SeqFusion":
        params = dict(k=self.k, fusion=self.fusion, normalization=self.normalization,
                      temperature=self.temperature, clip=self.clip, min_length=self.min_length)
        unknown = set(options) - set(params)
        if unknown:
            raise SeqFusionError(f"unknown option(s): {', '.join(sorted(unknown))}")
        params.update(options)
        return SeqFusion(self.zoo, **params)

    # ------------------------------------------------------------------ user API
    def predict(self, y: Any, horizon: int, k: int | None = None, **options: Any) -> Any:
        """Forecast ``horizon`` steps for every variate / series of ``y``.

        ``y``: array ``[T]`` or ``[T, C]``, a wide DataFrame or a long DataFrame
        (``unique_id``, ``ds``, ``y``). The output mirrors the input: ``[H]``, ``[H, C]``,
        or a DataFrame with the future time stamps.
        """
        parsed = parse(y)
        ctx = self.contexts(parsed.series, parsed.names)
        fc = self.predict_windows(ctx, horizon, k, **options)
        return assemble(parsed, fc, horizon)

    def explain(self, y: Any, k: int | None = None) -> pd.DataFrame:
        """Per variate, the chosen members with rank, similarity, fusion weight and source."""
        parsed = parse(y)
        ctx = self.contexts(parsed.series, parsed.names)
        idx, sims = self.select(ctx, k)
        weights = self._weights(sims)
        rows = []
        for name, ids, ss, ws in zip(parsed.names, idx, sims, weights):
            for rank, (m, s, w) in enumerate(zip(ids, ss, ws), start=1):
                mem = self.zoo.members[m]
                rows.append({"variate": name, "rank": rank, "ptm": mem.name, "similarity": float(s),
                             "weight": float(w), "source": mem.source, "frequency": mem.frequency,
                             "architecture": mem.architecture})
        return pd.DataFrame(rows)
