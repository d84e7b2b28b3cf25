"""Zoo building: helpers, config validation, a synthetic end-to-end build and the mini config."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from seqfusion.errors import SeqFusionError
from seqfusion.forecaster import SeqFusion
from seqfusion.training.pipeline import (
    aggregate_series,
    build_zoo,
    load_config,
    pad_inputs,
    report_markdown,
    split_series,
    zoo_size_bytes,
)
from seqfusion.zoo import Zoo


# ---------------------------------------------------------------------- helpers
def test_aggregate_split_pad() -> None:
    x = np.arange(10.0)
    assert np.allclose(aggregate_series(x, 3), [2.0, 5.0, 8.0])  # aligned at the end
    assert np.array_equal(aggregate_series(x, 1), x)
    rng = np.random.default_rng(0)
    long, short, tiny = np.arange(200.0), np.arange(50.0), np.arange(20.0)
    train, held = split_series([long, short, tiny], 36, 12, 0.2, rng)
    # long: tail = 40 -> train 160 points, held-out keeps 36 inputs before the tail
    assert len(train[0]) == 160 and np.array_equal(held[0], long[124:])
    # short (48 <= n < 48 + 12) goes whole to one side; tiny is dropped
    assert sum(len(p) == 50 for p in train + held) == 1
    assert all(len(p) != 20 for p in train + held)
    w = np.arange(24.0).reshape(1, 24)
    p = pad_inputs(w, 12, 36)
    assert p.shape == (1, 48) and (p[0, :24] == 0).all() and np.array_equal(p[0, 24:], w[0])
    assert pad_inputs(w, 36, 36) is w


def test_shipped_configs_parse_and_respect_exclusions() -> None:
    default = load_config("default")
    nc = load_config("no_competitions")
    mini = load_config("mini")
    assert 15 <= len(default["members"]) + len(default["classical"]) <= 40
    assert len(mini["members"]) == 2 and mini["extractor"]["train"]["steps"] <= 500
    assert default["extractor"]["n_subseries"] >= 100_000
    for m in nc["members"]:
        assert not m["source"].startswith(("m3_", "m4_", "tourism_")), m["name"]
    assert set(nc["exclude"]) >= {"m3_*", "m4_*", "tourism_*"}
    for cfg in (default, nc):
        pt = cfg["architectures"]["patchtst"]
        assert (pt["patch_len"], pt["stride"], pt["d_model"], pt["n_layers"]) == (16, 8, 64, 1)
        assert cfg["training"]["epochs"] >= 10 and cfg["input_length"] == 36 and cfg["horizon"] == 12
        assert all("benchmark" not in m["source"] for m in cfg["members"])


def test_shipped_configs_give_patchtst_a_native_horizon_of_48() -> None:
    """Every PatchTST member of the default and no-competitions zoos asks for horizon 48
    (one forward pass up to H = 48), every other member keeps the zoo's 12, and the sources
    with too few 84-point windows for it carry no PatchTST member."""
    for cfg in (load_config("default"), load_config("no_competitions")):
        assert cfg["horizon"] == 12 and cfg["training"]["min_horizon_windows"] == 5000
        for m in cfg["members"]:
            assert m.get("horizon", 12) == (48 if m["architecture"] == "patchtst" else 12), m["name"]
        patchtst_sources = {m["source"] for m in cfg["members"] if m["architecture"] == "patchtst"}
        assert not patchtst_sources & {"hospital", "nn5_weekly"}, cfg["name"]


def test_default_config_covers_every_band_with_both_architectures() -> None:
    from seqfusion.training.data import sources
    bands = {}
    for cfg in (load_config("default"), load_config("no_competitions")):
        bands.clear()
        for m in cfg["members"]:
            freq = m.get("frequency") or sources.source_info(m["source"])["frequency"]
            bands.setdefault(freq, set()).add(m["architecture"])
        assert set(bands) == set(sources.FREQUENCIES), cfg["name"]
        assert all(a == {"patchtst", "dlinear"} for a in bands.values()), (cfg["name"], bands)


def test_config_errors() -> None:
    base = _synthetic_config()
    with pytest.raises(SeqFusionError, match="unknown config key"):
        load_config({**base, "bogus": 1})
    bad = copy.deepcopy(base)
    bad["members"][0]["architecture"] = "lstm"
    with pytest.raises(SeqFusionError, match="architecture"):
        load_config(bad)
    bad = copy.deepcopy(base)
    bad["members"].append(dict(bad["members"][0]))
    with pytest.raises(SeqFusionError, match="twice"):
        load_config(bad)
    with pytest.raises(SeqFusionError, match="not found"):
        load_config("no_such_config")
    with pytest.raises(SeqFusionError, match="excluded"):
        build_zoo({**base, "exclude": ["sin*"]}, None, progress=False, sources=_synthetic_sources(),
                  cache=False)


# ---------------------------------------------------------------------- synthetic build
def _synthetic_sources(seed: int = 0) -> dict[str, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    t = np.arange(300)
    sines = [50 + 10 * np.sin(2 * np.pi * t / 7 + p) + rng.normal(size=300) for p in rng.uniform(0, 7, 12)]
    walks = [100 + rng.normal(size=300).cumsum() for _ in range(12)]
    short = [5 + rng.normal(size=30).cumsum() for _ in range(40)]  # needs context padding
    return {"sines": sines, "walks": walks, "short": short}


def _synthetic_config() -> dict:
    return {
        "name": "synthetic",
        "split": {"n_eval_windows": 64},
        "training": {"epochs": 2, "n_windows": 400, "batch_size": 128, "demo_size": 32},
        "architectures": {"patchtst": {"d_model": 16, "n_heads": 2, "d_ff": 32}},
        "extractor": {"n_subseries": 1500,
                      "model": {"d_model": 16, "n_heads": 2, "d_ff": 32, "n_layers": 1, "dim": 16},
                      "train": {"steps": 40, "batch_size": 16, "transfer_pairs": 16}},
        "members": [
            {"name": "sines_pt", "source": "sines", "architecture": "patchtst", "seed": 1},
            {"name": "walks_dl", "source": "walks", "architecture": "dlinear", "seed": 2},
            {"name": "short_dl", "source": "short", "architecture": "dlinear", "seed": 3, "context": 12},
            {"name": "walks_agg", "source": "walks", "architecture": "dlinear", "seed": 4, "aggregate": 2,
             "frequency": "bi-daily"},
        ],
        "classical": [
            {"name": "naive", "architecture": "naive", "demo": {"kind": "random_walk", "n": 32}},
            {"name": "snaive", "architecture": "seasonal_naive", "config": {"period": 7},
             "demo": {"kind": "source", "source": "sines", "n": 32}},
        ],
    }


META = {"sines": {"frequency": "daily", "domain": "synthetic"},
        "walks": {"frequency": "daily", "domain": "synthetic"},
        "short": {"frequency": "yearly", "domain": "synthetic"}}


def test_synthetic_build_end_to_end_cache_and_determinism(tmp_path) -> None:
    torch.set_num_threads(1)
    cfg = _synthetic_config()
    cache = tmp_path / "cache"
    zoo = build_zoo(cfg, tmp_path / "zoo", progress=False, sources=_synthetic_sources(),
                    source_meta=META, cache=cache)
    assert zoo.names == ["sines_pt", "walks_dl", "short_dl", "walks_agg", "naive", "snaive"]
    loaded = Zoo.load(tmp_path / "zoo")
    assert loaded.names == zoo.names
    info = loaded.info
    for key in ("config", "sources", "seeds", "versions", "build", "transfer", "extractor_training"):
        assert key in info, key
    tr = info["transfer"]
    assert tr["cols"] == ["sines", "walks", "short", "walks@2"]
    assert np.asarray(tr["mse"]).shape == (6, 4) and np.asarray(tr["g"]).max() <= 1
    assert tr["row_sources"][-2:] == ["", ""]
    assert info["extractor_training"]["n_subseries"] >= 1500 * 0.9
    assert info["sources"]["walks@2"]["aggregate"] == 2
    assert loaded["walks_agg"].frequency == "bi-daily" and loaded["sines_pt"].frequency == "daily"
    assert loaded["short_dl"].training["context"] == 12
    assert loaded["naive"].training["demo"]["kind"] == "random_walk"
    json.dumps(info)  # JSON-clean
    # A forecast with the built zoo works.
    fc = SeqFusion(loaded, k=2).predict(_synthetic_sources()["sines"][0], 20)
    assert fc.shape == (20,) and np.isfinite(fc).all()
    # Cached rebuild: same weights and representations, PTMs marked as cached.
    again = build_zoo(cfg, tmp_path / "zoo2", progress=False, sources=_synthetic_sources(),
                      source_meta=META, cache=cache)
    assert all(m.training.get("cached") for m in again.members[:4])
    # Uncached rebuild from scratch: deterministic given the seeds.
    fresh = build_zoo(cfg, None, progress=False, sources=_synthetic_sources(), source_meta=META, cache=False)
    for a, b in zip(zoo.members, fresh.members):
        np.testing.assert_allclose(a.representation, b.representation, rtol=1e-5, atol=1e-6)
        assert a.state.keys() == b.state.keys()
        for k in a.state:
            np.testing.assert_array_equal(a.state[k], b.state[k], err_msg=f"{a.name} {k}")
    np.testing.assert_allclose(np.asarray(zoo.info["transfer"]["mse"]),
                               np.asarray(fresh.info["transfer"]["mse"]))
    text = report_markdown(loaded, tmp_path / "report.md")
    assert "sines_pt" in text and (tmp_path / "report.md").is_file()
    assert zoo_size_bytes(tmp_path / "zoo") < 1_000_000


def test_build_fits_a_router_on_held_out_windows(tmp_path) -> None:
    torch.set_num_threads(1)
    cfg = _synthetic_config()
    cfg["members"] = cfg["members"][:2]
    cfg["router"] = {"enabled": True, "extra_sources": ["short"], "epochs": 2, "n_windows": 200,
                     "min_windows": 20, "random_walks": 100, "seasonal": 100, "hidden": 16,
                     "calibrate_folds": 2}
    cfg["forecaster"] = {"fusion": "router", "k": "all"}
    zoo = build_zoo(cfg, tmp_path / "zoo", progress=False, sources=_synthetic_sources(),
                    source_meta=META, cache=tmp_path / "cache")
    assert zoo.router is not None and zoo.router.n_members == len(zoo)
    groups = zoo.info["router"]["groups"]
    assert set(groups) <= {"sines", "walks", "short", "synthetic_random_walk", "synthetic_seasonal"}
    assert "sines" in groups and "synthetic_random_walk" in groups and "synthetic_seasonal" in groups
    assert zoo.info["router"]["loss_router"] <= zoo.info["router"]["loss_uniform_weights"] * 1.05
    calibrated = zoo.info["router"]["calibration"]["temperature"]
    model = SeqFusion.from_pretrained(tmp_path / "zoo")
    # The calibrated temperature becomes the zoo's default; k "all" means every member.
    assert model.fusion == "router" and model.router_temperature == calibrated and model.k == len(zoo)
    fc = model.predict(_synthetic_sources()["sines"][0], 15)
    assert fc.shape == (15,) and np.isfinite(fc).all()
    # The cached rebuild reuses the router.
    again = build_zoo(cfg, None, progress=False, sources=_synthetic_sources(), source_meta=META,
                      cache=tmp_path / "cache")
    assert zoo.router_state.keys() == again.router_state.keys()
    for k in zoo.router_state:
        np.testing.assert_array_equal(zoo.router_state[k], again.router_state[k], err_msg=k)
    assert "router" in report_markdown(Zoo.load(tmp_path / "zoo"))


def test_build_fits_a_router_ensemble(tmp_path) -> None:
    """``ensemble = 2``: a second router with the next seed (and its own windows); the
    first is the one-router build's router, and the weights are the two routers' mean."""
    from seqfusion import engine

    torch.set_num_threads(1)
    cfg = _synthetic_config()
    cfg["members"] = cfg["members"][:2]
    base = {"enabled": True, "extra_sources": ["short"], "epochs": 2, "n_windows": 200, "min_windows": 20,
            "random_walks": 100, "hidden": 16}
    cfg["router"] = {**base, "ensemble": 2}
    zoo = build_zoo(cfg, tmp_path / "zoo", progress=False, sources=_synthetic_sources(),
                    source_meta=META, cache=tmp_path / "cache")
    assert isinstance(zoo.router, engine.RouterEnsemble) and len(zoo.router.routers) == 2
    assert zoo.router_config["ensemble"] == 2 and len(zoo.info["router"]["ensemble"]) == 2
    cfg["router"] = base
    one = build_zoo(cfg, None, progress=False, sources=_synthetic_sources(), source_meta=META,
                    cache=tmp_path / "cache")
    assert isinstance(one.router, engine.Router) and "ensemble" not in one.router_config
    for k, v in one.router_state.items():
        np.testing.assert_array_equal(zoo.router_state["routers.0." + k], v, err_msg=k)
    assert not np.array_equal(zoo.router_state["routers.1.net.0.weight"], one.router_state["net.0.weight"])
    x = np.random.default_rng(1).normal(size=(7, zoo.input_length))
    e = np.random.default_rng(2).normal(size=(7, zoo.dim)).astype(np.float32)
    w = zoo.router.weights(x, e, 2.0)
    np.testing.assert_allclose(w, (zoo.router.routers[0].weights(x, e, 2.0) + zoo.router.routers[1].weights(x, e, 2.0))
                               / 2, rtol=1e-12)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    loaded = Zoo.load(tmp_path / "zoo")
    assert isinstance(loaded.router, engine.RouterEnsemble)
    np.testing.assert_allclose(loaded.router.weights(x, e, 2.0), w, atol=2e-3)  # stored in float16
    assert "router" in report_markdown(loaded)


@pytest.mark.parametrize("router, message", [
    ({"enabled": True, "layers": 2}, "unknown router key"),
    ({"enabled": True, "extra_sources": "everything"}, "extra_sources"),
    ({"enabled": True, "calibrate_folds": 1}, "calibrate_folds"),
    ({"enabled": True, "ensemble": 0}, "ensemble"),
    ({"enabled": True, "ensemble": "2"}, "ensemble"),
])
def test_router_config_errors(router, message) -> None:
    cfg = _synthetic_config()
    cfg["router"] = router
    with pytest.raises(SeqFusionError, match=message):
        load_config(cfg)


def test_use_transfer_false_and_too_little_data(tmp_path) -> None:
    cfg = _synthetic_config()
    cfg["members"] = cfg["members"][:2]
    cfg["classical"] = []
    cfg["extractor"]["train"] = {**cfg["extractor"]["train"], "use_transfer": False, "steps": 5}
    zoo = build_zoo(cfg, None, progress=False, sources=_synthetic_sources(), source_meta=META, cache=False)
    assert zoo.info["extractor_training"]["transfer"]["last"] == 0.0
    cfg["training"]["min_windows"] = 10_000
    with pytest.raises(SeqFusionError, match="usable training windows"):
        build_zoo(cfg, None, progress=False, sources=_synthetic_sources(), source_meta=META, cache=False)


def test_member_native_horizon_and_fallback() -> None:
    torch.set_num_threads(1)
    cfg = _synthetic_config()
    cfg["members"] = [
        {"name": "sines_pt48", "source": "sines", "architecture": "patchtst", "seed": 1, "horizon": 48},
        {"name": "short_pt48", "source": "short", "architecture": "patchtst", "seed": 3, "context": 12,
         "horizon": 48},  # 30-point series: no window of 12 + 48 points, falls back to 12
    ]
    cfg["classical"] = cfg["classical"][:1]
    zoo = build_zoo(cfg, None, progress=False, sources=_synthetic_sources(), source_meta=META, cache=False)
    assert zoo["sines_pt48"].horizon == 48 and zoo["sines_pt48"].training["horizon_requested"] == 48
    assert zoo["short_pt48"].horizon == 12
    assert np.asarray(zoo.info["transfer"]["mse"]).shape == (3, 2)  # still scored on 12 steps
    fc = SeqFusion(zoo, k=3).predict(_synthetic_sources()["sines"][0], 50)
    assert fc.shape == (50,) and np.isfinite(fc).all()
    with pytest.raises(SeqFusionError, match="horizon must be"):
        load_config({**cfg, "members": [{**cfg["members"][0], "horizon": 0}]})


LONG = {"name": "long_small", "model": {"input_length": 64, "horizon": 8, "patch_len": 16, "d_model": 16,
                                       "n_heads": 2, "d_ff": 32, "n_layers": 1, "n_quantiles": 5},
        "train": {"steps": 8, "batch_size": 8, "checkpoint_every": 4, "warmup": 2, "threads": 1},
        "corpus": {"extra": False, "sources": ["sines", "walks"]}}


def test_build_trains_long_members_resumably_and_caches_them(tmp_path) -> None:
    torch.set_num_threads(1)
    cfg = _synthetic_config()
    cfg["members"] = cfg["members"][:2]
    cache = tmp_path / "cache"
    stopped = {**LONG, "minutes": 0.0}
    with pytest.raises(SeqFusionError, match="stopped at step 0 of 8.*run the build again"):
        build_zoo({**cfg, "long_members": [stopped]}, None, progress=False, sources=_synthetic_sources(),
                  source_meta=META, cache=cache)
    zoo = build_zoo({**cfg, "long_members": [LONG]}, tmp_path / "zoo", progress=False,
                    sources=_synthetic_sources(), source_meta=META, cache=cache)
    loaded = Zoo.load(tmp_path / "zoo")
    assert [m.name for m in loaded.long_members] == ["long_small"]
    assert loaded.info["long_members"]["long_small"]["steps"] == 8
    assert (tmp_path / "zoo" / "long" / "long_small.safetensors").is_file()
    fc = SeqFusion(loaded, k=2).predict_histories(_synthetic_sources()["sines"][:2], 10)
    assert np.isfinite(fc).all()
    # the cached run is reused, bit for bit; without a cache the same weights come out
    again = build_zoo({**cfg, "long_members": [LONG]}, None, progress=False, sources=_synthetic_sources(),
                      source_meta=META, cache=cache)
    fresh = build_zoo({**cfg, "long_members": [LONG]}, None, progress=False, sources=_synthetic_sources(),
                      source_meta=META, cache=False)
    for other in (again, fresh):
        for k, v in zoo.long_members[0].state.items():
            np.testing.assert_array_equal(other.long_members[0].state[k], v, err_msg=k)
    with pytest.raises(SeqFusionError, match="excluded by 'walk\\*'"):
        build_zoo({**cfg, "members": cfg["members"][:1], "long_members": [LONG], "exclude": ["walk*"]}, None,
                  progress=False, sources=_synthetic_sources(), source_meta=META, cache=False)
    with pytest.raises(SeqFusionError, match="unknown corpus key"):
        load_config({**cfg, "long_members": [{**LONG, "corpus": {"mixups": 1}}]})
    with pytest.raises(SeqFusionError, match="long_small"):
        load_config({**cfg, "long_members": [{**LONG, "model": {"patch_len": 7}}]})


# ---------------------------------------------------------------------- real data: mini config
@pytest.mark.data
def test_mini_config_builds_from_the_data_folder(tmp_path) -> None:
    from seqfusion.training.data import paths
    try:
        paths.data_root()
    except FileNotFoundError:
        pytest.fail("data folder not available")
    torch.set_num_threads(1)
    zoo = build_zoo("mini", tmp_path / "zoo", progress=False, cache=tmp_path / "cache")
    loaded = Zoo.load(tmp_path / "zoo")
    assert loaded.names == ["hospital_patchtst", "m4_hourly_dlinear", "naive"]
    assert [m.name for m in loaded.long_members] == ["long_tiny"]
    assert loaded.long_members[0].training["steps"] == 40
    assert loaded["hospital_patchtst"].source == "hospital"
    assert loaded.info["build"]["seconds"] < 60
    summ = zoo.info["transfer"]["summary"]
    assert summ["diag_mean_mse"] < summ["offdiag_mean_mse"]
    assert zoo_size_bytes(tmp_path / "zoo") < 1_000_000
    fc = SeqFusion(loaded, k=1).predict(np.sin(np.arange(80) / 3.0) + 10, 12)
    assert np.isfinite(fc).all()


def test_report_names_the_command_as_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    """``python -m seqfusion.cli zoo build ...`` is reported as ``seqfusion zoo build ...``;
    any other program keeps its own name."""
    from seqfusion.training import pipeline

    monkeypatch.setattr("sys.argv", ["/x/src/seqfusion/cli.py", "zoo", "build", "--config", "mini"])
    assert pipeline._command_line() == "seqfusion zoo build --config mini"
    monkeypatch.setattr("sys.argv", ["/usr/bin/seqfusion", "zoo", "build"])
    assert pipeline._command_line() == "seqfusion zoo build"
    monkeypatch.setattr("sys.argv", ["/x/tools/cli.py", "run"])
    assert pipeline._command_line() == "cli.py run"
