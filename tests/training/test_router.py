"""The learned router: step weights, training on a case with a known answer, zoo storage,
forecaster integration and the build stage."""
from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from seqfusion.errors import SeqFusionError, ZooError
from seqfusion.forecaster import SeqFusion
from seqfusion.training.models import build_model
from seqfusion.training.router import (
    Router,
    RouterConfig,
    attach_router,
    calibrate_temperature,
    router_data,
    seasonal_series,
    step_weights,
    train_router,
)
from seqfusion.zoo import Zoo


def test_step_weights_match_the_horizon_mean() -> None:
    w = step_weights(3, (1, 2))
    # step 1 is in both horizons (1 + 1/2), step 2 only in H=2 (1/2), step 3 in none: last weight.
    np.testing.assert_allclose(w, np.array([1.5, 0.5, 0.5]) / 2.5)
    w48 = step_weights(48)
    assert w48.shape == (48,) and abs(w48.sum() - 1) < 1e-12
    assert np.all(np.diff(w48) <= 1e-15)  # early steps count more
    # The weighted mean of per-step MSEs equals the mean over horizons of per-horizon MSEs.
    rng = np.random.default_rng(0)
    per_step = rng.uniform(size=48)
    hs = (6, 8, 14, 18, 24, 36, 48)
    direct = np.mean([per_step[:h].mean() for h in hs])
    assert abs(float(w48 @ per_step) - direct) < 1e-12


def _walks(n: int, rng: np.random.Generator) -> list[np.ndarray]:
    return [np.cumsum(rng.normal(size=120)) for _ in range(n)]


def _noise(n: int, rng: np.random.Generator) -> list[np.ndarray]:
    return [rng.normal(size=120) for _ in range(n)]


def _no_embed(x: np.ndarray) -> np.ndarray:
    return np.ones((len(x), 4), dtype=np.float32)


