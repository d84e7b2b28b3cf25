"""Markers of the adapter tests: each needs its library (an optional extra) and fails, never
skips, without it. Every test marked with a library is also marked ``adapters``, which the
project's pytest options deselect by default (``-m "not adapters"``); ``.ci/run`` runs them
with ``-m "sktime or gluonts"`` (pandas 2.x) and ``-m darts`` (pandas 3.x)."""
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


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.get_closest_marker(name) for name in MARKERS):
            item.add_marker(pytest.mark.adapters)
