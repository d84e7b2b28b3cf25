"""Training and inference normalise and pad a window the same way (one preprocessing path).

For each window the test builds what the forecaster computes for a history (contexts,
normalisation, extractor input) and what zoo training computes for the same window (PTM
pairs, router contexts, extractor input, member representations), and asserts they are
identical, bit for bit where both run the same numpy code.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from seqfusion import engine, preprocess
from seqfusion.forecaster import SeqFusion
from seqfusion.training.extractor import Extractor, embed_windows, extractor_input, znorm_rows
from seqfusion.training.pipeline import pad_inputs
from seqfusion.training.training import TARGET_CLIP, normalized_windows

T, H = 36, 12


def _windows() -> dict[str, np.ndarray]:
    """Windows ``[T + H]``: ordinary, far from zero, constant context, a context of 20
    points (the rest is padding in both paths), of 9 points, and a near-constant one."""
    rng = np.random.default_rng(3)
    walk = np.cumsum(rng.normal(size=T + H))
    const = np.concatenate([np.full(T, 7.25), 7.25 + rng.normal(size=H)])
    near = 1e6 + 1e-4 * rng.normal(size=T + H)
    return {"walk": walk, "offset": 3e7 + 1e3 * walk, "constant": const, "near_constant": near,
            "short20": walk, "short9": 5.0 * walk}


CONTEXT = {"short20": 20, "short9": 9}


def _training_pair(name: str, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The window as zoo training feeds it to a PTM: short contexts padded by
    :func:`pad_inputs` (as ``sample_padded`` does), then :func:`normalized_windows`."""
    c = CONTEXT.get(name, T)
    win = w[T - c:][None, :]  # c context points, then the H targets
    padded = pad_inputs(win, c, T)
    return normalized_windows(padded[:, :T], padded[:, T:])


@pytest.fixture(scope="module")
def model() -> SeqFusion:
    return SeqFusion.from_pretrained()


@pytest.mark.parametrize("name", list(_windows()))
def test_ptm_training_pairs_normalise_as_the_forecaster(model: SeqFusion, name: str) -> None:
    w = _windows()[name]
    c = CONTEXT.get(name, T)
    ctx = model.contexts([w[T - c:T]])  # inference: a history of c points, left-padded to T
    xn, mean, std = model._normalize(ctx, H)
    x_train, y_train = _training_pair(name, w)
    np.testing.assert_array_equal(x_train, xn)  # bit for bit
    # targets in the units the forecaster maps a forecast back from (pred * std + mean)
    np.testing.assert_array_equal(y_train, np.clip((w[None, T:] - mean) / std, -TARGET_CLIP, TARGET_CLIP))
    if name == "constant":
        assert (xn == 0).all() and std[0, 0] == 1.0


def test_router_contexts_are_padded_and_normalised_as_the_forecaster(model: SeqFusion) -> None:
    ws = _windows()
    x = np.stack([ws[n][:T] for n in ws])
    keep = np.array([CONTEXT.get(n, T) for n in ws])
    train = preprocess.znorm(preprocess.keep_last(x, keep))[0]  # router_data's contexts
    infer = model._normalize(model.contexts([row[T - k:] for row, k in zip(x, keep)]), H)[0]
    np.testing.assert_array_equal(train, infer)


def test_extractor_reads_the_same_input_in_training_and_inference(model: SeqFusion) -> None:
    ws = _windows()
    x = np.stack([ws[n][:T] for n in ws])
    # inference: the forecaster's znorm, then the numpy engine's input layer in float32
    infer = engine.znorm_rows(np.asarray(preprocess.znorm(x)[0], dtype=np.float32))
    train = extractor_input(x).numpy()  # training: the same znorm, then the torch input layer
    np.testing.assert_allclose(train, infer, rtol=0, atol=2e-6)
    np.testing.assert_array_equal(train[2], 0.0)  # the constant window
    np.testing.assert_array_equal(infer[2], 0.0)
    # member representations embed windows exactly as the forecaster embeds contexts
    np.testing.assert_array_equal(embed_windows(model.zoo.extractor, x), model._embed(x))


def test_torch_and_numpy_input_layers_are_one_rule() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(5, T)) * 10.0 ** rng.integers(-3, 4, size=(5, 1)),
                        np.full((1, T), 4.0), 1e5 + 1e-3 * rng.normal(size=(1, T))]).astype(np.float32)
    np.testing.assert_allclose(znorm_rows(torch.from_numpy(x)).numpy(), engine.znorm_rows(x), rtol=2e-5, atol=2e-5)
    torch.manual_seed(0)
    module = Extractor(input_length=T).eval()
    with torch.no_grad():
        direct = module.represent(module.tokens(extractor_input(x))).numpy()
    np.testing.assert_allclose(module.embed(preprocess.znorm(x.astype(np.float64))[0]), direct, atol=1e-5)


@pytest.mark.parametrize("seed", range(5))
def test_windows_and_whole_histories_read_a_history_alike(seed: int) -> None:
    """Leading NaN: the windows path fills them with the first value, the whole-history path
    drops them; after padding to the model's input both give the same context."""
    rng = np.random.default_rng(seed)
    h = np.cumsum(rng.normal(size=int(rng.integers(10, 30))))
    h[: int(rng.integers(0, 4))] = np.nan
    h[rng.random(len(h)) < 0.2] = np.nan
    h[-1] = 1.0  # a finite last value: the trailing rule is tested elsewhere
    if np.isfinite(h).sum() < 8:
        h[-8:] = np.arange(8.0)
    ctx = preprocess.contexts([h], T, 8)
    whole = preprocess.histories([h], 8, [0])[0]
    np.testing.assert_array_equal(ctx[0], preprocess.pad_left(whole[None, :], T)[0])
