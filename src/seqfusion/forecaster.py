"""The SeqFusion forecaster: match each variate to zoo members, roll them out, fuse."""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np

from seqfusion import engine, history, preprocess
from seqfusion import quantiles as qmod
from seqfusion.errors import SeqFusionError
from seqfusion.options import Options, is_int
from seqfusion.zoo import Zoo

if TYPE_CHECKING:
    import pandas as pd

F = TypeVar("F", bound=Callable[..., Any])


def _engine_call(method: F) -> F:
    """Run a public method inside :class:`seqfusion.engine.settings` with the forecaster's
    ``exact`` option."""

    @functools.wraps(method)
    def wrapper(self: SeqFusion, *args: Any, **kwargs: Any) -> Any:
        with engine.settings(exact=self.options.exact):
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class SeqFusion:
    """Zero-shot forecaster over a model zoo.

    Parameters
    ----------
    zoo: the :class:`~seqfusion.zoo.Zoo` to draw members from.
    k: members fused per variate (top-k by cosine similarity of representations).
    fusion: ``"mean"`` (plain average, as the paper), ``"median"`` (per-step median of the
        k forecasts, robust to one diverging member), ``"similarity"`` (softmax of the
        similarities divided by ``temperature``), ``"inverse_error"`` (weights inversely
        proportional to the back-test error; needs back-test selection) or ``"router"``
        (the zoo's learned router weighs all members from the context, see
        :mod:`seqfusion.training.router`; the k largest weights are kept and renormalized, so
        ``selection`` does not apply).
    selection: ``"similarity"`` (top-k by cosine similarity, as the paper) or
        ``"backtest"`` (among the ``candidates`` most similar members, all when ``None``,
        the k with the lowest error forecasting the context's own last ``backtest`` points).
    normalization: ``"window"`` (statistics of the whole context) or ``"last_h"`` (of the
        last ``min(H, T)`` points).
    router_temperature: divides the router's logits before the softmax (> 1 flattens the
        weights toward a plain mean).
    clip: bound on normalized roll-out values (guards against a diverging member).
    min_length: shortest accepted history; histories shorter than the zoo's input length
        are left-padded with their first value.
    history: ``"whole"`` (default: every point of a history counts, through seasonal
        adjustment, the Theta method and back-tests inside the history that weigh them
        against the zoo, see :mod:`seqfusion.history`; a history too short for one
        back-test gets the zoo's forecast alone) or ``"last"`` (the zoo's forecast of the
        last ``input_length`` points only, as the paper).
    exact: ``True`` (default): a series gets the same forecast, bit for bit, whatever other
        series share the call (a chunked file, a Dask partition, one series alone), at some
        cost in speed; ``False``: plain matrix products, which round differently (about 1e-7
        relative) in another batch.
    long_context: ``True`` (default): the zoo's long-context members (if it has any) join
        the whole-history candidates (``long``); ``False``: they are left out.
    nonnegative: ``True`` (default): a series with no negative value in its history
        (counts, sales, prices, loads) gets no negative forecast or quantile (they are
        raised to 0; for a target that stays non-negative this never adds error);
        ``False``: forecasts are left as they come.
    intermittent: ``True`` (default): the quantiles of an intermittent history (at least
        30% of its last 24 values exactly 0, none negative, no season found; see
        :func:`seqfusion.quantiles.intermittent`) are the empirical quantiles of those 24
        values, so its median is often 0 while the point forecast stays the expected
        value; ``False``: they are spread around the point forecast like any other. Not
        applied to forecasts with covariates.
    """

    def __init__(self, zoo: Zoo, options: Options | None = None, **settings: Any) -> None:
        self.zoo = zoo
        self.options = (options or Options()).with_(**settings).check(zoo)

    def __getattr__(self, name: str) -> Any:
        """Each setting reads as an attribute too (``model.k``, ``model.fusion``, ...)."""
        if name != "options" and name in Options.names():
            return getattr(self.options, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, **settings: Any) -> SeqFusion:
        """Load a zoo folder (``None``: the shipped default zoo) and wrap it.

        Settings the zoo's manifest recommends (``info.forecaster``, e.g. its validated
        ``k``; ``"all"`` for every member) are used unless given here; ``None`` values are
        ignored (see :meth:`seqfusion.options.Options.resolve`).
        """
        Options.unknown(settings)
        zoo = Zoo.load(path)
        return cls(zoo, Options.resolve(zoo, settings))

    def with_options(self, **changes: Any) -> SeqFusion:
        """A forecaster of the same zoo with some settings changed (checked once, here)."""
        return SeqFusion(self.zoo, self.options.with_(**changes))

    @property
    def input_length(self) -> int:
        return self.zoo.input_length

    def contexts(self, series: list[np.ndarray] | np.ndarray, names: list[Any] | None = None) -> np.ndarray:
        """Validate histories and make model contexts ``[n, T]``.

        ``series``: a list of 1-D histories (any lengths) or an array ``[n, L]``. Longer
        histories keep their last T points. NaN inside a history is filled by linear
        interpolation, leading/trailing NaN by the nearest value; inf is an error; a history
        with fewer than ``min_length`` finite points is an error; shorter histories are
        left-padded with their first value.
        """
        return preprocess.contexts(series, self.input_length, self.options.min_length, names)

    # ------------------------------------------------------------------ core
    def _normalize(self, x: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ref = x if self.options.normalization == "window" else x[:, -min(horizon, x.shape[1]):]
        return preprocess.znorm(x, ref)

    @_engine_call
    def _similarities(self, x: np.ndarray) -> np.ndarray:
        """Cosine similarity of each context ``[n, T]`` to every member: ``[n, M]``.

        Contexts are z-normalized in float64 before embedding, so selection does not depend
        on the series' level or scale.
        """
        return self._cosines(self._embed(x))

    def _embed(self, x: np.ndarray) -> np.ndarray:
        """Extractor embeddings ``[n, d]`` of z-normalized contexts ``[n, T]``."""
        return self.zoo.extractor.embed(preprocess.znorm(x)[0])

    def _cosines(self, emb: np.ndarray) -> np.ndarray:
        reps = self.zoo.representations()
        emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        reps = reps / np.maximum(np.linalg.norm(reps, axis=1, keepdims=True), 1e-12)
        return engine.matmul_rows(emb, reps.T)  # a row's value does not depend on the other rows

    @_engine_call
    def _select(self, x: np.ndarray, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Chosen members per context: (indices ``[n, k]``, similarities ``[n, k]``).

        With similarity selection ties are broken by member order in the zoo (stable sort).
        """
        chosen = self._pick(np.asarray(x, dtype=np.float64), k)
        return chosen["members"], chosen["similarity"]

    @_engine_call
    def _backtest_errors(self, ctx: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Back-test error of candidate members on each context's own last points.

        For contexts ``[n, T]`` and candidate member indices ``[n, M]``: each candidate
        forecasts the last ``backtest`` points from the points before them (left-padded with
        their first value to T, z-normalized by their own statistics); returns the MSE in
        that normalized scale, ``[n, M]``.
        """
        T, b = ctx.shape[1], self.options.backtest
        hist, target = ctx[:, : T - b], ctx[:, T - b :]
        z, mean, std = preprocess.znorm(preprocess.pad_left(hist, T), ref=hist)
        zt = z.astype(np.float32)
        target = (target - mean) / std
        errors = np.empty(candidates.shape, dtype=np.float64)
        for m in np.unique(candidates):
            rows, slot = np.nonzero(candidates == m)
            pred = engine.rollout(self.zoo.members[m].model, zt[rows], b, self.options.clip)
            errors[rows, slot] = np.mean((pred - target[rows]) ** 2, axis=1)
        return errors

    @_engine_call
    def _pick(self, ctx: np.ndarray, k: int | None = None, freq: Any = None) -> dict[str, np.ndarray]:
        """Pick members and fusion weights per context ``[n, T]`` (``freq``: the sampling
        frequency, used by a router with frequency inputs; see :meth:`_router_weights_of`).

        Returns ``members`` ``[n, k]`` (indices), ``similarity`` ``[n, k]``, ``weight``
        ``[n, k]`` and, with back-test selection, ``error`` ``[n, k]``.
        """
        return self._choose(ctx, preprocess.znorm(ctx)[0], k, freq)

    def _choose(self, ctx: np.ndarray, xn: np.ndarray, k: int | None, freq: Any) -> dict[str, np.ndarray]:
        """:meth:`choose` given the z-normalized contexts ``xn`` (computed once per call)."""
        k = self.options.k if k is None else k
        emb = self.zoo.extractor.embed(xn)
        sims_all = self._cosines(emb)
        if self.options.fusion == "router":
            return self._choose_router(xn, emb, sims_all, k, freq)
        order = np.argsort(-sims_all, axis=1, kind="stable")
        if self.options.selection == "similarity":
            idx = order[:, :k]
            err = None
        else:
            limit = self.options.candidates
            m = len(self.zoo) if limit is None else max(k, min(limit, len(self.zoo)))
            cand = order[:, :m]
            cerr = self._backtest_errors(ctx, cand)
            pick = np.argsort(cerr, axis=1, kind="stable")[:, :k]
            idx = np.take_along_axis(cand, pick, axis=1)
            err = np.take_along_axis(cerr, pick, axis=1)
        sims = np.take_along_axis(sims_all, idx, axis=1)
        out = {"members": idx, "similarity": sims, "weight": self._weights(sims, err)}
        if err is not None:
            out["error"] = err
        return out

    @_engine_call
    def _router_weights_of(self, ctx: np.ndarray, emb: np.ndarray | None = None, freq: Any = None
                       ) -> np.ndarray:
        """The zoo router's weights over all members for contexts ``[n, T]``: ``[n, M]``.

        ``freq``: the contexts' sampling frequency -- one value for all rows or one per row
        (a pandas alias such as ``"D"``/``"W"``/``"MS"``, a class name such as
        ``"weekly"``, or None for unknown); routers built without frequency inputs ignore it.
        """
        xn = preprocess.znorm(np.asarray(ctx, dtype=np.float64))[0]
        return self._router_weights(xn, self.zoo.extractor.embed(xn) if emb is None else emb, freq)

    def _router_weights(self, xn: np.ndarray, emb: np.ndarray, freq: Any) -> np.ndarray:
        """Router weights ``[n, M]`` of z-normalized contexts ``xn`` and their embeddings."""
        router = self.zoo.router
        if router is None:
            raise SeqFusionError("this zoo has no router")
        fidx = self._frequency_indices(freq, len(xn)) if router.frequencies else None
        return router.weights(xn, emb, self.options.router_temperature, fidx)

    @staticmethod
    def _frequency_indices(freq: Any, n: int) -> np.ndarray:
        from seqfusion.frequency import frequency_index

        if freq is None or not isinstance(freq, (list, tuple, np.ndarray)):  # one for all rows
            return np.full(n, frequency_index(freq), dtype=np.int64)
        values = list(freq)
        if len(values) != n:
            raise SeqFusionError(f"freq has {len(values)} entries for {n} series")
        cache: dict[Any, int] = {}
        return np.array([cache.setdefault(f, frequency_index(f)) for f in values], dtype=np.int64)

    def _choose_router(self, xn: np.ndarray, emb: np.ndarray, sims_all: np.ndarray, k: int,
                       freq: Any = None) -> dict[str, np.ndarray]:
        w_all = self._router_weights(xn, emb, freq)
        idx = np.argsort(-w_all, axis=1, kind="stable")[:, :k]
        w = np.take_along_axis(w_all, idx, axis=1)
        w = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-300)
        return {"members": idx, "similarity": np.take_along_axis(sims_all, idx, axis=1), "weight": w}

    def _weights(self, sims: np.ndarray, err: np.ndarray | None = None) -> np.ndarray:
        if self.options.fusion in ("mean", "median"):
            return np.full_like(sims, 1.0 / sims.shape[1], dtype=np.float64)
        if self.options.fusion == "inverse_error":
            if err is None:
                raise SeqFusionError("fusion 'inverse_error' needs selection='backtest'")
            w = 1.0 / np.maximum(err, 1e-6)
            return w / w.sum(axis=1, keepdims=True)
        z = (sims - sims.max(axis=1, keepdims=True)) / self.options.temperature
        w = np.exp(z.astype(np.float64))
        return w / w.sum(axis=1, keepdims=True)

    @_engine_call
    def predict_windows(self, x: np.ndarray, horizon: int, *, freq: Any = None, k: int | None = None,
                        members: np.ndarray | None = None, weights: np.ndarray | None = None,
                        **options: Any) -> np.ndarray:
        """Forecast each row of ``x [n, L]`` (one univariate history per row): ``[n, H]``.

        ``members`` optionally fixes the chosen member indices per row (``[n, k]``, e.g.
        chosen once per dataset), fused by plain mean or by ``weights`` (``[n, k]``, rows
        summing to 1); ``freq`` is the sampling frequency (one or one per row, see
        :meth:`_router_weights_of`; None: unknown); ``options`` override constructor settings
        for this call.
        """
        if options:
            return self.with_options(**options).predict_windows(x, horizon, freq=freq, k=k, members=members,
                                                                weights=weights)
        _check_horizon(horizon)
        k = self.options.k if k is None else k
        Options.check_k(k, len(self.zoo))
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2:
            raise SeqFusionError(f"windows must be [n, L], got shape {x.shape}")
        ctx = self.contexts(x)
        xn, mean, std = self._normalize(ctx, horizon)
        if members is not None:
            idx = np.asarray(members, dtype=np.int64).reshape(len(x), -1)
            if idx.min() < 0 or idx.max() >= len(self.zoo):
                raise SeqFusionError("member indices out of range")
            if weights is None:
                weights = np.full(idx.shape, 1.0 / idx.shape[1])
            else:
                weights = np.asarray(weights, dtype=np.float64)
                if weights.shape != idx.shape or not np.allclose(weights.sum(axis=1), 1.0) or (weights < 0).any():
                    raise SeqFusionError("weights must match members' shape, be >= 0 and sum to 1 per row")
        elif weights is not None:
            raise SeqFusionError("weights need members")
        else:
            # the whole-window normalization is the one selection uses: compute it once
            xsel = xn if self.options.normalization == "window" else preprocess.znorm(ctx)[0]
            chosen = self._choose(ctx, xsel, k, freq)
            idx, weights = chosen["members"], chosen["weight"]
        if self.options.fusion == "median" and members is None:
            preds = engine.member_rollouts(self.zoo.bank, xn, idx, horizon, self.options.clip)  # [n, k, H]
            fused = np.median(preds, axis=1).astype(np.float64)
        else:  # each (row, member) pair once, summed as they come
            fused = engine.fused_rollout(self.zoo.bank, xn, idx, weights, horizon, self.options.clip)
        with np.errstate(over="ignore", invalid="ignore"):
            out = fused * std + mean
        constant = preprocess.is_constant(ctx)
        out[constant] = ctx[constant, -1:]
        bad = ~np.isfinite(out).all(axis=1)
        if bad.any():
            raise SeqFusionError(f"the forecast of row {int(np.argmax(bad))} overflows float64 (values "
                                 "near the largest representable number); rescale the series")
        return out

    # ------------------------------------------------------------------ user API
    @_engine_call
    def predict(self, y: Any, horizon: int, *, freq: Any = None, k: int | None = None, level: Any = None,
                dayfirst: bool | None = None, date_format: str | None = None, X_df: Any = None,
                **options: Any) -> Any:
        """Forecast ``horizon`` steps for every variate / series of ``y``.

        ``y``: array ``[T]`` or ``[T, C]``, a wide DataFrame or a long DataFrame
        (``unique_id``, ``ds``, ``y``). The output mirrors the input: ``[H]``, ``[H, C]``,
        or a DataFrame with the future time stamps. ``freq``: the sampling frequency (a
        pandas alias such as ``"D"``, ``"W"``, ``"MS"``, or ``"weekly"``, ``"unknown"``);
        by default inferred from the time stamps, unknown for arrays; a pandas alias also
        dates the forecast when the input's stamps are irregular. ``dayfirst`` /
        ``date_format``: how text dates are read (see :func:`seqfusion.frames.to_datetime`).
        ``level``: interval levels in percent (e.g. ``[80, 95]``); DataFrame output then
        gets statsforecast-style columns ``<name>-lo-80``, ``<name>-hi-80``, ... (``name``:
        the variate, or ``y`` for long frames); see :mod:`seqfusion.quantiles`.
        ``X_df``: the future values of the covariates (the long frame's extra columns):
        ``unique_id, ds, <covariates>``, ``horizon`` rows per series (see
        :mod:`seqfusion.covariates`).
        ``options`` override constructor settings for this call.
        """
        if options:
            return self.with_options(**options).predict(y, horizon, freq=freq, k=k, level=level, dayfirst=dayfirst,
                                                        date_format=date_format, X_df=X_df)
        _check_horizon(horizon)
        if X_df is not None or _with_covariates(y):
            levels = qmod.check_levels(level) if level is not None else []
            return self._covariate_frame(y, X_df, horizon, k, freq, np.empty(0), levels, dayfirst, date_format)
        if level is not None:
            return self._predict_levels(y, horizon, k, freq, qmod.check_levels(level), dayfirst, date_format)
        if isinstance(y, (np.ndarray, list, tuple)):  # arrays need no pandas
            kind, series = preprocess.array_series(y)
            fc = self._point(series, None, horizon, k, self._input_frequency(None, freq), freq)
            return fc[0] if kind == "array1d" else fc.T.copy()
        from seqfusion.frames import assemble, parse

        parsed = parse(y, dayfirst, date_format)
        fc = self._point(parsed.series, parsed, horizon, k, self._input_frequency(parsed, freq), freq)
        return assemble(parsed, fc, horizon, freq)

    @_engine_call
    def predict_histories(self, histories: Any, horizon: int, *, quantiles: Any = None, freq: Any = None,
                          k: int | None = None, **options: Any) -> np.ndarray:
        """Forecast whole histories of any lengths: a list of 1-D arrays (or ``[n, L]``) ->
        ``[n, H]``, or ``[n, H, Q]`` with ``quantiles`` (levels in (0, 1)). ``freq``: one
        sampling frequency for all (or one per history); None: unknown. The array-in,
        array-out core of :meth:`predict` and :meth:`predict_quantiles` (no pandas needed)."""
        if options:
            return self.with_options(**options).predict_histories(histories, horizon, quantiles=quantiles, freq=freq,
                                                                  k=k)
        _check_horizon(horizon)
        series = [np.asarray(h, dtype=np.float64).reshape(-1) for h in histories]
        if not series:
            raise SeqFusionError("the input is empty")
        classes = self._frequency_classes(freq, len(series))
        if quantiles is not None:
            q = qmod.check_quantiles(quantiles)
            return self._quantiles(series, None, horizon, k, classes, freq, q)[1]
        return self._point(series, None, horizon, k, classes, freq)

    def _point(self, series: list[np.ndarray], parsed: Any, horizon: int, k: int | None, classes: Any,
               freq: Any) -> np.ndarray:
        """Point forecasts ``[n, H]``: from the last ``input_length`` points with
        ``history="last"`` or when no history is longer and none is of a low frequency (no
        room for a back-test: the same forecast, without the whole-history bookkeeping), else
        from the whole histories."""
        _check_horizon(horizon, series)
        low = bool(history.low_frequency(classes).any())
        if self.options.history == "last" or (max(len(v) for v in series) <= self.input_length and not low):
            same = len(series) > 1 and len({len(v) for v in series}) == 1
            names = parsed.names if parsed is not None else None
            ctx = self.contexts(np.stack(series) if same else series, names)  # equal lengths: [n, T] at once
            return self._floor(self.predict_windows(ctx, horizon, freq=classes, k=k), self._nonnegative(series))
        fc, hists = self._forecast_histories(series, parsed, horizon, k, classes, freq)
        return self._floor(fc.point, self._nonnegative(hists))

    def _nonnegative(self, series: Sequence[np.ndarray]) -> np.ndarray:
        """The rows :meth:`_floor` raises to 0: series without a negative value (NaN are
        not values), none without :attr:`Options.nonnegative`; ``[n]`` bool."""
        if not self.options.nonnegative:
            return np.zeros(len(series), dtype=bool)
        return np.array([not (np.asarray(s) < 0).any() for s in series], dtype=bool)

    @staticmethod
    def _floor(values: np.ndarray, nonneg: np.ndarray) -> np.ndarray:
        """``values [n, ...]`` raised to 0 in the rows ``nonneg`` (:meth:`_nonnegative`).
        Applied to point forecasts and to each quantile alone, so the median stays the
        point forecast and, for a target that is not negative, no pinball loss grows."""
        if nonneg.any():  # in place on a copy: no gather and scatter of the rows
            values = values.copy()
            np.maximum(values, 0.0, out=values, where=nonneg.reshape((-1,) + (1,) * (values.ndim - 1)))
        return values

    def _quantiles(self, series: list[np.ndarray], parsed: Any, horizon: int, k: int | None, classes: Any,
                   freq: Any, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Point forecasts ``[n, H]`` and quantiles ``[n, H, Q]`` of whole histories (see
        :mod:`seqfusion.quantiles`)."""
        _check_horizon(horizon, series)
        fc, hists = self._forecast_histories(series, parsed, horizon, k, classes, freq)
        names = parsed.names if parsed is not None else list(range(len(series)))
        scale = qmod.spread(fc.residuals, hists, horizon, fc.backtest_horizon)
        if fc.long_quantiles is not None:
            scale = qmod.with_long_spread(scale, fc.long_quantiles, fc.weights[:, history.CANDIDATES.index("long")])
        nonneg = self._nonnegative(hists)
        out = self._floor(qmod.from_spread(fc.point, scale, q), nonneg)  # each quantile raised alone
        if self.options.intermittent:
            sparse = qmod.intermittent(hists, fc.seasonal)
            if sparse.any():
                out[sparse] = qmod.empirical([hists[i] for i in np.flatnonzero(sparse)], horizon, q)
        bad = ~np.isfinite(out).all(axis=(1, 2))
        if bad.any():
            raise SeqFusionError(f"the quantiles of series {preprocess.series_label(names[int(np.argmax(bad))])} "
                                 "overflow float64; "
                                 "rescale the series")
        return self._floor(fc.point, nonneg), out

    @_engine_call
    def predict_quantiles(self, y: Any, horizon: int, *, quantiles: Any = qmod.DEFAULT_QUANTILES,
                          freq: Any = None, k: int | None = None, level: Any = None,
                          dayfirst: bool | None = None, date_format: str | None = None, X_df: Any = None,
                          **options: Any) -> Any:
        """Quantile forecasts of every variate / series of ``y`` (inputs as :meth:`predict`,
        ``X_df`` too).

        Returns ``[H, Q]`` for an array ``[T]``, ``[H, N, Q]`` for ``[T, N]``; for a wide
        DataFrame one column per variate and level (``<variate>_q0.1`` ...), for a long
        frame ``unique_id, ds, y`` (the point forecast) plus ``q0.1`` ... Quantiles never
        cross; the spread comes from back-tests inside each history (see
        :mod:`seqfusion.quantiles`). ``level``: also the interval columns of
        :meth:`predict` (DataFrame input).
        """
        if options:
            return self.with_options(**options).predict_quantiles(y, horizon, quantiles=quantiles, freq=freq, k=k,
                                                                  level=level, dayfirst=dayfirst,
                                                                  date_format=date_format, X_df=X_df)
        _check_horizon(horizon)
        q = qmod.check_quantiles(quantiles)
        levels = qmod.check_levels(level) if level is not None else []
        if X_df is not None or _with_covariates(y):
            return self._covariate_frame(y, X_df, horizon, k, freq, q, levels, dayfirst, date_format)
        if isinstance(y, (np.ndarray, list, tuple)):
            if levels:
                raise SeqFusionError("level needs DataFrame input; for arrays ask for the quantiles")
            kind, series = preprocess.array_series(y)
            out = self._quantiles(series, None, horizon, k, self._input_frequency(None, freq), freq, q)[1]
            return out[0] if kind == "array1d" else out.transpose(1, 0, 2).copy()
        from seqfusion.frames import parse

        return self._quantile_frame(parse(y, dayfirst, date_format), horizon, k, freq, q, levels)

    def _predict_levels(self, y: Any, horizon: int, k: int | None, freq: Any, levels: list[float],
                        dayfirst: bool | None, date_format: str | None) -> Any:
        """:meth:`predict` with statsforecast-style interval columns (DataFrame input only)."""
        if isinstance(y, (np.ndarray, list, tuple)):
            raise SeqFusionError("level needs DataFrame input; for arrays use predict_quantiles")
        from seqfusion.frames import parse

        return self._quantile_frame(parse(y, dayfirst, date_format), horizon, k, freq, np.empty(0), levels)

    def _quantile_frame(self, parsed: Any, horizon: int, k: int | None, freq: Any, q: np.ndarray,
                        levels: list[float]) -> pd.DataFrame:
        """The forecast frame of ``parsed`` plus quantile columns (``q``) and interval
        columns (``levels``), all from one whole-history forecast."""
        from seqfusion.frames import assemble

        pairs = np.array([v for pair in qmod.level_quantiles(levels) for v in pair])
        point, out = self._quantiles(parsed.series, parsed, horizon, k, self._input_frequency(parsed, freq), freq,
                                     np.concatenate([q, pairs]))
        frame = assemble(parsed, point, horizon, freq)
        if len(q):
            labels = [qmod.quantile_label(v) for v in q]
            frame = _add_columns(frame, parsed, out[..., : len(q)], labels, lambda name, lb: f"{name}_{lb}",
                                 long_name=None)
        if levels:
            names = [f"{side}-{qmod.level_label(lv)}" for lv in levels for side in ("lo", "hi")]
            frame = _add_columns(frame, parsed, out[..., len(q):], names, lambda name, lb: f"{name}-{lb}",
                                 long_name="y")
        return frame

    def _covariate_frame(self, y: Any, X_df: Any, horizon: int, k: int | None, freq: Any, q: np.ndarray,
                         levels: list[float], dayfirst: bool | None, date_format: str | None) -> pd.DataFrame:
        """The forecast frame of a long history with covariates (future values ``X_df``),
        plus quantile columns (``q``) and interval columns (``levels``); see
        :mod:`seqfusion.covariates`."""
        from seqfusion import covariates

        if self.options.history != "whole":
            raise SeqFusionError("covariates need history='whole' (their weights come from back-tests in the history)")
        inputs = covariates.parse_inputs(y, X_df, horizon, freq, dayfirst, date_format)
        parsed = inputs.parsed
        _check_horizon(horizon, parsed.series)
        fc = covariates.forecast(self, inputs, horizon, k, self._input_frequency(parsed, freq), freq)
        bad = ~np.isfinite(fc.point).all(axis=1)
        if bad.any():
            raise SeqFusionError(f"the forecast of series {preprocess.series_label(parsed.names[int(np.argmax(bad))])} "
                                 "overflows float64; rescale the series or its covariates")
        nonneg = self._nonnegative(parsed.series)
        frame = inputs.frame.assign(y=self._floor(fc.point, nonneg).reshape(-1))
        if not len(q) and not levels:
            return frame
        pairs = np.array([v for pair in qmod.level_quantiles(levels) for v in pair])
        out = self._floor(covariates.quantiles(fc, horizon, np.concatenate([q, pairs])), nonneg)
        if not np.isfinite(out).all():
            raise SeqFusionError("the quantiles overflow float64; rescale the series or its covariates")
        if len(q):
            frame = _add_columns(frame, parsed, out[..., : len(q)], [qmod.quantile_label(v) for v in q],
                                 lambda name, lb: f"{name}_{lb}", long_name=None)
        if levels:
            names = [f"{side}-{qmod.level_label(lv)}" for lv in levels for side in ("lo", "hi")]
            frame = _add_columns(frame, parsed, out[..., len(q):], names, lambda name, lb: f"{name}-{lb}",
                                 long_name="y")
        return frame

    def _frequency_classes(self, freq: Any, n: int) -> Any:
        from seqfusion.frequency import frequency_class

        if freq is None or not isinstance(freq, (list, tuple, np.ndarray)):
            return frequency_class(freq)
        if len(freq) != n:
            raise SeqFusionError(f"freq has {len(freq)} entries for {n} series")
        return [frequency_class(f) for f in freq]

    def _forecast_histories(self, series: list[np.ndarray], parsed: Any, horizon: int, k: int | None,
                            classes: Any, freq: Any) -> tuple[history.HistoryForecast, list[np.ndarray]]:
        """:func:`seqfusion.history.forecast` of whole histories with this forecaster's zoo,
        and the histories as it read them (see :func:`seqfusion.preprocess.histories`)."""
        names = parsed.names if parsed is not None else list(range(len(series)))
        hists = preprocess.histories(series, self.options.min_length, names)
        n = len(hists)
        per_row = np.asarray(classes if isinstance(classes, list) else [classes] * n, dtype=object)
        seasons = np.array([history.season_length(c) for c in per_row], dtype=np.int64)
        sub = np.flatnonzero(per_row == "subhourly")
        if len(sub):  # steps per day: from the alias or the stamps
            steps = self._steps(parsed, freq, n)
            seasons[sub] = [history.season_length("subhourly", steps[i]) for i in sub]

        def zoo(contexts: list[np.ndarray], h: int, rows: np.ndarray) -> np.ndarray:
            return self.predict_windows(self.contexts(contexts), h, freq=list(per_row[rows]), k=k)

        members = [cast(engine.PatchQuantile, m.model) for m in self.zoo.long_members if self.options.long_context]

        def long(contexts: list[np.ndarray], h: int) -> np.ndarray:
            out = np.zeros(0)
            for model in members:  # the mean of the members' quantiles
                T = model.input_length
                x = np.full((len(contexts), T), np.nan)
                for i, c in enumerate(contexts):
                    x[i, T - min(T, len(c)):] = c[-T:]
                # standardized in float64 first (the member is affine-equivariant): its float32
                # input, and so the forecast, is the same at any scale of the series
                z, mean, std, constant = preprocess.standardize_observed(x)
                q = model.forecast(z.astype(np.float32), h).astype(np.float64)
                q = q * std[:, :, None] + mean[:, :, None]
                q[constant] = mean[constant, :, None]  # a constant context: that constant, no spread
                out = q if not len(out) else out + q
            return out / len(members)

        # each history divided by a power of two near its largest magnitude (exact): the
        # seasonal indices, Theta and the back-test errors work at any scale
        top = np.fromiter((np.max(np.abs(h)) for h in hists), dtype=np.float64, count=n)
        scale = preprocess.pow2_scale(top[:, None])[:, 0]
        whole = self.options.history == "whole"
        fc = history.forecast([h / sc for h, sc in zip(hists, scale)], horizon, seasons, zoo,
                              backtests=history.BACKTESTS if whole else 0,
                              min_context=max(self.input_length, self.options.min_length),
                              short=history.low_frequency(per_row) & whole,
                              backtest_horizon=history.backtest_lengths(per_row, horizon),
                              long=long if members else None,
                              weeks=np.where(np.isin(per_row, ("hourly", "subhourly")) & (seasons > 1), 7 * seasons, 1))
        with np.errstate(over="ignore", invalid="ignore"):  # back to each series' own scale
            lq = fc.long_quantiles
            fc = replace(fc, point=fc.point * scale[:, None],
                         residuals=fc.residuals * scale[:, None, None], candidates=fc.candidates * scale[:, None, None],
                         long_quantiles=None if lq is None else lq * scale[:, None, None])
        bad = ~np.isfinite(fc.point).all(axis=1)
        if bad.any():
            raise SeqFusionError(f"the forecast of series {preprocess.series_label(names[int(np.argmax(bad))])} "
                                 "overflows float64 (values near the largest representable number); rescale the series")
        return fc, hists

    @staticmethod
    def _steps(parsed: Any, freq: Any, n: int) -> list[Any]:
        """The time step of each series (for sub-hourly seasons): ``freq`` when it is a
        pandas alias, else the median step of the series' stamps; None where unknown."""
        if isinstance(freq, str):
            from seqfusion.frequency import UNKNOWN, frequency_class, to_offset

            if frequency_class(freq) == "subhourly" and freq.strip().lower() != "subhourly":
                return [to_offset(freq)] * n
            if frequency_class(freq) != UNKNOWN:
                return [None] * n
        if parsed is None:
            return [None] * n
        import pandas as pd

        from seqfusion.frequency import median_steps_ns

        steps = median_steps_ns(parsed.index)
        return [None if st is None else pd.Timedelta(st, "ns") for st in steps]

    @staticmethod
    def _input_frequency(parsed: Any, freq: Any) -> Any:
        """``freq`` as given (checked), else one inferred class per series of ``parsed``."""
        from seqfusion.frequency import UNKNOWN, frequency_class, median_steps_ns, mismatched_steps, step_class

        given = None if freq is None else frequency_class(freq)
        if parsed is None:
            return given
        steps = median_steps_ns(parsed.index)
        if given is None:
            return [UNKNOWN if st is None else step_class(st) for st in steps]
        clash = mismatched_steps(freq, steps)
        if clash:
            i = clash[0]
            raise SeqFusionError(f"freq {freq!r} ({given}) does not match the time stamps of series "
                                 f"{preprocess.series_label(parsed.names[i])}, which are "
                                 f"{step_class(int(steps[i] or 0))}: drop freq to use the stamps' own")
        return given

    @_engine_call
    def explain(self, y: Any, horizon: int | None = None, *, freq: Any = None, k: int | None = None,
                dayfirst: bool | None = None, date_format: str | None = None) -> pd.DataFrame:
        """Per variate, the chosen members with rank, similarity, fusion weight and source.

        With ``horizon``, also where the whole-history forecast and its spread come from:
        the weight of each candidate of :mod:`seqfusion.history` (``weight_<name>`` for
        every name of :data:`seqfusion.history.CANDIDATES`: ``weight_zoo``, ``weight_theta``,
        ``weight_lags``, ...), the season
        removed (0: none) and ``spread``: the source of the quantiles' spread (for an
        intermittent history, its recent values: :func:`seqfusion.quantiles.intermittent`).
        """
        import pandas as pd

        from seqfusion.frames import parse

        if k is not None:
            Options.check_k(k, len(self.zoo))
        parsed = parse(y, dayfirst, date_format)
        ctx = self.contexts(parsed.series, parsed.names)
        classes = self._input_frequency(parsed, freq)
        chosen = self._pick(ctx, k, classes)
        err = chosen.get("error", np.full(chosen["members"].shape, np.nan))
        per_series: list[dict[str, Any]] = [{} for _ in parsed.names]
        if horizon is not None:
            _check_horizon(horizon, parsed.series)
            fc, hists = self._forecast_histories(parsed.series, parsed, horizon, k, classes, freq)
            sparse = qmod.intermittent(hists, fc.seasonal) if self.options.intermittent else np.zeros(len(hists), bool)
            for i, info in enumerate(per_series):
                info.update({f"weight_{c}": float(fc.weights[i, j]) for j, c in enumerate(history.CANDIDATES)})
                info["season_removed"] = int(fc.season[i]) if fc.seasonal[i] else 0
                nb = int(fc.n_backtests[i])
                steps = int(np.isfinite(fc.residuals[i, 0]).sum()) if nb else 0
                info["spread"] = (f"errors of {nb} back-test(s) of {steps} points in the history" if nb else
                                  "random walk of the one-step differences (no room for a back-test)")
                if sparse[i]:
                    info["spread"] = (f"empirical quantiles of the last {qmod.INTERMITTENT_WINDOW} values "
                                      "(intermittent history)")
        rows = []
        for i, name in enumerate(parsed.names):
            for rank, m in enumerate(chosen["members"][i], start=1):
                mem = self.zoo.members[m]
                rows.append({"variate": name, "rank": rank, "ptm": mem.name,
                             "similarity": float(chosen["similarity"][i, rank - 1]),
                             "weight": float(chosen["weight"][i, rank - 1]),
                             "backtest_error": float(err[i, rank - 1]),
                             "source": mem.source, "frequency": mem.frequency,
                             "architecture": mem.architecture, **per_series[i]})
        return pd.DataFrame(rows)


def _with_covariates(y: Any) -> bool:
    """Whether ``y`` is a long frame with covariate columns (arrays: never; no pandas needed)."""
    if isinstance(y, (np.ndarray, list, tuple)):
        return False
    from seqfusion.covariates import has_covariates

    return has_covariates(y)


def _add_columns(frame: pd.DataFrame, parsed: Any, values: np.ndarray, labels: list[str], name_of: Any,
                 long_name: str | None) -> pd.DataFrame:
    """Add ``values [n, H, Q]`` to a forecast frame: long frames get one column per label
    (``long_name-label``, or the label alone when ``long_name`` is None), wide frames one
    per variate and label (``name_of(variate, label)``)."""
    import pandas as pd

    frame = frame.copy()
    n, H, Q = values.shape
    new: dict[str, Any] = {}
    if parsed.kind == "long":
        for j, lb in enumerate(labels):
            new[lb if long_name is None else f"{long_name}-{lb}"] = values[:, :, j].reshape(-1)
        return pd.concat([frame.reset_index(drop=True), pd.DataFrame(new)], axis=1).set_axis(frame.index)
    for i, name in enumerate(parsed.names):
        for j, lb in enumerate(labels):
            new[name_of(name, lb)] = values[i, :, j]
    return pd.concat([frame, pd.DataFrame(new, index=frame.index)], axis=1)


MAX_HORIZON = 100_000
"""The longest horizon forecast (memory and time grow with it: 100,000 steps of one series
take about 15 s and 0.8 GiB)."""
HORIZON_PER_POINT = 10
"""A horizon may be at most this many times the longest history (or 1,000 steps, if more)."""


def _check_horizon(horizon: Any, series: Sequence[np.ndarray] | None = None) -> None:
    """A one-line SeqFusionError unless ``horizon`` is a positive integer within
    :data:`MAX_HORIZON` and, given the ``series``, :data:`HORIZON_PER_POINT` times the
    longest of them (at least 1,000)."""
    if not is_int(horizon) or horizon < 1:
        raise SeqFusionError(f"horizon must be a positive integer, got {horizon!r}")
    if horizon > MAX_HORIZON:
        raise SeqFusionError(f"horizon {horizon:,} is above the longest supported, {MAX_HORIZON:,} steps")
    if series:
        longest = max(len(s) for s in series)
        limit = max(1_000, HORIZON_PER_POINT * longest)
        if horizon > limit:
            raise SeqFusionError(f"horizon {horizon:,} is more than {HORIZON_PER_POINT} times the longest history "
                                 f"({longest:,} points): at most {limit:,} steps")
