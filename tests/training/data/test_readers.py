"""Readers on tiny synthetic files, plus a few checks against the shared data."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from seqfusion.training.data import readers
from seqfusion.training.data.paths import data_root

TSF = """# Dataset Information
# author: Gonz\xe1lez (non-UTF-8 byte)
@relation toy
@attribute series_name string
@attribute start_timestamp date
@frequency monthly
@horizon 2
@missing true
@equallength false
@data
T1:2000-01-01 00-00-00:1,2,3,4,5
T2:2000-01-01 00-00-00:10,?,30,40
"""


def _real_root() -> Path:
    try:
        return data_root()
    except FileNotFoundError:
        pytest.fail("shared data folder not available")


def _same(a: list[np.ndarray], b: list[list[float]]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.dtype == np.float64 and x.ndim == 1
        np.testing.assert_array_equal(x, np.array(y, dtype=np.float64))


def test_tsf_latin1_missing_and_horizon(tmp_path: Path) -> None:
    path = tmp_path / "toy.tsf"
    path.write_bytes(TSF.encode("latin-1"))
    header, attrs, _ = readers.parse_tsf(path)
    assert header["frequency"] == "monthly" and header["horizon"] == "2"
    assert attrs[1] == {"series_name": "T2", "start_timestamp": "2000-01-01 00-00-00"}
    _same(readers.read_tsf(path), [[1, 2, 3, 4, 5], [10, np.nan, 30, 40]])
    _same(readers.read_tsf(path, exclude_test=True), [[1, 2, 3], [10, np.nan]])


def test_tsf_without_attributes(tmp_path: Path) -> None:
    path = tmp_path / "bare.tsf"
    path.write_text("@relation x\n@attribute series_name string\n@data\nA:1,2\nB:3\n")
    _same(readers.read_tsf(path), [[1, 2], [3]])
    with pytest.raises(ValueError, match="horizon"):
        readers.read_tsf(path, exclude_test=True)


def test_weekly_txt_with_results(tmp_path: Path) -> None:
    (tmp_path / "toy_dataset.txt").write_text("1,2,3\n4.5,5\n")
    (tmp_path / "toy_results.txt").write_text("1;7;8\n1;9;10\n")
    _same(readers.read_weekly_txt(tmp_path / "toy_dataset.txt"), [[1, 2, 3], [4.5, 5]])
    _same(readers.read_weekly_txt(tmp_path / "toy_dataset.txt", with_results=True),
          [[1, 2, 3, 7, 8], [4.5, 5, 9, 10]])


def test_m3_tidy_split_and_category(tmp_path: Path) -> None:
    path = tmp_path / "m3.csv"
    rows = ["series_id,category,start_year,start_period,n_obs,horizon,t,split,value"]
    for sid, cat, vals in [("N9", "MICRO", [5, 6, 7, 8]), ("N2", "MACRO", [1, 2, 3])]:
        for t, v in enumerate(vals, start=1):
            split = "train" if t <= len(vals) - 1 else "test"
            rows.append(f"{sid},{cat},1990,1,{len(vals)},1,{t},{split},{v}")
    path.write_text("\n".join(rows[:1] + rows[:0:-1]) + "\n")  # rows shuffled (reversed)
    _same(readers.read_m3_tidy(path), [[1, 2], [5, 6, 7]])
    _same(readers.read_m3_tidy(path, split="all", categories=["MICRO"]), [[5, 6, 7, 8]])
    _same(readers.read_m3_tidy(path, split="test"), [[3], [8]])
    with pytest.raises(ValueError):
        readers.read_m3_tidy(path, split="valid")


def test_m4_wide_padding_and_test(tmp_path: Path) -> None:
    (tmp_path / "Train").mkdir()
    (tmp_path / "Test").mkdir()
    train = tmp_path / "Train" / "Toy-train.csv"
    train.write_text('"V1","V2","V3","V4"\n"H1","1","2",""\n"H2","3","","5"\n')
    (tmp_path / "Test" / "Toy-test.csv").write_text('"V1","V2"\n"H2","9"\n"H1","8"\n')
    _same(readers.read_m4_wide(train), [[1, 2], [3, np.nan, 5]])
    _same(readers.read_m4_wide(train, include_test=True), [[1, 2, 8], [3, np.nan, 5, 9]])


def test_csv_columns_wide_with_nans_grid_and_split(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(
        "date,split,a,b,label\n"
        "2020-01-01,train,1,,x\n"
        "2020-01-02,train,2,5,y\n"
        "2020-01-04,test,4,6,z\n"
    )
    _same(readers.read_csv_columns(path), [[1, 2, 4], [np.nan, 5, 6]])
    _same(readers.read_csv_columns(path, columns=["b"], time="date", freq="D"),
          [[np.nan, 5, np.nan, 6]])
    _same(readers.read_csv_columns(path, split_column="split", split="train"),
          [[1, 2], [np.nan, 5]])
    with pytest.raises(KeyError):
        readers.read_csv_columns(path, columns=["nope"])


def test_csv_columns_time_parts(tmp_path: Path) -> None:
    path = tmp_path / "parts.csv"
    path.write_text("dteday,hr,cnt\n2011-01-01,0,1\n2011-01-01,1,2\n2011-01-01,3,4\n")
    out = readers.read_csv_columns(path, time={"date": "dteday", "hour": "hr"}, freq="h")
    _same(out, [[1, 2, np.nan, 4]])


def test_fred_md_transform_row_and_exchange(tmp_path: Path) -> None:
    path = tmp_path / "fred.csv"
    path.write_text("sasdate,RPI,EXJPUSx,UNRATE\nTransform:,5,5,2\n"
                    "1/1/1959,1.5,360,5\n2/1/1959,,361,5.1\n")
    _same(readers.read_fred_md(path), [[1.5, np.nan], [5, 5.1]])
    assert len(readers.read_fred_md(path, exclude=())) == 3


def test_csv_rows(tmp_path: Path) -> None:
    path = tmp_path / "covid.csv"
    path.write_text("Province/State,Country/Region,Lat,Long,1/22/20,1/23/20,1/24/20\n"
                    ",A,1.0,2.0,0,1,3\nP,B,3.0,4.0,2,2,5\n")
    exclude = ["Province/State", "Country/Region", "Lat", "Long"]
    _same(readers.read_csv_rows(path, exclude=exclude), [[0, 1, 3], [2, 2, 5]])
    _same(readers.read_csv_rows(path, exclude=exclude, diff=True), [[1, 2], [0, 3]])


def test_readers_registry_is_complete() -> None:
    public = {n for n in dir(readers) if n.startswith("read_")}
    assert public == set(readers.READERS)


# ------------------------------------------------------------------ real data
@pytest.mark.data
def test_real_tourism_tsf_and_test_part() -> None:
    path = _real_root() / "tourism" / "tourism_monthly_dataset.tsf"
    full = readers.read_tsf(path)
    train = readers.read_tsf(path, exclude_test=True)
    assert len(full) == 366 and sum(map(len, full)) == 109280
    assert all(len(f) - len(t) == 24 for f, t in zip(full, train))


@pytest.mark.data
def test_real_fred_md_drops_exchange_columns() -> None:
    path = _real_root() / "misc" / "FRED-MD.csv"
    kept = readers.read_fred_md(path)
    every = readers.read_fred_md(path, exclude=())
    assert len(every) == 127 and len(kept) == 127 - len(readers.FRED_EXCHANGE_COLUMNS)
    assert all(len(x) == 779 for x in kept)  # Transform row skipped


@pytest.mark.data
def test_real_m3_train_excludes_horizon() -> None:
    path = _real_root() / "m3" / "m3_yearly.csv"
    train, full = readers.read_m3_tidy(path), readers.read_m3_tidy(path, split="all")
    assert len(train) == len(full) == 645
    assert all(len(f) - len(t) == 6 for f, t in zip(full, train))


@pytest.mark.data
def test_real_m4_hourly_with_test() -> None:
    path = _real_root() / "m4" / "Train" / "Hourly-train.csv"
    train, full = readers.read_m4_wide(path), readers.read_m4_wide(path, include_test=True)
    assert len(train) == 414 and all(700 <= len(x) <= 960 for x in train)
    assert all(len(f) - len(t) == 48 for f, t in zip(full, train))
    assert not any(np.isnan(x).any() for x in full)
