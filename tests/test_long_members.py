"""Long-context members in the zoo and in the whole-history layer."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from seqfusion import SeqFusion, history
from seqfusion.errors import ZooError
from seqfusion.training.models.patch_quantile import PatchQuantile as TorchPatchQuantile
from seqfusion.zoo import Member, Zoo, state_arrays

SMALL = {"input_length": 64, "horizon": 8, "patch_len": 16, "d_model": 16, "n_heads": 2, "d_ff": 32,
         "n_layers": 1, "n_quantiles": 5, "dropout": 0.0}


def long_member(name: str = "long_small", seed: int = 0) -> Member:
    torch.manual_seed(seed)
    module = TorchPatchQuantile(**SMALL).eval()
    return Member(name=name, architecture="patch_quantile", config=dict(SMALL), state=state_arrays(module),
                  representation=np.zeros(0, dtype=np.float32), source="test")


@pytest.fixture(scope="module")
def zoo_with_long(tmp_path_factory: pytest.TempPathFactory) -> Path:
    zoo = Zoo.load()
    zoo.long_members = []  # the default zoo's own long-context member replaced by a small one
    zoo.add_long(long_member())
    return zoo.save(tmp_path_factory.mktemp("zoo") / "zoo")


def _series(n: int = 4, length: int = 400) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    t = np.arange(length)
    return [50 + 10 * np.sin(2 * np.pi * t / 24 + i) + rng.normal(0, 1, length) for i in range(n)]


def test_long_members_are_saved_with_checksums_and_loaded(zoo_with_long: Path) -> None:
    zoo = Zoo.load(zoo_with_long)
    assert [m.name for m in zoo.long_members] == ["long_small"]
    assert (zoo_with_long / "long" / "long_small.safetensors").is_file()
    x = np.stack(_series())[:, -64:]
    ref = long_member().model
    got = zoo.long_members[0].model
    # float16 on disk: the loaded member is the saved one rounded to half precision
    np.testing.assert_allclose(got.quantiles(x), ref.quantiles(x), rtol=2e-2, atol=0.5)
    assert zoo.subset(zoo.names[:3]).long_members[0] is zoo.long_members[0]


def test_a_changed_long_member_file_is_refused(zoo_with_long: Path, tmp_path: Path) -> None:
    copy = tmp_path / "zoo"
    shutil.copytree(zoo_with_long, copy)
    f = copy / "long" / "long_small.safetensors"
    data = bytearray(f.read_bytes())
    data[-1] ^= 1
    f.write_bytes(bytes(data))
    with pytest.raises(ZooError, match="long_small.safetensors"):
        Zoo.load(copy)


def test_only_quantile_architectures_and_new_names_join_as_long_members() -> None:
    zoo = Zoo.load()
    zoo.long_members = []
    m = zoo.members[0]
    short = Member(name="short_member", architecture=m.architecture, config=m.config, state=m.state,
                   representation=m.representation)
    with pytest.raises(ZooError, match="does not forecast quantiles"):
        zoo.add_long(short)
    zoo.add_long(long_member("extra"))
    with pytest.raises(ZooError, match="already in the zoo"):
        zoo.add_long(long_member("extra"))
    with pytest.raises(ZooError, match="already in the zoo"):
        zoo.add_long(long_member(zoo.names[0]))


def test_a_long_candidate_without_back_test_error_takes_the_weight() -> None:
    """A long-context forecast that is exact on a series of period 168 (longer than the
    zoo's 36 points) wins the back-tests and the forecast."""
    t = np.arange(1000)
    period = 168
    x = 100 + 20 * np.sin(2 * np.pi * t / period) + 5 * np.cos(2 * np.pi * 3 * t / period)

    def exact(contexts: list[np.ndarray], h: int) -> np.ndarray:
        point = np.stack([np.resize(c[-period:], h) if len(c) >= period else np.full(h, c[-1]) for c in contexts])
        return np.stack([point - 1.0, point, point + 1.0], axis=1)  # three quantiles

    def zoo(contexts: list[np.ndarray], h: int, rows: np.ndarray) -> np.ndarray:
        return np.stack([np.full(h, c[-1]) for c in contexts])

    fc = history.forecast([x[:-48]], 48, np.array([24]), zoo, backtest_horizon=48, long=exact)
    w = fc.weights[0, history.CANDIDATES.index("long")]
    assert w > 0.99
    np.testing.assert_allclose(fc.point[0], x[-48:], atol=1e-6 * 100 + (1 - w) * 50)
    assert fc.long_quantiles is not None and fc.long_quantiles.shape == (1, 3, 48)
    np.testing.assert_allclose(fc.long_quantiles[0, 1], x[-48:], atol=1e-9)
    without = history.forecast([x[:-48]], 48, np.array([24]), zoo, backtest_horizon=48)
    assert without.weights[0, history.CANDIDATES.index("long")] == 0.0 and without.long_quantiles is None
    np.testing.assert_array_equal(without.candidates[0, history.CANDIDATES.index("long")], without.candidates[0, 0])


def test_long_context_option_leaves_the_members_out(zoo_with_long: Path) -> None:
    series = _series()
    with_long = SeqFusion.from_pretrained(zoo_with_long)
    off = SeqFusion.from_pretrained(zoo_with_long, long_context=False)
    plain = SeqFusion.from_pretrained(long_context=False)  # the default zoo's 36-point part
    np.testing.assert_array_equal(off.predict_histories(series, 24, freq="h"),
                                  plain.predict_histories(series, 24, freq="h"))
    a = with_long.predict_histories(series, 24, freq="h")
    assert np.isfinite(a).all() and not np.array_equal(a, plain.predict_histories(series, 24, freq="h"))
    ex = with_long.explain(series[0], freq="h", horizon=24)
    assert "weight_long" in ex.columns and float(ex["weight_long"].iloc[0]) > 0.0
    with pytest.raises(Exception, match="long_context must be True or False"):
        SeqFusion.from_pretrained(zoo_with_long, long_context="yes")


def test_long_forecasts_do_not_depend_on_the_batch(zoo_with_long: Path) -> None:
    model = SeqFusion.from_pretrained(zoo_with_long)
    series = _series(6, 300)
    whole = model.predict_histories(series, 30, freq="h")
    for i in (0, 5):
        np.testing.assert_array_equal(model.predict_histories([series[i]], 30, freq="h")[0], whole[i])


def test_long_quantiles_are_on_the_series_scale(zoo_with_long: Path) -> None:
    """The members' quantiles enter the spread in the series' own units: quantiles of
    ``c * y`` are ``c`` times those of ``y``."""
    model = SeqFusion.from_pretrained(zoo_with_long)
    series = _series(3, 300)
    q = model.predict_histories(series, 24, quantiles=[0.1, 0.5, 0.9], freq="h")
    for c in (1e-3, 1e4):
        scaled = model.predict_histories([s * c for s in series], 24, quantiles=[0.1, 0.5, 0.9], freq="h")
        np.testing.assert_allclose(scaled, q * c, rtol=1e-5)
    fc, _ = model._forecast_histories(series, None, 24, None, "hourly", "h")
    assert fc.long_quantiles is not None
    np.testing.assert_allclose(np.nanmean(fc.long_quantiles[:, 4]), np.mean([s[-48:].mean() for s in series]),
                               rtol=0.5)


def test_the_default_zoo_ships_a_long_context_member() -> None:
    zoo = Zoo.load()
    assert [m.name for m in zoo.long_members] == ["long_general"]
    model = zoo.long_members[0].model
    assert (model.input_length, model.horizon, model.config.n_quantiles) == (512, 64, 9)
    assert zoo.info["long_members"]["long_general"]["steps"] == 10_000


def test_zoo_table_lists_long_members_with_their_role(zoo_with_long: Path) -> None:
    zoo = Zoo.load(zoo_with_long)
    tab = zoo.table()
    assert list(tab["name"]) == zoo.names + ["long_small"]
    assert list(tab["role"]) == ["routed"] * len(zoo) + ["long-context"]
    assert int(tab["input_length"].iloc[-1]) == 64
