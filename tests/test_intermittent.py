"""Option ``intermittent``: quantiles of histories that are mostly zeros."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqfusion import SeqFusion
from seqfusion import quantiles as qmod

LEVELS = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
W = qmod.INTERMITTENT_WINDOW


@pytest.fixture(scope="module")
def model() -> SeqFusion:
    return SeqFusion.from_pretrained()


def _demand(n: int = 48, seed: int = 0, p: float = 0.3) -> np.ndarray:
    """Spare-part demand: a sale in about ``p`` of the months, 1-6 units."""
    rng = np.random.default_rng(seed)
    return np.where(rng.random(n) < p, rng.integers(1, 7, n), 0).astype(np.float64)


def test_which_histories_are_intermittent() -> None:
    sparse = _demand()
    assert np.mean(sparse[-W:] == 0) >= qmod.INTERMITTENT_SHARE
    dense = sparse + 1.0
    negative = sparse.copy()
    negative[3] = -1.0
    short = sparse[-(W - 1):]
    with_gaps = np.concatenate([sparse, [np.nan] * 5])  # NaN are not values
    got = qmod.intermittent([sparse, dense, negative, short, with_gaps, sparse], np.array([0, 0, 0, 0, 0, 1], bool))
    assert got.tolist() == [True, False, False, False, True, False]  # the last: its season was found


def test_quantiles_of_an_intermittent_series_are_those_of_its_last_values(model) -> None:
    y = _demand()
    q = model.predict_quantiles(y, 12, freq="MS")
    expected = np.quantile(y[-W:], LEVELS)
    np.testing.assert_array_equal(q, np.broadcast_to(expected, (12, 9)))
    assert q[0, 4] == 0.0  # most months sell nothing: the median is 0
    spread = model.with_options(intermittent=False)
    np.testing.assert_array_equal(model.predict(y, 12, freq="MS"), spread.predict(y, 12, freq="MS"))
    assert (spread.predict_quantiles(y, 12, freq="MS")[:, 4] > 0).all()  # the point forecast, a rate


def test_explain_names_the_source_of_the_quantiles(model) -> None:
    spread = model.explain(_demand(), 12, freq="MS")["spread"].iloc[0]
    assert spread == f"empirical quantiles of the last {W} values (intermittent history)"
    assert model.with_options(intermittent=False).explain(_demand(), 12, freq="MS")["spread"].iloc[0].startswith(
        "errors of")


def test_other_series_of_a_frame_keep_their_quantiles(model) -> None:
    ds = pd.date_range("2000-01-01", periods=48, freq="MS")
    t = np.arange(48, dtype=np.float64)
    dense = 100 + t + 10 * np.sin(2 * np.pi * t / 12)
    df = pd.concat([pd.DataFrame({"unique_id": "sparse", "ds": ds, "y": _demand()}),
                    pd.DataFrame({"unique_id": "dense", "ds": ds, "y": dense})])
    on = model.predict_quantiles(df, 6, level=[80])
    off = model.with_options(intermittent=False).predict_quantiles(df, 6, level=[80])
    pd.testing.assert_frame_equal(on[on.unique_id == "dense"], off[off.unique_id == "dense"])
    sparse = on[on.unique_id == "sparse"]
    assert (sparse["y-lo-80"] == 0).all() and (sparse["y-hi-80"] <= _demand()[-W:].max()).all()


def test_the_option_is_checked() -> None:
    with pytest.raises(Exception, match="intermittent must be True or False"):
        SeqFusion.from_pretrained(intermittent=1)


@settings(max_examples=25, deadline=None)
@given(st.integers(W, 120), st.floats(0.05, 0.5), st.integers(0, 2**31 - 1))
def test_intermittent_quantiles_are_ordered_and_within_the_recent_values(n: int, p: float, seed: int) -> None:
    y = _demand(n, seed, p)
    q = SeqFusion.from_pretrained().predict_quantiles(y, 8)
    assert (np.diff(q, axis=1) >= 0).all()
    if qmod.intermittent([y], np.zeros(1, bool))[0]:
        assert (q >= y[-W:].min()).all() and (q <= y[-W:].max()).all()
    else:
        assert (q >= 0).all()
