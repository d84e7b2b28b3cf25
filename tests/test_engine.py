"""The numpy inference engine against the torch modules it replaces at inference time.

Tolerances: outputs agree with torch to ``1e-5 * max(1, |torch|)`` (1e-5 absolute for
values up to 1, relative beyond), except where torch's own float32 result is about that
far from the exact value; there the bound is 5e-5 and a second test pins the gap down to
float32 rounding, by checking that the engine is no further from a float64 evaluation of
the torch module than torch's float32 evaluation is (within a factor of 3):

* 48-step roll-outs of the Transformer members: the roll-out feeds each block back as
  input, which amplifies rounding; for two members of the shipped zoo torch's float32
  roll-out differs from its float64 one by 1.1e-5;
* the extractor's embedding: torch float32 differs from float64 by 1.05e-5;
* fused forecasts (weighted sums of those roll-outs), compared in the normalized scale
  the members see (the forecaster multiplies by the context's std afterwards).
"""
from __future__ import annotations

import copy
import dataclasses
import inspect
import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqfusion import engine, preprocess
from seqfusion.engine.matmul import sum_features
from seqfusion.engine.threads import find_blas_local_threads, is_exact, parallel_map
from seqfusion.errors import ZooError
from seqfusion.forecaster import SeqFusion
from seqfusion.frequency import CLASSES
from seqfusion.training.extractor import Extractor as TorchExtractor
from seqfusion.training.members import torch_module
from seqfusion.training.models import build_model as build_torch_model
from seqfusion.training.models import list_architectures as torch_architectures
from seqfusion.training.rollout import rollout as torch_rollout
from seqfusion.training.router import Router as TorchRouter
from seqfusion.training.router import RouterEnsemble as TorchRouterEnsemble
from seqfusion.training.router import router_module
from seqfusion.zoo import DEFAULT_ZOO, Zoo

TOL = 1e-5
TOL_FLOAT32_LIMITED = 5e-5
MEMBER_NAMES = [e["name"] for e in json.loads((DEFAULT_ZOO / "zoo.json").read_text())["ptms"]]