@pytest.fixture(scope="module")
def walk_noise_router() -> tuple[Router, dict, RouterConfig]:
    """Two members (persistence, window mean) and two groups where each one is right."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    modules = [build_model("naive", input_length=36, horizon=12),
               build_model("window_mean", input_length=36, horizon=12)]
    cfg = RouterConfig(epochs=15, n_windows=600, random_walks=0, pad_fraction=0.0, horizon=24,
                       hidden=32, batch_size=128, seed=3)
    data = router_data(modules, _no_embed, {"walks": _walks(60, rng), "noise": _noise(60, rng)}, cfg)
    assert data.preds.shape == (1200, 2, 24) and data.groups == ["walks", "noise"]
    router, meta = train_router(data, cfg)
    return router, meta, cfg


def test_router_learns_which_member_fits(walk_noise_router) -> None:
    router, meta, _ = walk_noise_router
    assert meta["loss_router"] < 0.9 * meta["loss_uniform_weights"]
    rng = np.random.default_rng(1)
    walks = np.stack([w[:36] for w in _walks(50, rng)])
    noise = np.stack([w[:36] for w in _noise(50, rng)])
    for x, member in ((walks, 0), (noise, 1)):
        xn = (x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True)
        w = router.weights(xn, _no_embed(xn))
        assert w.shape == (50, 2)
        np.testing.assert_allclose(w.sum(1), 1.0)
        assert np.median(w[:, member]) > 0.7
        # A higher temperature flattens the weights toward 1/2.
        flat = router.weights(xn, _no_embed(xn), temperature=50.0)
        assert np.abs(flat - 0.5).max() < np.abs(w - 0.5).max()


def test_router_training_is_deterministic(walk_noise_router) -> None:
    router, _, cfg = walk_noise_router
    rng = np.random.default_rng(0)
    modules = [build_model("naive", input_length=36, horizon=12),
               build_model("window_mean", input_length=36, horizon=12)]
    data = router_data(modules, _no_embed, {"walks": _walks(60, rng), "noise": _noise(60, rng)}, cfg)
    again, _ = train_router(data, cfg)
    for (k, v), (_, w) in zip(router.state_dict().items(), again.state_dict().items()):
        assert torch.equal(v, w), k


def test_temperature_calibration_on_held_out_groups() -> None:
    rng = np.random.default_rng(5)
    modules = [build_model("naive", input_length=36, horizon=12),
               build_model("window_mean", input_length=36, horizon=12)]
    cfg = RouterConfig(epochs=5, n_windows=200, random_walks=0, pad_fraction=0.0, horizon=12,
                       hidden=16, batch_size=64, seed=1)
    groups = {f"walks{i}": _walks(20, rng) for i in range(3)} | {f"noise{i}": _noise(20, rng) for i in range(3)}
    data = router_data(modules, _no_embed, groups, cfg)
    best, table = calibrate_temperature(data, cfg, folds=3, temperatures=(1.0, 4.0))
    assert best in (1.0, 4.0) and set(table) == {"1.0", "4.0", "inf"}
    # Every unseen group is clearly one kind, so sharp weights beat the plain mean.
    assert table[str(best)] < table["inf"]


def test_synthetic_seasonal_series_repeat_their_profile() -> None:
    series = seasonal_series(20, 120, (4,), np.random.default_rng(0))
    assert len(series) == 20 and all(s.shape == (120,) for s in series)
    lag4 = np.mean([np.corrcoef(np.diff(s)[4:], np.diff(s)[:-4])[0, 1] for s in series])
    lag2 = np.mean([np.corrcoef(np.diff(s)[2:], np.diff(s)[:-2])[0, 1] for s in series])
    assert lag4 > 0.3 and lag4 > lag2


def test_autocorrelation_features_find_the_season() -> None:
    router = Router(2, 36, 4, hidden=8, acf_lags=6)
    x = torch.as_tensor(np.stack(seasonal_series(8, 36, (4,), np.random.default_rng(2))), dtype=torch.float32)
    x = (x - x.mean(1, keepdim=True)) / x.std(1, keepdim=True)
    feats = router.features(x, torch.ones(8, 4))
    assert feats.shape == (8, 36 + 2 + 6 + 4)
    acf = feats[:, 38:44].numpy()
    assert np.all(np.abs(acf) <= 1 + 1e-5)
    assert np.all(acf[:, 3] > acf[:, 1])  # lag 4 beats lag 2 for period-4 series
    assert Router(2, 36, 4).features(x, torch.ones(8, 4)).shape == (8, 36 + 2 + 4)
    with pytest.raises(ValueError, match="acf_lags"):
        Router(2, 36, 4, acf_lags=40)


def test_router_config_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError, match="unknown router key"):
        RouterConfig.from_dict({"epochs": 2, "layers": 3})
    assert RouterConfig.from_dict({"seasonal_periods": [4, 12]}).seasonal_periods == (4, 12)


# ---------------------------------------------------------------------- zoo storage
def _with_router(tiny_zoo: Path, dest: Path) -> Zoo:
    zoo = Zoo.load(tiny_zoo)
    torch.manual_seed(0)
    dim = zoo.dim
    attach_router(zoo, Router(len(zoo), zoo.input_length, dim, hidden=16, acf_lags=3), {"note": "test"})
    zoo.save(dest)
    return zoo


def test_zoo_saves_and_verifies_the_router(tiny_zoo: Path, tmp_path: Path) -> None:
    zoo = _with_router(tiny_zoo, tmp_path / "z")
    loaded = Zoo.load(tmp_path / "z")
    assert loaded.router is not None and loaded.router_info["members"] == zoo.names
    assert loaded.router_info["note"] == "test" and loaded.router.acf_lags == 3
    x = np.random.default_rng(0).normal(size=(5, 36))
    e = np.ones((5, loaded.router.embed_dim), dtype=np.float32)
    np.testing.assert_allclose(loaded.router.weights(x, e), zoo.router.weights(x, e), atol=2e-3)
    # A flipped byte is caught by the checksum.
    bad = tmp_path / "bad"
    shutil.copytree(tmp_path / "z", bad)
    raw = bytearray((bad / "router.safetensors").read_bytes())
    raw[-1] ^= 0xFF
    (bad / "router.safetensors").write_bytes(bytes(raw))
    with pytest.raises(ZooError, match="router.safetensors: checksum"):
        Zoo.load(bad)
    # A router fitted to other members is refused.
    other = tmp_path / "other"
    shutil.copytree(tmp_path / "z", other)
    manifest = json.loads((other / "zoo.json").read_text())
    manifest["router"]["members"] = list(reversed(manifest["router"]["members"]))
    (other / "zoo.json").write_text(json.dumps(manifest))
    with pytest.raises(ZooError, match="other members"):
        Zoo.load(other)


@pytest.mark.parametrize("size", [0, "2", True, 1.5])
def test_zoo_refuses_a_bad_ensemble_size(tiny_zoo: Path, tmp_path: Path, size) -> None:
    _with_router(tiny_zoo, tmp_path / "z")
    manifest = json.loads((tmp_path / "z" / "zoo.json").read_text())
    manifest["router"]["config"]["ensemble"] = size
    (tmp_path / "z" / "zoo.json").write_text(json.dumps(manifest))
    with pytest.raises(ZooError, match="ensemble size"):
        Zoo.load(tmp_path / "z")


def test_editing_members_drops_the_router(tiny_zoo: Path, tmp_path: Path) -> None:
    zoo = _with_router(tiny_zoo, tmp_path / "z")
    assert zoo.subset(zoo.names).router is not None
    assert zoo.subset(zoo.names[:2]).router is None
    zoo.remove("naive")
    assert zoo.router is None
    zoo.save(tmp_path / "z")
    assert not (tmp_path / "z" / "router.safetensors").exists()
    assert Zoo.load(tmp_path / "z").router is None
    with pytest.raises(ZooError, match="weighs 3 members"):
        attach_router(zoo, Router(3, 36, zoo.dim))


def test_a_zoo_that_lost_its_router_falls_back_to_the_mean(tiny_zoo: Path, tmp_path: Path) -> None:
    zoo = Zoo.load(tiny_zoo)
    zoo.info = {**zoo.info, "forecaster": {"fusion": "router", "router_temperature": 4.0, "k": "all"}}
    attach_router(zoo, Router(len(zoo), 36, zoo.dim, hidden=8))
    zoo.save(tmp_path / "z")
    assert SeqFusion.from_pretrained(tmp_path / "z").fusion == "router"
    edited = Zoo.load(tmp_path / "z")
    sub = edited.subset(edited.names[:2])
    assert sub.router is None and "fusion" not in sub.info["forecaster"]
    assert edited.info["forecaster"]["fusion"] == "router"  # the original is untouched
    edited.remove("naive")
    edited.save(tmp_path / "z")
    model = SeqFusion.from_pretrained(tmp_path / "z")
    assert model.fusion == "mean" and model.k == 2
    assert model.predict(np.sin(np.arange(40.0)), 5).shape == (5,)


# ---------------------------------------------------------------------- forecaster
def test_forecaster_router_fusion(tiny_zoo: Path, tmp_path: Path) -> None:
    with pytest.raises(SeqFusionError, match="needs a zoo with a router"):
        SeqFusion(Zoo.load(tiny_zoo), k=2, fusion="router")
    _with_router(tiny_zoo, tmp_path / "z")
    model = SeqFusion.from_pretrained(tmp_path / "z", k=2, fusion="router", router_temperature=2.0)
    y = np.sin(np.arange(50) / 3)[:, None] + np.random.default_rng(0).normal(0, 0.1, (50, 3))
    chosen = model._pick(model.contexts(list(y.T)))
    assert chosen["members"].shape == (3, 2)
    np.testing.assert_allclose(chosen["weight"].sum(1), 1.0)
    w_all = model._router_weights_of(model.contexts(list(y.T)))
    # The kept members are the two with the largest router weights.
    np.testing.assert_array_equal(np.sort(chosen["members"], 1), np.sort(np.argsort(-w_all, 1)[:, :2], 1))
    fc = model.predict(y, 10)
    assert fc.shape == (10, 3) and np.isfinite(fc).all()
    np.testing.assert_array_equal(fc, model.predict(y, 10))  # deterministic
    # Equivariance: the forecast of a*y + b is a*forecast + b.
    np.testing.assert_allclose(model.predict(3 * y + 7, 10), 3 * fc + 7, rtol=1e-4, atol=1e-4)
    table = model.explain(y)
    assert len(table) == 6 and np.allclose(table.groupby("variate")["weight"].sum(), 1.0)
    with pytest.raises(SeqFusionError, match="router_temperature"):
        SeqFusion.from_pretrained(tmp_path / "z", fusion="router", router_temperature=0)


# ---------------------------------------------------------------------- frequency input
def _frequency_case(seed: int = 0):
    """Two groups with the same kind of context; which member is right depends only on
    the group's sampling frequency (daily: persistence, weekly: window mean)."""
    rng = np.random.default_rng(seed)
    modules = [build_model("naive", input_length=36, horizon=12),
               build_model("window_mean", input_length=36, horizon=12)]
    # Contexts: noise around a level; targets continue either the last value or the mean.
    groups = {}
    for name, kind in (("a", "last"), ("b", "mean")):
        series = []
        for _ in range(300):
            ctx = rng.normal(size=36)
            level = ctx[-1] if kind == "last" else ctx.mean()
            series.append(np.concatenate([ctx, level + rng.normal(0, 0.05, 24)]))
        groups[name] = series
    return modules, groups


