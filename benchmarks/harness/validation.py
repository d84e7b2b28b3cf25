"""A validation split of the multivariate protocol that never touches the test rows.

Design choices are made on windows whose targets end before each dataset's test split:
the ``n_test`` rows just before the test part play the test part's role (with their own
36 look-back rows before them). Scaling is unchanged (fit on the first 70% of rows).
"""
from __future__ import annotations

import dataclasses

from benchmarks.harness.protocol import MultivariateData, load_dataset


def validation_split(data: MultivariateData) -> MultivariateData:
    """The same dataset cut before its test rows, with an equally long evaluation part."""
    cut = data.n_rows - data.n_test
    if cut - data.n_test - data.lookback < 0:
        raise ValueError(f"{data.name}: too few rows before the test split for validation")
    return dataclasses.replace(data, values=data.values[:cut], n_test=data.n_test)


def load_split(name: str, split: str) -> MultivariateData:
    """Load dataset ``name`` for ``split`` in {"test", "validation"}."""
    data = load_dataset(name)
    if split == "test":
        return data
    if split == "validation":
        return validation_split(data)
    raise ValueError(f"unknown split {split!r} (test or validation)")
