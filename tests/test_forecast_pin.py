"""The default forecast of fixed inputs (point and quantiles; array, wide and long) is
pinned bit for bit (see tests/forecast_pin.py): a refactoring must not move it."""
from __future__ import annotations

import numpy as np

from tests.forecast_pin import PIN, forecasts


def test_default_forecasts_are_pinned_bit_for_bit() -> None:
    pinned = np.load(PIN)
    now = forecasts()
    assert sorted(now) == sorted(pinned.files)
    for key, values in now.items():
        np.testing.assert_array_equal(values, pinned[key], err_msg=key)
