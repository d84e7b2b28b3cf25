"""What the adapters share: the forecaster they wrap, the sampling frequency of a time
index, and point and quantile forecasts of many histories from one whole-history forecast."""
from __future__ import annotations

import importlib
from collections.abc import Hashable, Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from seqfusion.forecaster import SeqFusion


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` (an adapter's library) or raise ImportError naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"seqfusion.integrations.{extra} needs {module}: pip install 'seqfusion[{extra}]'") from exc


def load_model(zoo: Any, options: Mapping[str, Any] | None) -> SeqFusion:
    """The forecaster of a zoo folder (None: the shipped default zoo) with ``options``
    (constructor settings of :class:`seqfusion.SeqFusion`, e.g. ``{"history": "last"}``).

    It pickles as the folder and the options and is loaded again when unpickled, so that
    the frameworks' own persistence (sktime's ``save``, darts' ``save``, pickling a fitted
    adapter) works."""
    from seqfusion.forecaster import SeqFusion

    class Reloadable(SeqFusion):
        def __reduce__(self) -> tuple[Any, ...]:
            return load_model, (zoo, dict(options or {}))

    Reloadable.__name__ = Reloadable.__qualname__ = "SeqFusion"
    return Reloadable.from_pretrained(zoo, **dict(options or {}))


def min_length(model: SeqFusion) -> int:
    """The shortest history ``model`` accepts (its ``min_length`` setting)."""
    settings: Any = getattr(model, "options", model)  # the forecaster's settings, or the forecaster itself
    return int(settings.min_length)


def index_freq(index: pd.Index) -> str | None:
    """The pandas frequency alias of a time index: a PeriodIndex's own, a DatetimeIndex's
    ``freq`` or, without one, the alias pandas infers from three or more stamps; None for
    integer positions or irregular stamps (the forecaster then treats the frequency as
    unknown)."""
    import pandas as pd

    if isinstance(index, pd.PeriodIndex):
        return str(index.freqstr)
    if isinstance(index, pd.DatetimeIndex):
        if index.freq is not None:
            return str(index.freqstr)
        if len(index) >= 3:
            inferred = pd.DatetimeIndex(index, freq="infer").freq
            return None if inferred is None else str(inferred.freqstr)
    return None


def forecast(model: SeqFusion, histories: Sequence[np.ndarray], horizon: int, freq: str | None,
             quantiles: Sequence[float] | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Point forecasts ``[n, H]`` of ``histories`` (1-D arrays, one sampling frequency
    ``freq``) and, with ``quantiles``, their quantiles ``[n, H, Q]``, both from one
    whole-history forecast (:meth:`seqfusion.SeqFusion.predict_quantiles` of a long frame
    whose time stamps are the positions 0, 1, ... of each history)."""
    series = [np.asarray(h, dtype=np.float64).reshape(-1) for h in histories]
    if quantiles is None:
        return np.asarray(model.predict_histories(series, horizon, freq=freq), dtype=np.float64), None
    import pandas as pd

    levels = [float(q) for q in quantiles]
    lengths = np.array([len(s) for s in series])
    frame = pd.DataFrame({"unique_id": np.repeat(np.arange(len(series)), lengths),
                          "ds": np.concatenate([np.arange(n) for n in lengths]),
                          "y": np.concatenate(series)})
    out = model.predict_quantiles(frame, horizon=horizon, quantiles=levels, freq=freq)
    out = out.sort_values(["unique_id", "ds"], kind="stable")
    if len(out) != len(series) * horizon:
        raise RuntimeError(f"the forecaster returned {len(out)} rows for {len(series)} series of {horizon} steps")
    point = out["y"].to_numpy(dtype=np.float64).reshape(len(series), horizon)
    columns = [c for c in out.columns if c not in ("unique_id", "ds", "y")]
    if len(columns) != len(levels):
        raise RuntimeError(f"the forecaster returned quantile columns {columns} for levels {levels}")
    q = out[columns].to_numpy(dtype=np.float64).reshape(len(series), horizon, len(levels))
    return point, q


K = TypeVar("K", bound=Hashable)


def by_frequency(freqs: Sequence[K]) -> dict[K, list[int]]:
    """Positions of ``freqs`` (frequencies, or other keys of a forecast call) grouped by
    value, in order of first appearance."""
    groups: dict[K, list[int]] = {}
    for i, f in enumerate(freqs):
        groups.setdefault(f, []).append(i)
    return groups
