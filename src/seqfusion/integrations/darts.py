"""seqfusion as a darts forecasting model: :class:`SeqFusionModel` (extra ``darts``).

A global, zero-shot model: ``fit`` takes no training (it records the series, as darts'
global models do), ``predict(n, series=...)`` forecasts any univariate or multivariate
``TimeSeries`` (or a list of them) from its whole history, and ``historical_forecasts``,
``backtest`` and the other darts tools that call them work without retraining.
Probabilistic: ``num_samples=S`` returns the forecast's quantiles at the levels
``(i + 0.5) / S``, i = 0 ... S - 1, as S samples, so that the samples' quantiles are the
forecaster's own (for an odd S the sample median is the point forecast).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from seqfusion.integrations._common import by_frequency, forecast, load_model, min_length, require

require("darts", "darts")

from darts import TimeSeries  # noqa: E402
from darts.models.forecasting.forecasting_model import GlobalForecastingModel  # noqa: E402

__all__ = ["SeqFusionModel"]


class SeqFusionModel(GlobalForecastingModel):  # type: ignore[misc, unused-ignore]
    """Zero-shot darts forecasting model over a seqfusion zoo.

    Parameters
    ----------
    zoo: a zoo folder; None: the shipped default zoo.
    options: settings of :class:`seqfusion.SeqFusion` (``k``, ``history``, ...); None: the
        zoo's recommended ones.
    freq: the sampling frequency (a pandas alias or a class name such as ``"monthly"``);
        None: the series' own for a time index, unknown for a range index.

    Every component of every series is forecast on its own. Covariates are not used
    (passing them is an error, as for any darts model without covariate support).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from darts import TimeSeries
    >>> from seqfusion.integrations.darts import SeqFusionModel
    >>> series = TimeSeries.from_times_and_values(pd.date_range("2020-01-01", periods=60, freq="MS"),
    ...                                           np.sin(np.arange(60) / 2))
    >>> model = SeqFusionModel().fit(series)
    >>> model.predict(6).n_timesteps, model.predict(6, num_samples=99).n_samples
    (6, 99)
    """

    def __init__(self, zoo: str | None = None, options: dict[str, Any] | None = None, freq: str | None = None) -> None:
        super().__init__(add_encoders=None)
        self.zoo = zoo
        self.options = options
        self.freq = freq
        self.seqfusion = load_model(zoo, options)

    def fit(self, series: TimeSeries | Sequence[TimeSeries], past_covariates: Any = None,
            future_covariates: Any = None, verbose: bool | None = None, **kwargs: Any) -> SeqFusionModel:
        """Nothing to train: records ``series`` (the default of :meth:`predict`) after checking
        that each is long enough; covariates are rejected."""
        if past_covariates is not None or future_covariates is not None:
            raise ValueError("SeqFusionModel uses no covariates")
        for ts in [series] if isinstance(series, TimeSeries) else series:
            self._check_series(ts)
        super().fit(series, verbose=verbose)
        return self

    def predict(self, n: int, series: TimeSeries | Sequence[TimeSeries] | None = None, past_covariates: Any = None,
                future_covariates: Any = None, num_samples: int = 1, verbose: bool | None = None,
                predict_likelihood_parameters: bool = False, show_warnings: bool = True,
                random_state: int | None = None, **kwargs: Any) -> TimeSeries | list[TimeSeries]:
        """Forecast ``n`` steps after the end of ``series`` (default: the series given to
        :meth:`fit`); one ``TimeSeries`` per input series, ``num_samples`` samples each."""
        super().predict(n, series, past_covariates, future_covariates, num_samples, verbose,
                        predict_likelihood_parameters, show_warnings, random_state)
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        single = series is None or isinstance(series, TimeSeries)
        if series is None:
            if self.training_series is None:
                raise ValueError("the model was fit on several series: pass the series to forecast")
            chosen = [self.training_series]
        else:
            chosen = [series] if isinstance(series, TimeSeries) else list(series)
        values = self._forecast(chosen, n, num_samples)
        out = [self._build_forecast_series(v, input_series=ts) for v, ts in zip(values, chosen)]
        return out[0] if single else out

    def _forecast(self, series: list[TimeSeries], n: int, num_samples: int) -> list[np.ndarray]:
        """Forecasts ``[n, components, samples]`` of each series."""
        histories, freqs, owner = [], [], []
        for i, ts in enumerate(series):
            self._check_series(ts)
            values = ts.values(copy=False)
            freq = self.freq or (ts.freq_str if ts.has_datetime_index else None)
            for c in range(values.shape[1]):
                histories.append(values[:, c])
                freqs.append(freq)
                owner.append(i)
        levels = None if num_samples == 1 else [(i + 0.5) / num_samples for i in range(num_samples)]
        out = np.empty((len(histories), n, num_samples))
        for freq, rows in by_frequency(freqs).items():
            point, q = forecast(self.seqfusion, [histories[r] for r in rows], n, freq, levels)
            out[rows] = point[..., None] if q is None else q
        owners = np.asarray(owner)
        return [out[owners == i].transpose(1, 0, 2) for i in range(len(series))]

    def _check_series(self, ts: TimeSeries) -> None:
        if not ts.is_deterministic:
            raise ValueError("SeqFusionModel forecasts deterministic series (one sample per time step)")
        if len(ts) < self.min_train_series_length:
            raise ValueError(f"a series of {len(ts)} points is too short: at least {self.min_train_series_length} "
                             "are needed")

    @property
    def supports_multivariate(self) -> bool:
        return True

    @property
    def supports_probabilistic_prediction(self) -> bool:
        return True

    @property
    def supports_past_covariates(self) -> bool:
        return False

    @property
    def supports_future_covariates(self) -> bool:
        return False

    @property
    def supports_static_covariates(self) -> bool:
        return False

    @property
    def supports_sample_weight(self) -> bool:
        return False

    @property
    def supports_optimized_historical_forecasts(self) -> bool:
        return False

    @property
    def _requires_training(self) -> bool:
        return False

    @property
    def min_train_samples(self) -> int:
        return 1

    @property
    def _target_window_lengths(self) -> tuple[int, int]:
        # the shortest history the forecaster accepts; it reads every point of longer ones
        return min_length(self.seqfusion), 0

    @property
    def extreme_lags(self) -> tuple[int | None, int | None, int | None, int | None, int | None, int | None, int]:
        return -self.min_train_series_length, -1, None, None, None, None, 0

    @property
    def _model_encoder_settings(self) -> tuple[int | None, int | None, bool, bool, list[int] | None,
                                               list[int] | None]:
        return None, None, False, False, None, None
