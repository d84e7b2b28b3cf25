"""Window sampling, filtering and z-normalisation."""
from __future__ import annotations

import numpy as np
import pytest

from seqfusion.training.data.windows import sample_windows, window_is_informative


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_shapes_and_windows_come_from_series() -> None:
    a = np.arange(100, dtype=np.float64)
    b = 1000 + np.sin(np.arange(50)) * 10
    w = sample_windows([a, b, np.arange(5.0)], length=20, n=64, rng=_rng())
    assert w.shape == (64, 20) and w.dtype == np.float64
    for row in w:
        src = a if row[0] < 500 else b
        start = int(np.argmin(np.abs(src - row[0])))
        np.testing.assert_array_equal(row, src[start:start + 20])


def test_deterministic_given_rng() -> None:
    s = [np.random.default_rng(1).normal(size=300) for _ in range(3)]
    np.testing.assert_array_equal(sample_windows(s, 16, 40, _rng(7)), sample_windows(s, 16, 40, _rng(7)))
    assert not np.array_equal(sample_windows(s, 16, 40, _rng(7)), sample_windows(s, 16, 40, _rng(8)))


def test_short_series_contribute_nothing() -> None:
    assert sample_windows([np.arange(10.0)], 11, 5, _rng()).shape == (0, 11)
    assert sample_windows([], 4, 5, _rng()).shape == (0, 4)


def test_returns_fewer_rows_when_exhausted() -> None:
    # 100 - 10 + 1 = 91 distinct positions: asking for more yields each at most once.
    w = sample_windows([np.arange(100.0) + 1], length=10, n=500, rng=_rng())
    assert w.shape == (91, 10)
    assert len(np.unique(w[:, 0])) == 91


def test_uniform_over_positions() -> None:
    # Long and short series: the share of windows should follow the number of positions.
    noise = np.random.default_rng(3).normal(size=1101)
    long, short = 10 + noise[:1000], -10 + noise[1000:]
    w = sample_windows([long, short], length=2, n=500, rng=_rng())
    assert len(w) == 500
    frac_short = float((w[:, 0] < 0).mean())
    assert abs(frac_short - 100 / 1099) < 0.03


def test_filters_constant_intermittent_and_flat() -> None:
    length = 10
    const = np.full(length, 3.0)
    zeros = np.zeros(length)
    intermittent = np.array([0, 0, 0, 0, 0, 0, 5, 0, 2, 0], dtype=np.float64)
    flat = 1e6 + np.arange(length) * 1e-2  # std / level ~ 3e-8
    ok = np.sin(np.arange(length))
    half_mode = np.array([1, 1, 1, 1, 1, 2, 3, 4, 5, 6], dtype=np.float64)  # exactly half
    nonfinite = ok.copy()
    nonfinite[3] = np.nan
    w = np.stack([const, zeros, intermittent, flat, ok, half_mode, nonfinite])
    assert window_is_informative(w).tolist() == [False, False, False, False, True, True, False]


def test_sampling_skips_invalid_windows() -> None:
    counts = np.zeros(400)
    counts[::7] = 1.0  # intermittent everywhere
    signal = np.cos(np.arange(400) / 5.0) + 2
    w = sample_windows([counts, signal], length=24, n=10_000, rng=_rng())
    assert len(w) == 400 - 24 + 1
    assert np.all(window_is_informative(w))
    assert sample_windows([counts], 24, 10, _rng()).shape == (0, 24)


def test_min_std_ratio_parameter() -> None:
    s = [100 + 0.01 * np.sin(np.arange(200))]  # std/level ~ 7e-5
    assert len(sample_windows(s, 32, 5, _rng())) == 0
    assert len(sample_windows(s, 32, 5, _rng(), min_std_ratio=1e-6)) == 5


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        sample_windows([np.arange(10.0)], 0, 1, _rng())
