"""seqfusion as a GluonTS predictor: :class:`SeqFusionPredictor` (extra ``gluonts``).

It yields one ``QuantileForecast`` per dataset entry, starting right after the entry's
target (plus ``lead_time`` steps), with one array per quantile level (keys ``"0.1"``,
...) and the point forecast under ``"mean"``; so ``make_evaluation_predictions`` with
``Evaluator``, and ``gluonts.model.evaluate_model`` (GIFT-Eval's evaluation), work as
with any GluonTS model. Entries are forecast in batches; a two-dimensional target
(variates by time) gets arrays ``[Q, H, variates]``.
"""
# no `from __future__ import annotations`: GluonTS' @validated reads the constructor's annotations at run time

from collections.abc import Iterator
from typing import Any

import numpy as np

from seqfusion.integrations._common import by_frequency, forecast, load_model, min_length, require

require("gluonts", "gluonts")

from gluonts.core.component import validated  # noqa: E402
from gluonts.dataset.common import DataEntry, Dataset  # noqa: E402
from gluonts.model.forecast import QuantileForecast  # noqa: E402
from gluonts.model.predictor import RepresentablePredictor  # noqa: E402

__all__ = ["SeqFusionPredictor"]

#: the quantile levels a predictor returns by default (those of GIFT-Eval's CRPS)
QUANTILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


class SeqFusionPredictor(RepresentablePredictor):  # type: ignore[misc, unused-ignore]
    """Zero-shot GluonTS predictor over a seqfusion zoo.

    Parameters
    ----------
    prediction_length: forecast steps per entry.
    quantiles: the levels of the forecast's quantile arrays, strictly between 0 and 1.
    zoo: a zoo folder; None: the shipped default zoo.
    options: settings of :class:`seqfusion.SeqFusion` (``k``, ``history``, ...); None:
        the zoo's recommended ones.
    freq: the sampling frequency (a pandas alias or a class name such as ``"monthly"``);
        None: each entry's ``start`` period's own.
    batch_size: entries forecast together.
    lead_time: steps skipped between the end of the target and the forecast's start.
    impute_short: a target with fewer present values than the forecaster's
        ``min_length`` has its missing values filled as GluonTS' ``LastValueImputation``
        does (and GIFT-Eval's baselines; all missing: zeros) instead of being rejected;
        targets with enough present values keep their gaps, which the forecaster fills.

    The predictor serializes (``serialize`` / ``Predictor.deserialize``) as its
    constructor arguments; the zoo is loaded again from ``zoo``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from seqfusion.integrations.gluonts import SeqFusionPredictor
    >>> dataset = [{"start": pd.Period("2020-01", freq="M"), "target": np.arange(48.0), "item_id": "a"}]
    >>> forecast = next(iter(SeqFusionPredictor(prediction_length=6).predict(dataset)))
    >>> forecast.start_date, forecast.quantile(0.9).shape
    (Period('2024-01', 'M'), (6,))
    """

    @validated()  # type: ignore[untyped-decorator, no-untyped-call, unused-ignore]
    def __init__(self, prediction_length: int, quantiles: tuple[float, ...] = QUANTILES, zoo: str | None = None,
                 options: dict[str, Any] | None = None, freq: str | None = None, batch_size: int = 1024,
                 lead_time: int = 0, impute_short: bool = True) -> None:
        super().__init__(prediction_length=prediction_length, lead_time=lead_time)
        if prediction_length < 1:
            raise ValueError(f"prediction_length must be at least 1, got {prediction_length}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        levels = [float(q) for q in quantiles]
        if not levels or any(not 0 < q < 1 for q in levels) or len(set(levels)) != len(levels):
            raise ValueError(f"quantiles must be distinct levels strictly between 0 and 1, got {list(quantiles)}")
        self.quantiles = tuple(levels)
        self.zoo = zoo
        self.options = options
        self.freq = freq
        self.batch_size = batch_size
        self.impute_short = impute_short
        self.model = load_model(zoo, options)

    @property
    def forecast_keys(self) -> list[str]:
        """The keys of every forecast's arrays: the quantile levels, then ``"mean"``."""
        return [str(q) for q in self.quantiles] + ["mean"]

    def predict(self, dataset: Dataset, **kwargs: Any) -> Iterator[QuantileForecast]:
        """One :class:`~gluonts.model.forecast.QuantileForecast` per entry of ``dataset``,
        in order (``kwargs``, e.g. ``num_samples``, are accepted and ignored)."""
        batch: list[DataEntry] = []
        for entry in dataset:
            batch.append(entry)
            if len(batch) == self.batch_size:
                yield from self._predict_batch(batch)
                batch = []
        if batch:
            yield from self._predict_batch(batch)

    def predict_item(self, item: DataEntry) -> QuantileForecast:
        return next(iter(self._predict_batch([item])))

    def _predict_batch(self, entries: list[DataEntry]) -> list[QuantileForecast]:
        histories: list[np.ndarray] = []
        freqs: list[str | None] = []
        owner: list[int] = []  # entry of each history (a 2-D target gives one per variate)
        for i, entry in enumerate(entries):
            target = np.asarray(entry["target"], dtype=np.float64)
            if target.ndim not in (1, 2):
                raise ValueError(f"entry {i}: target of {target.ndim} dimensions (1: univariate, 2: variates x time)")
            freq = self.freq or entry["start"].freqstr
            for row in np.atleast_2d(target):
                histories.append(self._usable(row))
                freqs.append(freq)
                owner.append(i)
        steps = self.lead_time + self.prediction_length
        point = np.empty((len(histories), self.prediction_length))
        q = np.empty((len(histories), self.prediction_length, len(self.quantiles)))
        for freq, rows in by_frequency(freqs).items():
            p, qs = forecast(self.model, [histories[r] for r in rows], steps, freq, self.quantiles)
            assert qs is not None
            point[rows] = p[:, self.lead_time:]
            q[rows] = qs[:, self.lead_time:]
        owners = np.asarray(owner)
        out = []
        for i, entry in enumerate(entries):
            mine = np.flatnonzero(owners == i)
            arrays = np.concatenate([q[mine].transpose(2, 1, 0), point[mine].T[None]], axis=0)  # [Q + 1, H, D]
            if np.ndim(entry["target"]) == 1:
                arrays = arrays[..., 0]
            start = entry["start"] + len(np.asarray(entry["target"]).T) + self.lead_time
            out.append(QuantileForecast(arrays, start_date=start, forecast_keys=self.forecast_keys,
                                        item_id=entry.get("item_id")))
        return out

    def _usable(self, values: np.ndarray) -> np.ndarray:
        if not self.impute_short or int((~np.isnan(values)).sum()) >= min_length(self.model):
            return values
        return last_value_impute(values)


def last_value_impute(values: np.ndarray) -> np.ndarray:
    """Missing values -> the last present value, leading ones -> the first present value;
    all missing -> zeros (GluonTS' ``LastValueImputation``)."""
    y = np.asarray(values, dtype=np.float64).copy()
    missing = np.isnan(y)
    if not missing.any():
        return y
    if missing.all():
        return np.zeros_like(y)
    idx = np.where(~missing, np.arange(len(y)), 0)
    np.maximum.accumulate(idx, out=idx)
    y = y[idx]
    first = y[np.flatnonzero(~missing)[0]]
    y[np.isnan(y)] = first
    return y
