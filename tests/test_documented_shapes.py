"""What the shipped default zoo can and cannot follow, as stated in the README's
"What the shipped zoo can follow" section (numbers measured there; a change of behaviour
fails here and must be reflected in the README)."""
from __future__ import annotations

import numpy as np
import pytest

from seqfusion import SeqFusion


@pytest.fixture(scope="module")
def model() -> SeqFusion:
    # the zoo's own behaviour: its forecast of the last 36 points
    return SeqFusion.from_pretrained(history="last")


def test_clean_sine_short_horizon_stays_near_the_peak(model) -> None:
    t = np.arange(110)
    x, truth = np.sin(t[:100] / 3), np.sin(t[100:] / 3)
    f = model.predict(x, 10)
    assert 0.9 < f[0] <= 1.05 and 0.55 < f.min() and f.max() < 1.05  # truth falls to -0.98
    assert np.abs(f - truth).mean() < np.abs(x[-1] - truth).mean()  # still beats persistence


def test_period_24_cycle_fades_over_long_horizons(model) -> None:
    x = np.sin(2 * np.pi * np.arange(240) / 24)
    f = model.predict(x, 1000, freq="h")
    assert np.isfinite(f).all()
    assert 0.3 < np.ptp(f[:24]) < 1.0  # first cycle: about a quarter of the true 2.0
    assert max(np.ptp(f[i:i + 24]) for i in range(144, 1000 - 24, 24)) < 0.1  # then nearly flat
    assert 1.0 < f.max() < 2.5  # and the level drifts above the context's maximum (1.0)
    assert np.abs(f).max() <= 10 * x.std() + abs(x.mean())  # the clip bound always holds


def test_clean_ramp_flattens(model) -> None:
    f = model.predict(np.arange(40.0), 10)
    assert (f > 36).all() and (f < 40).all()  # truth: 40 .. 49


def test_random_walk_stays_near_its_last_value(model) -> None:
    x = np.cumsum(np.random.default_rng(0).normal(size=200))
    f = model.predict(x, 20)
    assert np.abs(f - x[-1]).max() < x[-36:].std()


def test_monthly_season_with_trend_beats_seasonal_naive(model) -> None:
    t = np.arange(144)
    y = 5 + np.sin(2 * np.pi * t / 12) + 0.05 * t
    f = model.predict(y[:120], 24, freq="MS")
    snaive = y[108:120][np.arange(24) % 12]
    mae, mae_snaive = np.abs(f - y[120:]).mean(), np.abs(snaive - y[120:]).mean()
    assert mae < 0.65 < 0.85 < mae_snaive


def test_whole_history_default_follows_the_ramp_and_the_example() -> None:
    """The README's "Known weakness" paragraph: with the whole history the back-tests give
    a clean ramp to the drift and the lag regression on differences (both exact), and the
    quarterly example's unemployment (last 9.6) starts at 9.4."""
    import pandas as pd

    whole = SeqFusion.from_pretrained()
    fc = whole.explain(np.arange(40.0), horizon=5)
    assert fc["weight_drift"].iloc[0] + fc["weight_lags_differenced"].iloc[0] > 0.99
    np.testing.assert_allclose(whole.predict(np.arange(40.0), 5), np.arange(40.0, 45.0), atol=1e-6)
    from pathlib import Path

    df = pd.read_csv(Path(__file__).resolve().parents[1] / "examples" / "us_macro_quarterly.csv")
    assert round(float(whole.predict(df, 8)["unemp"].iloc[0]), 1) == 9.4
