"""seqfusion as an sktime forecaster: :class:`SeqFusionForecaster` (extra ``sktime``).

Zero-shot: ``fit`` loads the zoo and keeps the history (sktime stores it), ``predict(fh)``
forecasts every series and variate of it with :meth:`seqfusion.SeqFusion.predict`'s
whole-history forecast. Univariate and multivariate ``y``, panels and hierarchies
(``pd-multiindex``, ``pd_multiindex_hier``, series of unequal lengths and ends), missing
values, ``predict_quantiles`` and ``predict_interval``; exogenous ``X`` is ignored.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from seqfusion.integrations._common import by_frequency, forecast, index_freq, load_model, require

require("sktime", "sktime")

from sktime.datatypes import update_data  # noqa: E402
from sktime.forecasting.base import BaseForecaster, ForecastingHorizon  # noqa: E402

__all__ = ["SeqFusionForecaster"]


class SeqFusionForecaster(BaseForecaster):  # type: ignore[misc, unused-ignore]
    """Zero-shot sktime forecaster over a seqfusion zoo.

    Parameters
    ----------
    zoo: a zoo folder; None: the shipped default zoo.
    freq: the sampling frequency as a pandas alias (``"D"``, ``"MS"``, ``"h"``, ...) or a
        class name (``"monthly"``); None: read from ``y``'s index (a PeriodIndex's own, a
        DatetimeIndex's ``freq`` or the one pandas infers from its stamps), unknown for
        integer indexes.
    options: settings of :class:`seqfusion.SeqFusion` (``k``, ``history``, ``fusion``, ...);
        None: the zoo's recommended ones.

    Every variate of every series is forecast on its own; each series' forecast steps
    count from its own last time point, so series of a panel may end at different times.
    Quantiles come from back-tests inside each history (:mod:`seqfusion.quantiles`); the
    interval of coverage c lies between the quantiles (1 - c) / 2 and (1 + c) / 2.

    Examples
    --------
    >>> from sktime.datasets import load_airline
    >>> from seqfusion.integrations.sktime import SeqFusionForecaster
    >>> y = load_airline()
    >>> forecaster = SeqFusionForecaster().fit(y)
    >>> y_pred = forecaster.predict(fh=[1, 2, 3])
    >>> intervals = forecaster.predict_interval(fh=[1, 2, 3], coverage=0.8)
    """

    _tags = {
        "authors": ["seqfusion"],
        "maintainers": ["seqfusion"],
        "object_type": "forecaster",
        "y_inner_mtype": ["pd.DataFrame", "pd-multiindex", "pd_multiindex_hier"],
        "X_inner_mtype": ["pd.DataFrame", "pd-multiindex", "pd_multiindex_hier"],
        "capability:multivariate": True,
        "capability:exogenous": False,
        "capability:insample": False,
        "capability:pred_int": True,
        "capability:pred_int:insample": False,
        "capability:missing_values": True,
        "capability:unequal_length": True,
        "capability:update": True,
        "requires-fh-in-fit": False,
        "X-y-must-have-same-index": False,
        "fit_is_empty": False,
    }

    def __init__(self, zoo: str | None = None, freq: str | None = None, options: dict[str, Any] | None = None) -> None:
        self.zoo = zoo
        self.freq = freq
        self.options = options
        super().__init__()

    def _fit(self, y: pd.DataFrame, X: Any = None, fh: Any = None) -> SeqFusionForecaster:
        self.model_ = load_model(self.zoo, self.options)
        self._cur_y = y  # the history to forecast from (kept whatever sktime's remember_data)
        return self

    def _update(self, y: pd.DataFrame, X: Any = None, update_params: bool = True) -> SeqFusionForecaster:
        # zero-shot: nothing to refit, the new observations extend the history
        self._cur_y = update_data(self._cur_y, y)
        return self

    def _predict(self, fh: ForecastingHorizon, X: Any = None) -> pd.DataFrame:
        index, point, _ = self._forecast(fh, None)
        return pd.DataFrame(point, index=index, columns=self._cur_y.columns)

    def _predict_quantiles(self, fh: ForecastingHorizon, X: Any, alpha: list[float]) -> pd.DataFrame:
        index, _, q = self._forecast(fh, alpha)
        assert q is not None
        columns = pd.MultiIndex.from_product([self._get_varnames(), alpha])
        return pd.DataFrame(q.reshape(len(index), -1), index=index, columns=columns)

    def _forecast(self, fh: ForecastingHorizon, alpha: list[float] | None
                  ) -> tuple[pd.Index, np.ndarray, np.ndarray | None]:
        """The absolute time index of the forecast (with the instance levels of a panel),
        point forecasts ``[rows, variates]`` and quantiles ``[rows, variates, Q]``."""
        y = self._cur_y
        groups: list[tuple[tuple[Any, ...] | None, pd.DataFrame]] = [(None, y)]
        if isinstance(y.index, pd.MultiIndex):
            levels = list(range(y.index.nlevels - 1))
            by = y.groupby(level=levels[0] if len(levels) == 1 else levels, sort=False)
            groups = [(key if isinstance(key, tuple) else (key,), part.droplevel(levels)) for key, part in by]
        # the time step: the cutoff's, else (a panel's stamps) the first series' that pandas can infer
        step = getattr(self.cutoff, "freq", None) or next(
            (f for f in (index_freq(part.index) for _, part in groups) if f is not None), None)
        step_alias = None if step is None else str(pd.tseries.frequencies.to_offset(step).freqstr)
        if step is not None:
            fh = ForecastingHorizon(fh.to_pandas(), is_relative=fh.is_relative, freq=step)
        times = fh.to_absolute_index(self.cutoff)
        histories, freqs, steps = [], [], []
        for _, part in groups:
            freq = self.freq or index_freq(part.index) or step_alias
            # steps from this series' own last time point to each forecast time
            rel = ForecastingHorizon(times, is_relative=False, freq=step).to_relative(part.index[-1:])
            rel = np.asarray(rel.to_pandas(), dtype=np.int64)
            for column in y.columns:
                histories.append(part[column].to_numpy(dtype=np.float64))
                freqs.append(freq)
                steps.append(rel)
        n_var = len(y.columns)
        point = np.empty((len(histories), len(times)))
        q = np.empty((len(histories), len(times), len(alpha))) if alpha is not None else None
        # each series to its own horizon (a forecast's first steps depend on the horizon beyond
        # the back-tests' length): one call per frequency and horizon
        keys = [(f, int(s.max())) for f, s in zip(freqs, steps)]
        for (freq, horizon), rows in by_frequency(keys).items():
            p, qs = forecast(self.model_, [histories[i] for i in rows], horizon, freq, alpha)
            for j, i in enumerate(rows):
                point[i] = p[j, steps[i] - 1]
                if q is not None and qs is not None:
                    q[i] = qs[j, steps[i] - 1]
        # rows: series by series, each the forecast times; columns: variates
        n_series = len(groups)
        point = point.reshape(n_series, n_var, len(times)).transpose(0, 2, 1).reshape(-1, n_var)
        if q is not None:
            q = q.reshape(n_series, n_var, len(times), -1).transpose(0, 2, 1, 3).reshape(-1, n_var, q.shape[-1])
        if not isinstance(y.index, pd.MultiIndex):
            index = pd.Index(times, name=y.index.name)
        else:
            index = pd.MultiIndex.from_tuples([(*key, t) for key, _ in groups if key is not None for t in times],
                                              names=y.index.names)
        return index, point, q

    @classmethod
    def get_test_params(cls, parameter_set: str = "default") -> list[dict[str, Any]]:
        """Two fast settings for sktime's own checks: the defaults, and the zoo's forecast
        of the last 36 points alone with two members and a stated daily frequency
        (irrelevant to the test data's own index)."""
        return [{}, {"options": {"history": "last", "k": 2}, "freq": "D"}]
