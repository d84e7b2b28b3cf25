"""Transferability matrix: per-window errors, matrix, sub-dataset g, summary."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from seqfusion.training.models import build_model
from seqfusion.training.transfer import TransferResult, format_matrix, transfer_matrix, window_errors


def _flat_continuation(n: int = 50, seed: int = 0) -> np.ndarray:
    """Windows whose 12 targets all equal the last input value (naive is exact)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 36)).cumsum(axis=1) * rng.uniform(0.1, 100, (n, 1)) + rng.uniform(-1e3, 1e3, (n, 1))
    return np.concatenate([x, np.repeat(x[:, -1:], 12, axis=1)], axis=1)


def _seasonal(n: int = 50, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(48)
    return 5 + np.sin(2 * np.pi * t / 7 + rng.uniform(0, 7, (n, 1))) * rng.uniform(1, 3, (n, 1))


def test_window_errors_naive_exact_and_scale_invariant() -> None:
    w = _flat_continuation()
    naive = build_model("naive")
    assert np.allclose(window_errors(naive, w), 0.0, atol=1e-8)
    mean = build_model("window_mean")
    e = window_errors(mean, w)
    assert e.shape == (50,) and (e > 0).all()
    # Per-window normalization: affine changes of a window leave its error unchanged.
    assert np.allclose(window_errors(mean, w * 1000 + 7), e, rtol=1e-4)
    # Seasonal naive with the right period is exact on pure period-7 windows.
    assert np.allclose(window_errors(build_model("seasonal_naive", period=7), _seasonal()), 0, atol=1e-8)


def test_window_errors_input_norm_and_bad_shapes() -> None:
    w = _seasonal()
    mean = build_model("window_mean")
    a = window_errors(mean, w, norm="window")
    b = window_errors(mean, w, norm="input")
    assert a.shape == b.shape and not np.allclose(a, b)
    with pytest.raises(ValueError):
        window_errors(mean, w, norm="bogus")
    with pytest.raises(ValueError):
        window_errors(mean, w[:, :36])


class _Exploding(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full((x.shape[0], 12), float("inf"))


def test_diverging_member_is_bounded() -> None:
    e = window_errors(_Exploding(), _seasonal())
    assert np.isfinite(e).all()


def test_transfer_matrix_g_source_g_summary_roundtrip() -> None:
    ev = {"flat": _flat_continuation(), "seas": _seasonal()}
    rows = [("naive_a", "flat", build_model("naive")),
            ("snaive_b", "seas", build_model("seasonal_naive", period=7)),
            ("snaive_c", "seas", build_model("seasonal_naive", period=7)),
            ("mean", "", build_model("window_mean"))]
    res = transfer_matrix(rows, ev)
    assert res.mse.shape == (4, 2)
    assert res.mse[0, 0] == pytest.approx(0, abs=1e-8) and res.mse[1, 1] == pytest.approx(0, abs=1e-8)
    assert res.mse[0, 1] > 0.1
    g = res.g
    assert g.max() <= 1 and g.min() >= -1
    assert np.allclose(g, np.clip(1 - res.mse, -1, 1))
    sg = res.source_g()
    assert sg.shape == (2, 2)
    assert np.allclose(sg[1], np.clip(1 - res.mse[1:3].mean(axis=0), -1, 1))
    own = res.own_mask()
    assert own.tolist() == [[True, False], [False, True], [False, True], [False, False]]
    s = res.summary()
    assert s["diag_mean_mse"] == pytest.approx(0, abs=1e-8)
    assert s["offdiag_mean_mse"] == pytest.approx(res.mse[[0, 1, 2], [1, 0, 0]].mean())
    assert s["cols_won_by_own_ptm"] == 2
    back = TransferResult.from_dict(res.to_dict(decimals=10))
    assert back.rows == res.rows and np.allclose(back.mse, res.mse)
    text = format_matrix(res)
    assert "naive_a" in text and "[" in text


def test_source_g_is_nan_without_ptms_and_errors_on_empty() -> None:
    res = TransferResult(["m"], ["a", "b"], ["a"], np.array([[0.5, 3.0]]))
    sg = res.source_g()
    assert np.allclose(sg[0], [0.5, -1.0]) and np.isnan(sg[1]).all()
    with pytest.raises(ValueError):
        transfer_matrix([], {"a": _seasonal()})
    with pytest.raises(ValueError):
        transfer_matrix([("m", "a", build_model("naive"))], {"a": np.zeros((0, 48))})