def deviation(got: np.ndarray, ref: np.ndarray) -> float:
    """max |got - ref| / max(1, |ref|) (absolute below 1, relative above)."""
    got, ref = np.asarray(got, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    assert got.shape == ref.shape
    return float((np.abs(got - ref) / np.maximum(1.0, np.abs(ref))).max())


def scaled_deviation(got: np.ndarray, ref: np.ndarray, raw: np.ndarray) -> float:
    """:func:`deviation` of forecasts in the scale the members see: both normalized by the
    mean and std of their context ``raw [n, T]``."""
    mean = raw.mean(axis=1, keepdims=True)
    std = np.maximum(raw.std(axis=1, keepdims=True), 1e-8)
    return deviation((got - mean) / std, (ref - mean) / std)


def raw_series(n: int = 400, length: int = 36, seed: int = 0) -> np.ndarray:
    """``[6 n, length]``: random walks, seasonal, noise, trends, spikes and level shifts."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    walk = 100 + np.cumsum(rng.normal(size=(n, length)), axis=1)
    period = rng.choice([4, 7, 12, 24], size=(n, 1))
    seasonal = 5 * np.sin(2 * np.pi * t / period + rng.uniform(0, 6, (n, 1))) + rng.normal(0, 0.5, (n, length))
    noise = rng.normal(size=(n, length)) * rng.uniform(0.01, 100, (n, 1))
    trend = rng.normal(0, 1, (n, 1)) * t + rng.normal(0, 0.2, (n, length))
    spikes = rng.normal(size=(n, length))
    spikes[np.arange(n), rng.integers(0, length, n)] += 25
    shift = np.where(t >= rng.integers(1, length, (n, 1)), 10.0, 0.0) + rng.normal(0, 0.1, (n, length))
    return np.concatenate([walk, seasonal, noise, trend, spikes, shift])


def normalized(x: np.ndarray) -> np.ndarray:
    """Contexts z-normalized as the forecaster does (float64, std floor), as float32."""
    std = np.maximum(x.std(axis=1, keepdims=True), 1e-8)
    return ((x - x.mean(axis=1, keepdims=True)) / std).astype(np.float32)


@pytest.fixture(scope="module")
def numpy_zoo() -> Zoo:
    return Zoo.load()


@pytest.fixture(scope="module")
def torch_zoo(numpy_zoo: Zoo) -> SimpleNamespace:
    """The shipped zoo as the torch modules it was trained as (the reference)."""
    ext = TorchExtractor(**numpy_zoo.extractor_config)
    ext.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in numpy_zoo.extractor_state.items()})
    router = router_module(numpy_zoo.router_config)
    router.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in numpy_zoo.router_state.items()})
    members = [SimpleNamespace(name=m.name, module=torch_module(m)) for m in numpy_zoo.members]
    return SimpleNamespace(members=members, extractor=ext.eval(), router=router.eval())


def torch_fused(torch_zoo: SimpleNamespace, xn: np.ndarray, idx: np.ndarray, w: np.ndarray, horizon: int
                ) -> np.ndarray:
    """Weighted torch roll-outs of the chosen members per row (normalized scale), float64."""
    fused = np.zeros((len(xn), horizon))
    xt = torch.as_tensor(xn, dtype=torch.float32)
    for m in np.unique(idx):
        rows, slot = np.nonzero(idx == m)
        pred = torch_rollout(torch_zoo.members[m].module, xt[rows], horizon, 10.0).numpy()
        np.add.at(fused, rows, w[rows, slot][:, None] * pred.astype(np.float64))
    return fused


@pytest.fixture(scope="module")
def contexts() -> np.ndarray:
    return normalized(raw_series())


def torch_forward(module: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return module(torch.as_tensor(x)).numpy()


def torch_rollout_np(module: torch.nn.Module, x: np.ndarray, horizon: int, clip: float | None = 10.0
                     ) -> np.ndarray:
    return torch_rollout(module, torch.as_tensor(x), horizon, clip).numpy()


# ---------------------------------------------------------------------------- registry and import
def test_every_torch_architecture_has_a_numpy_forward() -> None:
    assert engine.list_architectures() == torch_architectures()


def test_import_does_not_load_torch(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "import numpy as np\n"
        "import seqfusion.engine as e\n"
        "assert 'torch' not in sys.modules, 'import'\n"
        "from seqfusion import SeqFusion\n"
        "x = 100 + np.cumsum(np.random.default_rng(0).normal(size=(50, 36)), axis=1)\n"
        "out = SeqFusion.from_pretrained().predict_windows(x, 20, k=8)\n"
        "assert out.shape == (50, 20) and np.isfinite(out).all()\n"
        "assert 'torch' not in sys.modules, 'inference'\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], check=False, capture_output=True, text=True,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


# ---------------------------------------------------------------------------- the shipped zoo's members
@pytest.mark.parametrize("name", MEMBER_NAMES)
def test_member_one_step_matches_torch(name: str, torch_zoo: SimpleNamespace, numpy_zoo: Zoo,
                                       contexts: np.ndarray) -> None:
    i = MEMBER_NAMES.index(name)
    ref = torch_forward(torch_zoo.members[i].module, contexts)
    got = numpy_zoo.members[i].model(contexts)
    assert got.dtype == np.float32
    assert deviation(got, ref) <= TOL


@pytest.mark.parametrize("name", MEMBER_NAMES)
def test_member_rollout_matches_torch(name: str, torch_zoo: SimpleNamespace, numpy_zoo: Zoo,
                                      contexts: np.ndarray) -> None:
    i = MEMBER_NAMES.index(name)
    member = numpy_zoo.members[i]
    ref = torch_rollout_np(torch_zoo.members[i].module, contexts, 48)
    tol = TOL if member.model.affine else TOL_FLOAT32_LIMITED
    assert deviation(engine.rollout(member.model, contexts, 48), ref) <= tol
    # the bank's batched path (affine members: one precomposed matrix) agrees as well
    idx = np.full((len(contexts), 1), i)
    assert deviation(engine.member_rollouts(numpy_zoo.bank, contexts, idx, 48)[:, 0], ref) <= tol


@pytest.mark.parametrize("name", [n for n in MEMBER_NAMES if "patchtst" in n])
def test_transformer_rollout_gap_is_float32_rounding(name: str, torch_zoo: SimpleNamespace, numpy_zoo: Zoo,
                                                     contexts: np.ndarray) -> None:
    i = MEMBER_NAMES.index(name)
    module = torch_zoo.members[i].module
    exact = torch_rollout(copy.deepcopy(module).double(), torch.as_tensor(contexts, dtype=torch.float64), 48
                          ).numpy()
    torch_gap = deviation(torch_rollout_np(module, contexts, 48), exact)
    assert deviation(engine.rollout(numpy_zoo.members[i].model, contexts, 48), exact) <= 3 * torch_gap + 1e-6


def test_rollout_horizons_not_a_multiple_of_the_block(torch_zoo: SimpleNamespace, numpy_zoo: Zoo,
                                                      contexts: np.ndarray) -> None:
    x = contexts[::7]
    for i in (0, 1, MEMBER_NAMES.index("seasonal_naive7")):
        for h in (1, 5, 12, 13, 30):
            ref = torch_rollout_np(torch_zoo.members[i].module, x, h)
            assert deviation(engine.rollout(numpy_zoo.members[i].model, x, h), ref) <= TOL, (i, h)


# ---------------------------------------------------------------------------- other configurations
def _random_state(module: torch.nn.Module, seed: int) -> dict[str, np.ndarray]:
    """Random float32 weights (larger than at initialization), loaded into ``module`` too."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * (0.3 if p.ndim > 1 else 0.5))
    module.eval()
    return {k: v.numpy().copy() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("config", [
    {"input_length": 36, "horizon": 12, "patch_len": 8, "stride": 4, "d_model": 32, "n_heads": 4, "d_ff": 48,
     "n_layers": 2},
    {"input_length": 24, "horizon": 7, "patch_len": 6, "stride": 6, "d_model": 16, "n_heads": 2, "d_ff": 16,
     "n_layers": 3},
    {"input_length": 36, "horizon": 40, "patch_len": 16, "stride": 8, "d_model": 24, "n_heads": 3, "d_ff": 32},
    {"input_length": 36, "horizon": 12, "patch_len": 4, "stride": 8, "d_model": 16, "n_heads": 4, "d_ff": 16},
])
def test_patchtst_other_configs(config: dict, contexts: np.ndarray) -> None:
    module = build_torch_model("patchtst", **config)
    state = _random_state(module, 1)
    model = engine.build_model("patchtst", config, state)
    x = contexts[:, -config["input_length"]:] * 0.5
    assert deviation(model(x), torch_forward(module, x)) <= TOL
    assert deviation(engine.rollout(model, x, 45), torch_rollout_np(module, x, 45)) <= TOL_FLOAT32_LIMITED


@pytest.mark.parametrize("kernel", [1, 4, 13, 25])
def test_dlinear_other_configs(kernel: int, contexts: np.ndarray) -> None:
    config = {"input_length": 36, "horizon": 9, "kernel": kernel}
    module = build_torch_model("dlinear", **config)
    model = engine.build_model("dlinear", config, _random_state(module, kernel))
    assert deviation(model(contexts), torch_forward(module, contexts)) <= TOL
    for clip in (10.0, None):
        ref = torch_rollout_np(module, contexts, 48, clip)
        assert deviation(engine.rollout(model, contexts, 48, clip), ref) <= TOL
        bank = engine.MemberBank([model])
        got = engine.member_rollouts(bank, contexts, np.zeros((len(contexts), 1), int), 48, clip)[:, 0]
        assert deviation(got, ref) <= TOL


@pytest.mark.parametrize("architecture,config", [
    ("naive", {"input_length": 36, "horizon": 12}),
    ("naive", {"input_length": 24, "horizon": 5}),
    ("seasonal_naive", {"input_length": 36, "horizon": 12, "period": 7}),
    ("seasonal_naive", {"input_length": 36, "horizon": 5, "period": 12}),
    ("seasonal_naive", {"input_length": 36, "horizon": 24, "period": 1}),
    ("seasonal_naive", {"input_length": 36, "horizon": 10, "period": 36}),
    ("window_mean", {"input_length": 36, "horizon": 12}),
    ("window_mean", {"input_length": 20, "horizon": 3}),
    ("drift", {"input_length": 36, "horizon": 12}),
    ("drift", {"input_length": 36, "horizon": 12, "damping": 0.9}),
    ("drift", {"input_length": 24, "horizon": 7, "damping": 0.5}),
])
def test_classical_members(architecture: str, config: dict, contexts: np.ndarray) -> None:
    module = build_torch_model(architecture, **config)
    model = engine.build_model(architecture, config)
    assert model.affine
    x = contexts[:, -config["input_length"]:]
    assert deviation(model(x), torch_forward(module, x)) <= TOL
    bank = engine.MemberBank([model])
    for horizon, clip in ((48, 10.0), (48, None), (13, 1.5)):
        ref = torch_rollout_np(module, x, horizon, clip)
        assert deviation(engine.rollout(model, x, horizon, clip), ref) <= TOL
        got = engine.member_rollouts(bank, x, np.zeros((len(x), 1), int), horizon, clip)[:, 0]
        assert deviation(got, ref) <= TOL


def test_affine_rollout_is_the_unclipped_rollout(numpy_zoo: Zoo, contexts: np.ndarray) -> None:
    model = engine.build_model("drift", {"input_length": 36, "horizon": 5, "damping": 0.8})
    a, b = engine.affine_rollout(model, 23)
    x = contexts[:50].astype(np.float64)
    np.testing.assert_allclose(x @ a.T + b, engine.rollout(model, x, 23, clip=None), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="not an affine model"):
        engine.affine_rollout(next(m.model for m in numpy_zoo.members if not m.model.affine), 3)


# ---------------------------------------------------------------------------- clipping and bad values
def test_clipped_and_non_finite_rows_follow_torch(torch_zoo: SimpleNamespace, numpy_zoo: Zoo) -> None:
    rng = np.random.default_rng(5)
    x = normalized(raw_series(20, seed=5))
    x[:5] *= 40.0  # far outside the normalized range: members hit the clip
    x[5, 10] = np.nan
    x[6, -1] = np.inf
    x[7] = np.nan
    idx = np.stack([rng.permutation(len(MEMBER_NAMES))[:6] for _ in range(len(x))])
    got = engine.member_rollouts(numpy_zoo.bank, x, idx, 30)
    for i, m in enumerate(MEMBER_NAMES):
        rows, slot = np.nonzero(idx == i)
        if len(rows):
            ref = torch_rollout_np(torch_zoo.members[i].module, x[rows], 30)
            g = got[rows, slot]
            np.testing.assert_array_equal(np.isnan(g), np.isnan(ref), err_msg=m)
            ok = ~np.isnan(ref)
            assert deviation(g[ok], ref[ok]) <= TOL_FLOAT32_LIMITED, m
    assert np.nanmax(np.abs(got)) <= 10.0


# ---------------------------------------------------------------------------- extractor
def test_extractor_matches_torch(torch_zoo: SimpleNamespace, numpy_zoo: Zoo) -> None:
    raw = raw_series(300, seed=1)
    ref = torch_zoo.extractor.embed(raw)
    got = numpy_zoo.extractor.embed(raw)
    assert got.shape == ref.shape == (len(raw), 128) and got.dtype == np.float32
    assert deviation(got, ref) <= TOL_FLOAT32_LIMITED
    # the forecaster's path: float64 z-normalization, then the extractor
    sf = SeqFusion(numpy_zoo, k=3)
    assert deviation(sf._embed(raw), torch_zoo.extractor.embed(preprocess.znorm(raw)[0])) <= TOL_FLOAT32_LIMITED
    # ... and constant rows, where the extractor's std floor applies
    const = np.full((3, 36), 7.0)
    assert deviation(numpy_zoo.extractor.embed(const), torch_zoo.extractor.embed(const)) <= TOL


def test_extractor_gap_is_float32_rounding(torch_zoo: SimpleNamespace, numpy_zoo: Zoo) -> None:
    raw = raw_series(300, seed=1)
    x32 = torch.as_tensor(raw, dtype=torch.float32)
    with torch.inference_mode():
        exact = copy.deepcopy(torch_zoo.extractor).double()(x32.double()).numpy()
    torch_gap = deviation(torch_zoo.extractor.embed(raw), exact)
    assert deviation(numpy_zoo.extractor.embed(raw), exact) <= 3 * torch_gap + 1e-6


def test_extractor_other_config() -> None:
    torch.manual_seed(0)
    config = {"input_length": 24, "patch_len": 6, "d_model": 16, "n_heads": 2, "d_ff": 24, "n_layers": 3, "dim": 8}
    module = TorchExtractor(**config).eval()
    model = engine.Extractor(config, {k: v.numpy().copy() for k, v in module.state_dict().items()})
    raw = raw_series(50, length=24, seed=2)
    assert deviation(model.embed(raw, batch_size=64), module.embed(raw)) <= TOL


# ---------------------------------------------------------------------------- router
def test_router_matches_torch(torch_zoo: SimpleNamespace, numpy_zoo: Zoo, contexts: np.ndarray) -> None:
    emb = torch_zoo.extractor.embed(raw_series(seed=0))
    tr, nr = torch_zoo.router, numpy_zoo.router
    assert nr is not None and nr.frequencies == len(CLASSES)
    freq = np.random.default_rng(0).integers(0, len(CLASSES), len(contexts))
    pairs = (list(zip(tr.routers, nr.routers)) if isinstance(nr, engine.RouterEnsemble) else [(tr, nr)])
    for f in (None, freq):
        ft = None if f is None else torch.as_tensor(f)
        for t1, n1 in pairs:
            with torch.inference_mode():
                feats = t1.features(torch.as_tensor(contexts), torch.as_tensor(emb), ft).numpy()
                logits = t1(torch.as_tensor(contexts), torch.as_tensor(emb), ft).numpy()
            assert deviation(n1.features(contexts, emb, f), feats) <= TOL
            assert deviation(n1.logits(contexts, emb, f), logits) <= TOL
        for temperature in (1.0, 3.0):
            w = nr.weights(contexts, emb, temperature, f)
            assert w.dtype == np.float64 and np.allclose(w.sum(axis=1), 1.0)
            assert deviation(w, tr.weights(contexts, emb, temperature, f)) <= TOL


def test_router_with_acf_lags() -> None:
    torch.manual_seed(3)
    module = TorchRouter(5, input_length=30, embed_dim=12, hidden=16, acf_lags=4, frequencies=3)
    model = engine.Router({"n_members": 5, "input_length": 30, "embed_dim": 12, "hidden": 16, "acf_lags": 4,
                           "frequencies": 3}, _random_state(module, 3))
    x = normalized(raw_series(50, length=30, seed=3))
    x[0] = 0.0  # constant context: the autocorrelation's denominator floor
    emb = np.random.default_rng(3).normal(size=(len(x), 12)).astype(np.float32)
    f = np.arange(len(x)) % 3
    ft = torch.as_tensor(f)
    with torch.inference_mode():
        feats = module.features(torch.as_tensor(x), torch.as_tensor(emb), ft).numpy()
    assert deviation(model.features(x, emb, f), feats) <= TOL
    assert deviation(model.weights(x, emb, 2.0, f), module.weights(x, emb, 2.0, f)) <= TOL


def test_router_ensemble_matches_torch() -> None:
    """Three routers: the weights are the mean of theirs, as the torch ensemble computes
    them; the tensor names are the torch ensemble's; a row's weights do not depend on the
    batch."""
    torch.manual_seed(4)
    config = {"n_members": 6, "input_length": 30, "embed_dim": 12, "hidden": 16, "acf_lags": 2, "frequencies": 3}
    module = TorchRouterEnsemble([TorchRouter(**config) for _ in range(3)])
    state = _random_state(module, 4)
    full = {**config, "ensemble": 3}
    assert engine.router_state_shapes(full) == {k: tuple(v.shape) for k, v in state.items()}
    model = engine.make_router(full, state)
    assert isinstance(model, engine.RouterEnsemble) and len(model.routers) == 3
    assert isinstance(engine.make_router(config, _random_state(TorchRouter(**config), 5)), engine.Router)
    x = normalized(raw_series(40, length=30, seed=4))
    emb = np.random.default_rng(4).normal(size=(len(x), 12)).astype(np.float32)
    f = np.arange(len(x)) % 3
    w = model.weights(x, emb, 2.0, f)
    assert deviation(w, module.weights(x, emb, 2.0, f)) <= TOL
    np.testing.assert_allclose(w, np.mean([r.weights(x, emb, 2.0, f) for r in model.routers], axis=0),
                               rtol=1e-12)
    np.testing.assert_array_equal(model.weights(x[5:6], emb[5:6], 2.0, f[5:6])[0], w[5])
    assert isinstance(router_module(full), TorchRouterEnsemble) and isinstance(router_module(config), TorchRouter)


def test_gelu_and_erf() -> None:
    x = np.linspace(-7, 7, 20001)
    exact = np.array([math.erf(v) for v in x])
    assert np.abs(engine.erf(x) - exact).max() < 2e-12
    assert np.abs(engine.erf(x.astype(np.float32)) - exact).max() < 1.2e-7
    xs = np.linspace(-12, 12, 20001).astype(np.float32)
    with torch.inference_mode():
        ref = torch.nn.functional.gelu(torch.as_tensor(xs)).numpy()
    assert deviation(engine.gelu(xs), ref) <= 1e-6


# ---------------------------------------------------------------------------- fusion
def test_fused_rollout_matches_torch_fusion(torch_zoo: SimpleNamespace, numpy_zoo: Zoo) -> None:
    sf = SeqFusion(numpy_zoo, k=3)
    raw = raw_series(100, seed=4)
    rng = np.random.default_rng(4)
    M = len(MEMBER_NAMES)
    xn, mean, std = preprocess.znorm(raw)
    for k in (1, 3, 8, M):
        idx = np.stack([rng.permutation(M)[:k] for _ in range(len(raw))])
        w = rng.dirichlet(np.ones(k), size=len(raw))
        got = engine.fused_rollout(numpy_zoo.bank, xn, idx, w, 48)
        assert got.dtype == np.float64
        ref = torch_fused(torch_zoo, xn, idx, w, 48)
        assert deviation(got, ref) <= TOL_FLOAT32_LIMITED, k
        assert scaled_deviation(sf.predict_windows(raw, 48, members=idx, weights=w), ref * std + mean, raw) \
            <= TOL_FLOAT32_LIMITED, k


def test_member_rollouts_keep_slot_order(numpy_zoo: Zoo, contexts: np.ndarray) -> None:
    x = contexts[:60]
    idx = np.array([[3, 0, 17], [17, 3, 0]] * 30)
    got = engine.member_rollouts(numpy_zoo.bank, x, idx, 24)
    assert got.shape == (60, 3, 24)
    for j in range(3):
        for m in np.unique(idx[:, j]):
            rows = idx[:, j] == m
            ref = engine.rollout(numpy_zoo.members[m].model, x[rows], 24)
            assert deviation(got[rows, j], ref) <= TOL_FLOAT32_LIMITED


@pytest.mark.parametrize("threads,stack,chunk", [(1, True, 64), (2, False, 50), (3, True, 1000)])
def test_bank_settings_do_not_change_results(numpy_zoo: Zoo, contexts: np.ndarray, threads: int,
                                             stack: bool, chunk: int) -> None:
    rng = np.random.default_rng(6)
    x = contexts[:300]
    M = len(MEMBER_NAMES)
    # half the rows use every member (the stacked path), half a random subset
    idx = np.concatenate([np.tile(np.arange(M), (150, 1)),
                          np.stack([rng.permutation(M) for _ in range(150)])])
    idx[150:, 10:] = idx[150:, :1]  # repeated members in a row count once per slot
    w = rng.dirichlet(np.ones(M), size=300)
    base = engine.fused_rollout(engine.MemberBank([m.model for m in numpy_zoo.members], threads=1, stack=False),
                                x, idx, w, 48)
    bank = engine.MemberBank([m.model for m in numpy_zoo.members], threads=threads, chunk=chunk, stack=stack)
    assert deviation(engine.fused_rollout(bank, x, idx, w, 48), base) <= TOL_FLOAT32_LIMITED
    # weights summed per member when a member repeats in a row
    dense = np.zeros((300, M))
    np.add.at(dense, (np.repeat(np.arange(300), M), idx.reshape(-1)), w.reshape(-1))
    per_member = engine.member_rollouts(bank, x, np.tile(np.arange(M), (300, 1)), 48).astype(np.float64)
    assert deviation(np.einsum("nm,nmh->nh", dense, per_member), base) <= TOL_FLOAT32_LIMITED


def torch_router_forecast(torch_zoo: SimpleNamespace, raw: np.ndarray, horizon: int, k: int,
                          temperature: float, freq: np.ndarray | None) -> np.ndarray:
    """The default forecast computed with the torch modules: embed, route, keep the top k,
    roll out, fuse, de-normalize."""
    xn, mean, std = preprocess.znorm(raw)
    emb = torch_zoo.extractor.embed(xn)
    w_all = torch_zoo.router.weights(xn, emb, temperature, freq)
    idx = np.argsort(-w_all, axis=1, kind="stable")[:, :k]
    w = np.take_along_axis(w_all, idx, axis=1)
    w = w / w.sum(axis=1, keepdims=True)
    out = torch_fused(torch_zoo, xn, idx, w, horizon) * std + mean
    const = preprocess.is_constant(raw)
    out[const] = raw[const, -1:]
    return out


@pytest.mark.parametrize("k", [None, 8])
def test_default_forecast_matches_the_torch_modules(k: int | None, torch_zoo: SimpleNamespace) -> None:
    sf = SeqFusion.from_pretrained()
    assert sf.fusion == "router"
    raw = np.concatenate([raw_series(80, seed=7), np.full((2, 36), 3.0)])  # + constant series
    kk = k or sf.k
    got = sf.predict_windows(raw, 48, k=k)
    ref = torch_router_forecast(torch_zoo, raw, 48, kk, sf.router_temperature, None)
    assert scaled_deviation(got, ref, raw) <= TOL_FLOAT32_LIMITED
    np.testing.assert_array_equal(got[-2:], 3.0)
    freq = np.array(["weekly", "monthly"] * (len(raw) // 2))
    got = sf.predict_windows(raw, 12, k=k, freq=list(freq))
    ref = torch_router_forecast(torch_zoo, raw, 12, kk, sf.router_temperature,
                                np.array([CLASSES.index(f) for f in freq]))
    assert scaled_deviation(got, ref, raw) <= TOL_FLOAT32_LIMITED


# ---------------------------------------------------------------------------- loading
def test_load_weights_checks_the_file(tmp_path: Path) -> None:
    src = DEFAULT_ZOO / "router.safetensors"
    sha = engine.sha256_file(src)
    state = engine.load_weights(src, sha)
    assert all(v.dtype == np.float32 for v in state.values())
    assert set(state) == set(engine.router_state_shapes(
        json.loads((DEFAULT_ZOO / "zoo.json").read_text())["router"]["config"]))
    with pytest.raises(ZooError, match="checksum mismatch"):
        engine.load_weights(src, "0" * 64)
    with pytest.raises(ZooError, match="weight file missing"):
        engine.load_weights(tmp_path / "nope.safetensors", sha)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(ZooError, match="unreadable") as info:
        engine.load_weights(bad, engine.sha256_file(bad))
    assert "\n" not in str(info.value)


def test_zoo_load_rejects_changed_files(tmp_path: Path) -> None:
    zoo_dir = tmp_path / "zoo"
    shutil.copytree(DEFAULT_ZOO, zoo_dir)
    assert Zoo.load(zoo_dir).names == MEMBER_NAMES
    target = zoo_dir / "ptms" / f"{MEMBER_NAMES[0]}.safetensors"
    target.write_bytes(target.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(ZooError, match="checksum mismatch"):
        Zoo.load(zoo_dir)
    target.unlink()
    with pytest.raises(ZooError, match="weight file missing"):
        Zoo.load(zoo_dir)
    with pytest.raises(ZooError, match="manifest not found"):
        Zoo.load(tmp_path / "nowhere")


def test_wrong_tensor_shapes_are_rejected() -> None:
    state = {k: v.numpy() for k, v in build_torch_model("dlinear", input_length=36, horizon=12).state_dict().items()}
    with pytest.raises(ZooError, match="has shape"):
        engine.build_model("dlinear", {"input_length": 36, "horizon": 6}, state, where="f.safetensors")
    with pytest.raises(ZooError, match="keys differ"):
        engine.build_model("dlinear", {"input_length": 36, "horizon": 12}, {}, where="f.safetensors")
    with pytest.raises(ValueError, match="unknown architecture"):
        engine.build_model("lstm", {})


def _defaults(params: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in params.items() if k not in ("self", "ensemble")}


@pytest.mark.parametrize("name", [*torch_architectures(), "extractor", "router"])
def test_configs_take_the_torch_modules_parameters_and_defaults(name: str) -> None:
    """Each configuration class has the torch module's keyword arguments, with its defaults
    (a required argument has none); ``ensemble`` is the router ensemble's size."""
    if name == "extractor":
        torch_cls, config_cls = TorchExtractor, engine.ExtractorConfig
    elif name == "router":
        torch_cls, config_cls = TorchRouter, engine.RouterConfig
    else:
        torch_cls, config_cls = type(build_torch_model(name)), engine.model_class(name).Config
    expected = {k: p.default for k, p in inspect.signature(torch_cls.__init__).parameters.items()}
    got = {f.name: inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default
           for f in dataclasses.fields(config_cls)}
    assert _defaults(got) == _defaults(expected)


def test_configs_fill_defaults_cast_values_and_reject_unknown_keys(tmp_path: Path) -> None:
    c = engine.PatchTSTConfig.from_dict({"d_model": 32.0, "n_layers": "2"})
    assert c == engine.PatchTSTConfig(d_model=32, n_layers=2) and type(c.d_model) is int
    assert c.n_patches == 4 and engine.PatchTSTConfig.from_dict(c) is c
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.d_model = 8  # type: ignore[misc]
    with pytest.raises(ZooError, match=r"^f\.safetensors: unknown dlinear config key\(s\): bogus, kernal "
                                       r"\(known: input_length, horizon, kernel\)$"):
        engine.build_model("dlinear", {"kernal": 5, "bogus": 1}, {}, where="f.safetensors")
    with pytest.raises(ZooError, match="^router config lacks n_members$"):
        engine.router_state_shapes({"hidden": 8})
    with pytest.raises(ZooError, match="^extractor config: d_model must be a number, got 'wide'$"):
        engine.Extractor.state_shapes({"d_model": "wide"})
    with pytest.raises(ZooError, match="^extractor config: input_length must be a multiple of patch_len$"):
        engine.ExtractorConfig.from_dict({"patch_len": 5})
    with pytest.raises(ZooError, match=r"^router config: acf_lags must be in \[0, 33\]$"):
        engine.make_router({"n_members": 2, "acf_lags": 40}, {})
    with pytest.raises(ZooError, match=r"^PTM 'x': seasonal_naive config: period must be in \[1, 36\], got 40$"):
        engine.build_model("seasonal_naive", {"period": 40}, where="PTM 'x'")
    with pytest.raises(ZooError, match=r"drift config: damping must be in \(0, 1\], got 0.0"):
        engine.build_model("drift", {"damping": 0})
    # in a zoo manifest, the error names the member's weight file
    zoo_dir = tmp_path / "zoo"
    shutil.copytree(DEFAULT_ZOO, zoo_dir)
    manifest = json.loads((zoo_dir / "zoo.json").read_text())
    entry = manifest["ptms"][0]
    entry["config"]["bogus"] = 1
    (zoo_dir / "zoo.json").write_text(json.dumps(manifest))
    with pytest.raises(ZooError, match=re.escape(f"{entry['name']}.safetensors: unknown {entry['architecture']} "
                                                 "config key(s): bogus (known: ")) as info:
        Zoo.load(zoo_dir)
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------------- batch-invariant products
@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 300), k=st.integers(1, 300), n=st.integers(1, 700), lo=st.integers(0, 700),
       size=st.integers(1, 700), stacked=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]))
def test_matmul_cols_columns_do_not_depend_on_the_batch(m: int, k: int, n: int, lo: int, size: int,
                                                        stacked: bool, dtype: type) -> None:
    """Column j of ``a @ b`` is the same bits whatever else ``b`` holds and wherever j sits
    (the property chunked files and Dask partitions rely on), and close to numpy's product."""
    rng = np.random.default_rng(m * 7 + k * 11 + n)
    lead = (3,) if stacked else ()
    a = rng.standard_normal(lead + (m, k)).astype(dtype)
    b = rng.standard_normal(lead + (k, n)).astype(dtype)
    full = engine.matmul_cols(a, b)
    lo = min(lo, n - 1)
    part = engine.matmul_cols(a, np.ascontiguousarray(b[..., lo : lo + size]))
    np.testing.assert_array_equal(part, full[..., lo : lo + size])
    one = engine.matmul_cols(a, np.ascontiguousarray(b[..., lo : lo + 1]))
    np.testing.assert_array_equal(one, full[..., lo : lo + 1])
    np.testing.assert_allclose(full, a @ b, rtol=1e-4 if dtype == np.float32 else 1e-12,
                               atol=1e-4 * math.sqrt(k) if dtype == np.float32 else 1e-12)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 600), k=st.integers(1, 200), m=st.integers(1, 60), lo=st.integers(0, 600),
       size=st.integers(1, 600))
