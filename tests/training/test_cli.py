"""``zoo build | add | map`` handlers on a tiny zoo."""
from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import pytest
import torch

from seqfusion.errors import SeqFusionError
from seqfusion.forecaster import SeqFusion
from seqfusion.training.cli import add_zoo_commands, cmd_add, cmd_build, cmd_map, infer_band, pca_2d, read_series_csv
from seqfusion.training.extractor import Extractor
from seqfusion.training.members import classical_member
from seqfusion.zoo import Zoo

EXT = {"input_length": 36, "patch_len": 4, "d_model": 16, "n_heads": 2, "d_ff": 32, "n_layers": 1,
       "dim": 16, "dropout": 0.0}


@pytest.fixture()
def tiny_zoo(tmp_path):
    torch.manual_seed(0)
    ext = Extractor(**EXT)
    demo = 10 + np.random.default_rng(0).normal(size=(16, 36)).cumsum(axis=1)
    zoo = Zoo(EXT, ext, [classical_member("naive", "naive", ext, demo)],
              info={"config": {"architectures": {"patchtst": {"d_model": 16, "n_heads": 2, "d_ff": 32}}}})
    path = tmp_path / "zoo"
    zoo.save(path)
    return path


def _wide_csv(path, n=160):
    t = np.arange(n)
    df = pd.DataFrame({"date": pd.date_range("2020-01-01", periods=n, freq="D"),
                       "a": 20 + 5 * np.sin(2 * np.pi * t / 7) + np.random.default_rng(1).normal(size=n),
                       "b": 50 + np.random.default_rng(2).normal(size=n).cumsum()})
    df.to_csv(path, index=False)
    return path


def _ns(**kw):
    base = dict(column=None, architecture="patchtst", frequency=None, epochs=1, seed=0, n_windows=200)
    return argparse.Namespace(**{**base, **kw})


def test_add_trains_a_member_and_saves_the_zoo(tiny_zoo, tmp_path, capsys) -> None:
    csv = _wide_csv(tmp_path / "mine.csv")
    assert cmd_add(_ns(zoo=str(tiny_zoo), data=str(csv), name="mine")) == 0
    assert "added 'mine'" in capsys.readouterr().out
    zoo = Zoo.load(tiny_zoo)
    assert zoo.names == ["naive", "mine"]
    m = zoo["mine"]
    assert m.architecture == "patchtst" and m.frequency == "daily" and m.source == "user:mine.csv"
    assert m.config["d_model"] == 16 and m.training["columns"] == ["a", "b"]
    assert m.representation.shape == (16,)
    fc = SeqFusion(zoo, k=2).predict(np.arange(50.0), 5)
    assert np.isfinite(fc).all()
    # One column, DLinear, explicit frequency label.
    assert cmd_add(_ns(zoo=str(tiny_zoo), data=str(csv), name="mine_b", column=["b"],
                       architecture="dlinear", frequency="weekly")) == 0
    zoo = Zoo.load(tiny_zoo)
    assert zoo["mine_b"].frequency == "weekly" and zoo["mine_b"].training["columns"] == ["b"]


def test_add_long_csv(tiny_zoo, tmp_path) -> None:
    rows = []
    for uid, off in (("x", 0.0), ("y", 100.0)):
        for i in range(80):
            rows.append({"unique_id": uid, "ds": str(pd.Timestamp("2021-01-01") + pd.Timedelta(hours=i)),
                         "y": off + np.sin(i / 3) + i * 0.1})
    pd.DataFrame(rows).to_csv(tmp_path / "long.csv", index=False)
    assert cmd_add(_ns(zoo=str(tiny_zoo), data=str(tmp_path / "long.csv"), name="lng", column=["y"],
                       architecture="dlinear")) == 0
    zoo = Zoo.load(tiny_zoo)
    assert zoo["lng"].frequency == "hourly" and zoo["lng"].training["columns"] == ["y"]


