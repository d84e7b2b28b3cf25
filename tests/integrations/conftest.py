"""Markers of the adapter tests: each needs its library (an optional extra) and fails, never
skips, without it; deselect with ``-m "not sktime"`` (etc.) where it is not installed."""
from __future__ import annotations

import pytest

MARKERS = {
    "sktime": "needs sktime (the 'sktime' extra; its releases cap pandas below 3.1)",
    "gluonts": "needs GluonTS (the 'gluonts' extra; its releases cap pandas below 3)",
    "darts": "needs darts (the 'darts' extra; the torch-free core package)",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