def test_matmul_rows_rows_do_not_depend_on_the_batch(n: int, k: int, m: int, lo: int, size: int) -> None:
    rng = np.random.default_rng(n + 3 * k + 5 * m)
    x = rng.standard_normal((n, k)).astype(np.float32)
    w = rng.standard_normal((k, m)).astype(np.float32)
    full = engine.matmul_rows(x, w)
    lo = min(lo, n - 1)
    np.testing.assert_array_equal(engine.matmul_rows(x[lo : lo + size], w), full[lo : lo + size])
    np.testing.assert_array_equal(engine.matmul_rows(x[[lo]], w), full[[lo]])


@settings(max_examples=40, deadline=None)
@given(k=st.integers(1, 80), cols=st.integers(2, 300), j=st.integers(0, 299), stacked=st.booleans(),
       square=st.booleans())
def test_feature_sums_of_one_column_match_any_batch(k: int, cols: int, j: int, stacked: bool,
                                                    square: bool) -> None:
    """Sums over the feature axis give a column the same bits alone as among others (numpy
    sums one column pairwise, several in index order)."""
    rng = np.random.default_rng(k * 13 + cols)
    x = rng.standard_normal(((2,) if stacked else ()) + (k, cols)).astype(np.float32)
    full = np.empty(x.shape[:-2] + (cols,), dtype=np.float32)
    sum_features(x, full, square=square)
    j = min(j, cols - 1)
    one = np.empty(x.shape[:-2] + (1,), dtype=np.float32)
    sum_features(np.ascontiguousarray(x[..., j : j + 1]), one, square=square)
    np.testing.assert_array_equal(one, full[..., j : j + 1])
    np.testing.assert_allclose(full, (x * x if square else x).sum(axis=-2), rtol=1e-5, atol=1e-4)


