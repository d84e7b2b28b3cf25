"""The long-context member: the numpy engine against the torch module it is trained as,
padding of short contexts, roll-outs past the horizon, and the training loop's resume."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqfusion import engine
from seqfusion.training.corpus import Corpus, kernel_series
from seqfusion.training.long_training import LongTrainConfig, pinball, train_long
from seqfusion.training.models.patch_quantile import PatchQuantile as TorchPatchQuantile
from seqfusion.zoo import state_arrays

SMALL = {"input_length": 64, "horizon": 8, "patch_len": 16, "d_model": 16, "n_heads": 2, "d_ff": 32,
         "n_layers": 2, "n_quantiles": 5, "dropout": 0.0}


def _pair(config: dict, seed: int = 0) -> tuple[TorchPatchQuantile, engine.PatchQuantile]:
    torch.manual_seed(seed)
    module = TorchPatchQuantile(**config).eval()
    with torch.no_grad():  # non-trivial LayerNorm affines and biases
        for name, p in module.named_parameters():
            if "norm" in name or name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
    return module, engine.PatchQuantile(config, state_arrays(module))


def _torch(module: TorchPatchQuantile, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return module(torch.from_numpy(x.astype(np.float32))).numpy()


@pytest.mark.parametrize("config", [SMALL, {**SMALL, "n_layers": 1, "n_quantiles": 9},
                                    {"input_length": 512, "horizon": 64}])
def test_numpy_engine_matches_torch(config: dict) -> None:
    module, model = _pair(config)
    T = model.input_length
    x = kernel_series(np.random.default_rng(1), 40, T).astype(np.float32)
    x[5, : T // 2] = np.nan  # a short history, left-padded
    x[6, :-3] = np.nan  # three points
    x[7, 10] = np.nan  # a gap
    x[8] = 5.0  # constant
    ref = np.sort(_torch(module, x), axis=1)
    got = model.quantiles(x)
    assert got.shape == (40, model.config.n_quantiles, model.horizon)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def test_short_contexts_are_left_padded_and_long_ones_cut() -> None:
    _, model = _pair(SMALL)
    x = kernel_series(np.random.default_rng(2), 6, 100)
    full = model.quantiles(x[:, -64:])
    np.testing.assert_array_equal(model.quantiles(x), full)
    padded = np.full((6, 64), np.nan, dtype=np.float32)
    padded[:, -20:] = x[:, -20:]
    np.testing.assert_array_equal(model.quantiles(x[:, -20:]), model.quantiles(padded))


def test_quantiles_are_sorted_and_the_median_is_the_forward() -> None:
    _, model = _pair(SMALL)
    x = kernel_series(np.random.default_rng(3), 30, 64)
    q = model.quantiles(x)
    assert (np.diff(q, axis=1) >= 0).all()
    np.testing.assert_array_equal(model(x), q[:, 2])


def test_forecast_past_the_horizon_extends_the_context_by_the_median() -> None:
    _, model = _pair(SMALL)
    x = kernel_series(np.random.default_rng(4), 5, 64)
    q = model.forecast(x, 20)
    assert q.shape == (5, 5, 20)
    first = model.quantiles(x)
    np.testing.assert_array_equal(q[:, :, :8], first)
    second = model.quantiles(np.concatenate([x, first[:, 2]], axis=1))
    np.testing.assert_array_equal(q[:, :, 8:16], second)


@settings(max_examples=25, deadline=None)
@given(scale=st.floats(1e-6, 1e6), shift=st.floats(-1e6, 1e6), seed=st.integers(0, 100))
def test_forecasts_follow_affine_changes_of_the_context(scale: float, shift: float, seed: int) -> None:
    _, model = _pair(SMALL)
    x = kernel_series(np.random.default_rng(seed), 3, 64).astype(np.float64)
    base = model.quantiles(x.astype(np.float32)).astype(np.float64)
    moved = model.quantiles((x * scale + shift).astype(np.float32)).astype(np.float64)
    tol = 1e-3 * (np.abs(x * scale + shift).max() + 1.0)
    np.testing.assert_allclose(moved, base * scale + shift, atol=tol)


def test_a_series_forecast_does_not_depend_on_its_batch() -> None:
    _, model = _pair(SMALL)
    x = kernel_series(np.random.default_rng(5), 300, 64)
    whole = model.quantiles(x)
    for lo, hi in [(0, 1), (17, 60), (250, 300)]:
        np.testing.assert_array_equal(model.quantiles(x[lo:hi]), whole[lo:hi])


def test_pinball_loss() -> None:
    levels = torch.tensor([0.1, 0.5, 0.9])
    pred = torch.zeros(1, 3, 2)
    target = torch.tensor([[1.0, float("nan")]])
    # errors +1 at one step: 0.1 * 1, 0.5 * 1, 0.9 * 1 over 3 quantiles and 1 finite step
    assert float(pinball(pred, target, levels)) == pytest.approx(0.5)


def _corpus() -> Corpus:
    rng = np.random.default_rng(0)
    return Corpus(["a", "b"], [[x for x in kernel_series(rng, 4, 300)], [kernel_series(rng, 1, 80)[0]]])


@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_training_resumes_to_the_same_weights(tmp_path: Path, dropout: float) -> None:
    cfg = LongTrainConfig(steps=6, batch_size=8, checkpoint_every=4, threads=1, warmup=2)
    config = {**SMALL, "dropout": dropout}
    whole, rec = train_long(config, cfg, _corpus(), tmp_path / "whole", progress=False)
    assert rec["step"] == 6 and [s for s, _ in rec["loss"]] == [4, 6]
    _, rec = train_long(config, cfg, _corpus(), tmp_path / "parts", until=3, progress=False)
    assert rec["step"] == 3
    part, rec = train_long(config, cfg, _corpus(), tmp_path / "parts", progress=False)
    assert rec["step"] == 6
    for (k, a), b in zip(whole.state_dict().items(), part.state_dict().values()):
        torch.testing.assert_close(a, b, msg=k, rtol=0, atol=0)
    with pytest.raises(ValueError, match="another configuration"):
        train_long({**config, "d_model": 8}, cfg, _corpus(), tmp_path / "parts", progress=False)
    assert json.loads((tmp_path / "parts" / "checkpoint.json").read_text())["step"] == 6


def test_training_never_overwrites_a_file_it_did_not_write(tmp_path: Path) -> None:
    foreign = tmp_path / "checkpoint.safetensors"
    foreign.write_bytes(b"user data")
    cfg = LongTrainConfig(steps=2, batch_size=4, checkpoint_every=1, threads=1, warmup=1)
    with pytest.raises(ValueError, match="not a training run"):
        train_long(dict(SMALL), cfg, _corpus(), tmp_path, progress=False)
    assert foreign.read_bytes() == b"user data"