def test_router_routes_by_frequency() -> None:
    from seqfusion.frequency import CLASSES, frequency_index

    modules, groups = _frequency_case()
    cfg = RouterConfig(epochs=30, n_windows=400, random_walks=0, pad_fraction=0.0, horizon=24,
                       hidden=32, batch_size=64, seed=2, frequency=True, frequency_dropout=0.2)
    data = router_data(modules, _no_embed, groups, cfg, frequencies={"a": "daily", "b": "weekly"})
    assert set(np.unique(data.freq)) == {frequency_index("daily"), frequency_index("weekly")}
    router, meta = train_router(data, cfg)
    assert router.frequencies == len(CLASSES)
    x = np.random.default_rng(9).normal(size=(40, 36))
    xn = (x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True)
    e = _no_embed(xn)
    daily = router.weights(xn, e, freq=np.full(40, frequency_index("D")))
    weekly = router.weights(xn, e, freq=np.full(40, frequency_index("W")))
    unknown = router.weights(xn, e)  # None: the "unknown" class
    assert np.median(daily[:, 0]) > 0.8 and np.median(weekly[:, 1]) > 0.8
    assert 0.2 < np.median(unknown[:, 0]) < 0.8  # without the frequency it cannot tell
    # A router without frequency inputs ignores the argument; one with them needs the data's.
    with pytest.raises(ValueError, match="frequencies"):
        train_router(dataclasses.replace(data, freq=None), cfg)


