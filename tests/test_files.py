"""Safe reading and writing of tables: atomic writes, refusing to overwrite inputs."""
from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from seqfusion.errors import SeqFusionError
from seqfusion.files import check_output, read_table, write_atomic, write_table


def test_interrupted_write_leaves_nothing_that_looks_complete(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"

    def half(tmp: Path) -> None:
        tmp.write_text("unique_id,ds,y\na,2020")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, half)
    assert list(tmp_path.iterdir()) == []
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, half)
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]


def test_write_table_csv_and_parquet_round_trip(tmp_path: Path) -> None:
    df = pd.DataFrame({"unique_id": ["a", "b"], "ds": pd.to_datetime(["2020-01-01", "2020-01-02"]),
                       "y": [1.5, 2.5]})
    write_table(df, tmp_path / "x.csv")
    write_table(df, tmp_path / "x.parquet")
    assert read_table(tmp_path / "x.csv")["y"].tolist() == [1.5, 2.5]
    pd.testing.assert_frame_equal(read_table(tmp_path / "x.parquet"), df)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.csv", "x.parquet"]
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "x.csv").stat().st_mode & 0o777 == 0o666 & ~umask


def test_check_output(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("a\n1\n")
    with pytest.raises(SeqFusionError, match="is the input file"):
        check_output(tmp_path / "." / "in.csv", [src])
    with pytest.raises(SeqFusionError, match="is a directory"):
        check_output(tmp_path, [src])
    with pytest.raises(SeqFusionError, match="does not exist"):
        check_output(tmp_path / "no" / "x.csv", [src])
    with pytest.raises(SeqFusionError, match="unsupported file type"):
        check_output(tmp_path / "x.xyz", [src], suffixes=[".png"])
    assert check_output(tmp_path / "x.png", [src], suffixes=[".png"]) == tmp_path / "x.png"


def test_read_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(SeqFusionError, match="file not found"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(SeqFusionError, match="cannot read as Parquet") as info:
        read_table(tmp_path / "bad.parquet")
    assert "\n" not in str(info.value)


def test_torch_is_no_runtime_dependency_and_a_range_where_needed() -> None:
    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if d.startswith("torch")]
    torch = [d for deps in project["optional-dependencies"].values() for d in deps if d.startswith("torch")]
    assert torch and all("==" not in d for d in torch)
