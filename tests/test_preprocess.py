"""The shared preprocessing path: scale-safe z-normalisation, gap filling, padding."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqfusion import preprocess
from seqfusion.errors import SeqFusionError


def test_znorm_basic_and_constant_rows() -> None:
    x = np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]])
    xn, mean, std = preprocess.znorm(x)
    assert mean.shape == std.shape == (2, 1)
    np.testing.assert_allclose(xn[0], [-1.2247449, 0, 1.2247449], rtol=1e-6)
    np.testing.assert_array_equal(xn[1], 0.0)
    assert std[1, 0] == 1.0 and mean[1, 0] == 5.0
    np.testing.assert_allclose(xn * std + mean, x)


def test_znorm_reference_rows() -> None:
    x = np.array([[0.0, 1.0, 2.0, 10.0]])
    xn, mean, std = preprocess.znorm(x, ref=x[:, :3])
    assert mean[0, 0] == pytest.approx(1.0) and std[0, 0] == pytest.approx(np.sqrt(2 / 3))
    assert xn[0, 3] == pytest.approx(9 / np.sqrt(2 / 3))


@pytest.mark.parametrize("scale,offset", [(1e-300, 0.0), (1e-9, 0.0), (1.0, 1e14), (1e200, 0.0),
                                          (1e300, -1e300), (-3e-5, 7.0)])
def test_znorm_is_scale_and_shift_equivariant(scale: float, offset: float) -> None:
    base = np.sin(np.arange(36) / 3)[None]
    y = base * scale + offset
    xn, mean, std = preprocess.znorm(y)
    ref, _, _ = preprocess.znorm(base)
    # the offset quantizes y by ulp(offset): compare with that resolution
    tol = 1e-9 + 8 * np.finfo(float).eps * abs(offset) / abs(scale)
    np.testing.assert_allclose(xn, np.sign(scale) * ref, atol=tol)
    assert np.isfinite(mean).all() and np.isfinite(std).all() and std[0, 0] > 0


def test_znorm_spread_beyond_float64_is_an_error() -> None:
    with pytest.raises(SeqFusionError, match="too large for float64"):
        preprocess.znorm(np.array([[-1.7e308, 1.7e308, 1.7e308]]))


def test_is_constant_is_relative() -> None:
    assert preprocess.is_constant(np.array([[1e14, 1e14, 1e14]]))[0]
    assert not preprocess.is_constant(np.array([[1e14, 1e14 + 2.0, 1e14]]))[0]
    assert not preprocess.is_constant(np.array([[1e-300, 2e-300, 1e-300]]))[0]
    assert preprocess.is_constant(np.zeros((1, 4)))[0]


def test_contexts_fill_pad_and_errors() -> None:
    ctx = preprocess.contexts([np.array([np.nan, 1.0, np.nan, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])], 12, 7)
    assert ctx.shape == (1, 12)
    np.testing.assert_allclose(ctx[0], [1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 7, 8])
    with pytest.raises(SeqFusionError, match="'b' has 2 usable points"):
        preprocess.contexts([np.arange(9.0), np.array([1.0, np.nan, 2.0])], 12, 8, names=["a", "b"])
    with pytest.raises(SeqFusionError, match="contains inf"):
        preprocess.contexts(np.array([[1.0, np.inf] * 6]), 12, 2)
    with pytest.raises(SeqFusionError, match="empty"):
        preprocess.contexts([], 12, 2)


@settings(max_examples=60, deadline=None)
@given(st.floats(-300, 300), st.floats(-1e6, 1e6), st.integers(0, 2**32 - 1))
def test_znorm_roundtrip_property(log_scale: float, offset_units: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    scale = 10.0 ** log_scale
    x = rng.normal(size=(3, 20)) * scale + offset_units * scale
    xn, mean, std = preprocess.znorm(x)
    assert np.isfinite(xn).all() and (std > 0).all()
    np.testing.assert_allclose(xn.mean(axis=1), 0.0, atol=1e-6)
    np.testing.assert_allclose(xn.std(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(xn * std + mean, x, rtol=1e-9, atol=scale * 1e-6)


def test_keep_last_and_right_aligned_pad_with_the_first_kept_value() -> None:
    x = np.arange(12, dtype=float).reshape(2, 6)
    out = preprocess.keep_last(x, np.array([3, 6]))
    np.testing.assert_array_equal(out[0], [3, 3, 3, 3, 4, 5])
    np.testing.assert_array_equal(out[1], x[1])
    assert x[0, 0] == 0  # input untouched
    y, lengths = preprocess.right_aligned([np.arange(5.0), np.array([7.0, 8.0])], 4)
    np.testing.assert_array_equal(y, [[1, 2, 3, 4], [7, 7, 7, 8]])
    np.testing.assert_array_equal(lengths, [4, 2])
    np.testing.assert_array_equal(y[1], preprocess.pad_left(np.array([[7.0, 8.0]]), 4)[0])


def test_znorm_pairs_use_the_inputs_statistics() -> None:
    x = np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]])
    y = np.array([[4.0, 5.0], [6.0, 5.0]])
    xn, yn, mean, std = preprocess.znorm_pairs(x, y)
    np.testing.assert_array_equal(xn, preprocess.znorm(x)[0])
    np.testing.assert_array_equal(yn, (y - mean) / std)
    np.testing.assert_array_equal(yn[1], [1.0, 0.0])  # a constant input: std 1, targets minus its level


def test_one_input_check_for_every_path() -> None:
    names = ["a", np.int64(7)]
    series = [np.arange(10.0), np.array([1.0, np.inf] + [2.0] * 9)]
    for call in (lambda: preprocess.contexts(series, 12, 8, names), lambda: preprocess.histories(series, 8, names)):
        with pytest.raises(SeqFusionError, match=r"^series 7 contains inf$"):
            call()
    with pytest.raises(SeqFusionError, match=r"series 'b' has 3 usable points in its last 12; at least 8"):
        preprocess.contexts([np.arange(9.0), np.array([np.nan, 1.0, 2.0, 3.0])], 12, 8, names=["a", "b"])
    with pytest.raises(SeqFusionError, match=r"series 'b' has 3 usable points; at least 8"):
        preprocess.histories([np.arange(9.0), np.array([np.nan, 1.0, 2.0, 3.0])], 8, ["a", "b"])
    np.testing.assert_array_equal(preprocess.unusable_rows(np.array([9, 3, 9]), np.array([False, False, True]), 8),
                                  [False, True, True])