def test_a_lone_series_gets_its_batch_bits_in_members_and_extractor(numpy_zoo: Zoo) -> None:
    """PatchTST roll-outs (stacked or not) and the extractor: one series computed alone
    equals its column of a batch, bit for bit."""
    rng = np.random.default_rng(8)
    x = np.ascontiguousarray(rng.standard_normal((36, 40)).cumsum(axis=0).astype(np.float32))
    bank = numpy_zoo.bank
    patchtst = [m.model for m in numpy_zoo.members if isinstance(m.model, engine.PatchTST)]
    assert patchtst
    for model in patchtst[:2]:
        full = model.rollout_fm(x, 30)
        np.testing.assert_array_equal(model.rollout_fm(np.ascontiguousarray(x[:, 5:6]), 30), full[:, 5:6])
    for gi, stacked in bank.stacked.items():
        model = bank.models[bank.groups[gi][0]]
        full = model.rollout_fm(x, 30, params=stacked)
        np.testing.assert_array_equal(model.rollout_fm(np.ascontiguousarray(x[:, 7:8]), 30, params=stacked),
                                      full[..., 7:8])
    z = preprocess.znorm(x.T.astype(np.float64))[0].astype(np.float32)
    zt = np.ascontiguousarray(z.T)
    reps = numpy_zoo.extractor.represent_fm(zt)
    np.testing.assert_array_equal(numpy_zoo.extractor.represent_fm(np.ascontiguousarray(zt[:, 11:12])),
                                  reps[:, 11:12])


