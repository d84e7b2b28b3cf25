"""Fixed inputs and the default zoo's forecasts of them, pinned bit for bit.

``python -m tests.forecast_pin`` rewrites ``tests/data/forecast_pin.npz`` (only when a
change of the forecasts is intended, and said so in the commit);
``tests/test_forecast_pin.py`` checks the current code against it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

PIN = Path(__file__).resolve().parent / "data" / "forecast_pin.npz"
QUANTILES = (0.1, 0.5, 0.9)
LEVELS = (80, 95)


def inputs() -> dict[str, Any]:
    """Array ``[T]``, array ``[T, C]``, a wide daily frame and a long frame of mixed
    frequencies and lengths (seed 20261207)."""
    rng = np.random.default_rng(20261207)
    t = np.arange(300)
    walk = 50 + rng.normal(size=(300, 3)).cumsum(axis=0) + 5 * np.sin(2 * np.pi * t / 7)[:, None]
    wide = pd.DataFrame(walk, columns=["a", "b", "c"], index=pd.date_range("2024-01-01", periods=300, freq="D"))
    long = pd.concat([
        pd.DataFrame({"unique_id": "hourly", "ds": pd.date_range("2024-01-01", periods=400, freq="h"),
                      "y": 10 + np.sin(2 * np.pi * np.arange(400) / 24) + rng.normal(0, 0.2, 400)}),
        pd.DataFrame({"unique_id": "monthly", "ds": pd.date_range("2010-01-01", periods=90, freq="MS"),
                      "y": 100 + np.arange(90) + 8 * np.sin(2 * np.pi * np.arange(90) / 12)}),
        pd.DataFrame({"unique_id": "short", "ds": pd.date_range("2024-01-01", periods=20, freq="W"),
                      "y": rng.normal(size=20).cumsum()}),
    ], ignore_index=True)
    return {"array1d": walk[:, 0], "array2d": walk[:120], "wide": wide, "long": long}


def forecasts() -> dict[str, np.ndarray]:
    from seqfusion import SeqFusion

    model = SeqFusion.from_pretrained()
    data = inputs()
    out: dict[str, np.ndarray] = {}
    for name, y in data.items():
        freq = "D" if name.startswith("array") else None
        point = model.predict(y, 24, freq=freq)
        quant = model.predict_quantiles(y, 24, quantiles=list(QUANTILES), freq=freq)
        if name != "array1d" and name != "array2d":
            quant = model.predict_quantiles(y, 24, quantiles=list(QUANTILES), freq=freq, level=list(LEVELS))
        out[f"{name}/point"] = _values(point)
        out[f"{name}/quantiles"] = _values(quant)
    return out


def _values(out: Any) -> np.ndarray:
    if isinstance(out, pd.DataFrame):
        return out.select_dtypes("number").to_numpy(dtype=np.float64)
    return np.asarray(out, dtype=np.float64)


if __name__ == "__main__":
    PIN.parent.mkdir(exist_ok=True)
    np.savez_compressed(PIN, **forecasts())
    print(f"wrote {PIN}")