def test_synthetic_groups_get_frequencies() -> None:
    from seqfusion.frequency import CLASSES, frequency_index

    modules = [build_model("naive", input_length=36, horizon=12)]
    cfg = RouterConfig(n_windows=200, random_walks=200, seasonal=200, seasonal_periods=(4, 12),
                       pad_fraction=0.0, horizon=12, frequency=True)
    data = router_data(modules, _no_embed, {}, cfg)
    assert data.groups == ["synthetic_random_walk", "synthetic_seasonal_4", "synthetic_seasonal_12"]
    walks = data.freq[data.group == 0]
    assert frequency_index(None) not in walks and len(np.unique(walks)) > 3  # any known class
    assert (data.freq[data.group == 1] == frequency_index("quarterly")).all()
    assert (data.freq[data.group == 2] == frequency_index("monthly")).all()
    assert CLASSES[-1] == "unknown"


def test_forecaster_passes_the_frequency_to_the_router(tiny_zoo: Path, tmp_path: Path) -> None:
    from seqfusion.frequency import CLASSES

    zoo = Zoo.load(tiny_zoo)
    torch.manual_seed(0)
    router = Router(len(zoo), 36, zoo.dim, hidden=16,
                    frequencies=len(CLASSES))
    with torch.no_grad():  # make the frequency inputs matter
        router.net[0].weight[:, -len(CLASSES):] = torch.randn(16, len(CLASSES)) * 5
    attach_router(zoo, router)
    zoo.save(tmp_path / "z")
    manifest = json.loads((tmp_path / "z" / "zoo.json").read_text())
    assert manifest["router"]["config"]["frequencies"] == len(CLASSES)
    model = SeqFusion.from_pretrained(tmp_path / "z", k=len(zoo), fusion="router")
    assert model.zoo.router.frequencies == len(CLASSES)
    rng = np.random.default_rng(0)
    values = np.sin(np.arange(48) / 3)[:, None] + rng.normal(0, 0.1, (48, 2))
    daily = pd.DataFrame(values, columns=["a", "b"], index=pd.date_range("2020-01-01", periods=48, freq="D"))
    weekly = daily.set_axis(pd.date_range("2020-01-05", periods=48, freq="W"))
    f_daily, f_weekly = model.predict(daily, 6), model.predict(weekly, 6)
    assert not np.allclose(f_daily.to_numpy(), f_weekly.to_numpy())  # inferred from the stamps
    np.testing.assert_allclose(model.predict(daily, 6, freq="D").to_numpy(), f_daily.to_numpy())
    with pytest.raises(SeqFusionError, match="does not match the time stamps"):
        model.predict(daily, 6, freq="W")  # a frequency the stamps contradict
    # Arrays carry no stamps: unknown, the same as saying so.
    np.testing.assert_allclose(model.predict(values, 6), model.predict(daily, 6, freq="unknown").to_numpy())
    np.testing.assert_allclose(model.predict(values, 6, freq="D"), f_daily.to_numpy())
    # Per-row frequencies for windows, and clear errors.
    ctx = model.contexts(list(values.T))
    both = model.predict_windows(ctx, 6, freq=["D", "W"])  # the last 36 points, as history="last"
    np.testing.assert_allclose(both[0], model.predict(daily, 6, history="last").to_numpy()[:, 0])
    np.testing.assert_allclose(both[1], model.predict(weekly, 6, history="last").to_numpy()[:, 1])
    with pytest.raises(SeqFusionError, match="2 series"):
        model.predict_windows(ctx, 6, freq=["D", "W", "W"])
    with pytest.raises(SeqFusionError, match="unknown frequency"):
        model.predict(values, 6, freq="sometimes")
    assert model.explain(weekly)["weight"].between(0, 1).all()