def test_add_errors(tiny_zoo, tmp_path) -> None:
    csv = _wide_csv(tmp_path / "mine.csv")
    with pytest.raises(SeqFusionError, match="already in the zoo"):
        cmd_add(_ns(zoo=str(tiny_zoo), data=str(csv), name="naive"))
    with pytest.raises(SeqFusionError, match="no column"):
        cmd_add(_ns(zoo=str(tiny_zoo), data=str(csv), name="x", column=["zzz"]))
    with pytest.raises(SeqFusionError, match="not found"):
        cmd_add(_ns(zoo=str(tiny_zoo), data=str(tmp_path / "nope.csv"), name="x"))
    short = _wide_csv(tmp_path / "short.csv", n=30)
    with pytest.raises(SeqFusionError, match="at least 48"):
        cmd_add(_ns(zoo=str(tiny_zoo), data=str(short), name="x"))
    with pytest.raises(SeqFusionError, match="invalid PTM name"):
        cmd_add(_ns(zoo=str(tiny_zoo), data=str(csv), name="a b"))
    with pytest.raises(SeqFusionError, match="manifest"):
        cmd_add(_ns(zoo=str(tmp_path / "nozoo"), data=str(csv), name="x"))
    assert Zoo.load(tiny_zoo).names == ["naive"]


def test_map_table_plot_and_targets(tiny_zoo, tmp_path, capsys) -> None:
    csv = _wide_csv(tmp_path / "mine.csv")
    cmd_add(_ns(zoo=str(tiny_zoo), data=str(csv), name="mine", architecture="dlinear"))
    capsys.readouterr()
    out = tmp_path / "map.png"
    assert cmd_map(argparse.Namespace(zoo=str(tiny_zoo), plot=str(out), data=str(csv))) == 0
    text = capsys.readouterr().out
    assert "naive" in text and "mine" in text and "nearest PTMs" in text
    assert out.is_file() and out.stat().st_size > 1000
    # Namespace from the main CLI's `show` may lack data/column/plot attributes.
    assert cmd_map(argparse.Namespace(zoo=str(tiny_zoo))) == 0
    with pytest.raises(SeqFusionError):
        cmd_map(argparse.Namespace(zoo=str(tiny_zoo), plot=str(tmp_path / "no" / "dir" / "m.png"), data=None))


def test_parsers_helpers_and_standalone_main(tmp_path, capsys) -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd")
    add_zoo_commands(sub)
    a = parser.parse_args(["add", "--zoo", "z", "--data", "d.csv", "--name", "n", "--column", "c1",
                           "--column", "c2", "--architecture", "dlinear", "--epochs", "3"])
    assert a.func is cmd_add and a.column == ["c1", "c2"] and a.epochs == 3 and a.seed == 0
    b = parser.parse_args(["build", "--config", "mini", "--out", "o"])
    assert b.func is cmd_build and b.config == "mini"
    m = parser.parse_args(["map", "--plot", "p.png"])
    assert m.func is cmd_map and m.zoo is None
    with pytest.raises(SystemExit):
        parser.parse_args(["add", "--zoo", "z", "--data", "d", "--name", "n", "--architecture", "lstm"])
    assert infer_band(pd.date_range("2020", periods=10, freq="MS")) == "monthly"
    assert infer_band(pd.date_range("2020", periods=10, freq="15min")) == "subhourly"
    assert infer_band(pd.date_range("2020", periods=10, freq="W")) == "weekly"
    assert infer_band(pd.DatetimeIndex(["2020-01-01", "2020-01-05", "2020-01-06"])) == ""
    c = pca_2d(np.random.default_rng(0).normal(size=(5, 8)))
    assert c.shape == (5, 2)
    assert pca_2d(np.ones((1, 4))).shape == (1, 2)
    names, series, band = read_series_csv(_wide_csv(tmp_path / "w.csv"))
    assert names == ["a", "b"] and band == "daily" and len(series[0]) == 160
    from seqfusion.cli import main

    assert main(["zoo", "add", "--zoo", str(tmp_path / "none"), "--data", "x.csv", "--name", "n"]) == 2
    assert "error:" in capsys.readouterr().err