def test_matmul_cols_wide_batches() -> None:
    """More than 15 windows: the edge calls come in groups."""
    rng = np.random.default_rng(9)
    a = rng.standard_normal((2, 12, 33)).astype(np.float32)
    b = rng.standard_normal((2, 33, 4504)).astype(np.float32)
    full = engine.matmul_cols(a, b)
    for lo, size in [(0, 4104), (37, 4000), (3000, 1504), (4100, 8)]:
        np.testing.assert_array_equal(engine.matmul_cols(a, b[..., lo : lo + size]), full[..., lo : lo + size])
    np.testing.assert_allclose(full, a @ b, rtol=1e-4, atol=1e-4)


def test_products_from_worker_threads_are_the_same_bits(contexts: np.ndarray) -> None:
    rng = np.random.default_rng(2)
    a = rng.standard_normal((5, 64, 65)).astype(np.float32)
    b = rng.standard_normal((5, 65, 1024)).astype(np.float32)
    whole = engine.matmul_cols(a, b)
    parts = list(parallel_map(lambda lo: engine.matmul_cols(a, b[..., lo : lo + 100]),
                                      range(0, 1024, 100), threads=2))
    np.testing.assert_array_equal(np.concatenate(parts, axis=-1), whole)


def test_plain_products_outside_exact_mode() -> None:
    rng = np.random.default_rng(3)
    a = rng.standard_normal((20, 30)).astype(np.float32)
    b = rng.standard_normal((30, 50)).astype(np.float32)
    with engine.settings(exact=False):
        np.testing.assert_array_equal(engine.matmul_cols(a, b), np.matmul(a, b))
        np.testing.assert_array_equal(engine.matmul_rows(b.T, a.T), np.matmul(b.T, a.T))
    assert is_exact()  # the setting ends with its block


def test_blas_thread_count_is_restored() -> None:
    fn = find_blas_local_threads()
    if fn is None:
        pytest.fail("numpy's OpenBLAS thread setter was not found: forecasts may depend on the batch")
    previous = fn(3)
    try:
        with engine.settings():
            with engine.settings(exact=False):
                assert fn(1) == 1
            assert fn(1) == 1
        assert fn(3) == 3
    finally:
        fn(previous)
