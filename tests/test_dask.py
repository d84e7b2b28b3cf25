"""The Dask backend (seqfusion.dask, `seqfusion forecast --engine dask`) on a LocalCluster of
two worker processes: results equal single-process forecasts, bit for bit."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from seqfusion import SeqFusion
from seqfusion.errors import SeqFusionError

pytestmark = pytest.mark.dask

N_SERIES, LENGTH, H = 2000, 30, 4


@pytest.fixture(scope="module")
def client():
    import logging

    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    ds = pd.date_range("2022-03-01", periods=LENGTH, freq="D")
    return pd.DataFrame({"unique_id": np.repeat([f"u{i:05d}" for i in range(N_SERIES)], LENGTH),
                         "ds": np.tile(ds, N_SERIES),
                         "y": rng.normal(size=N_SERIES * LENGTH).cumsum() + 100})


def test_grouped_partitions_equal_single_process_exactly(client, tiny_zoo, frame):
    import dask.dataframe as dd

    from seqfusion.dask import forecast

    ids = frame["unique_id"].unique()
    parts = [frame[frame["unique_id"].isin(ids[i:i + 300])].reset_index(drop=True) for i in range(0, N_SERIES, 300)]
    ddf = dd.concat([dd.from_pandas(p, npartitions=1) for p in parts])
    got = forecast(ddf, H, tiny_zoo, grouped=True, k=2).compute().reset_index(drop=True)
    model = SeqFusion.from_pretrained(tiny_zoo, k=2)
    expected = pd.concat([model.predict(p, H) for p in parts], ignore_index=True)
    assert len(got) == N_SERIES * H
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    whole = model.predict(frame, H)  # one call over everything: the same numbers, bit for bit
    np.testing.assert_array_equal(got["y"].to_numpy(), whole["y"].to_numpy())


def test_shuffled_input_with_text_dates(client, tiny_zoo, frame):
    import dask.dataframe as dd

    from seqfusion.dask import forecast

    df = frame.sample(frac=1.0, random_state=1).reset_index(drop=True)
    df["ds"] = df["ds"].dt.strftime("%Y-%m-%d")
    got = forecast(dd.from_pandas(df, npartitions=5), H, tiny_zoo, k=2).compute()
    expected = SeqFusion.from_pretrained(tiny_zoo, k=2).predict(frame, H)
    got = got.sort_values(["unique_id", "ds"]).reset_index(drop=True)
    assert list(got["unique_id"]) == list(expected["unique_id"])
    assert (got["ds"].to_numpy() == expected["ds"].to_numpy()).all()
    np.testing.assert_array_equal(got["y"].to_numpy(), expected["y"].to_numpy())


def test_errors_reach_the_client_as_one_line(client, tiny_zoo, frame):
    import dask.dataframe as dd

    from seqfusion.dask import forecast

    short = frame[frame.groupby("unique_id").cumcount() < 3]
    with pytest.raises(SeqFusionError, match="at least 8 are needed"):
        forecast(dd.from_pandas(short, npartitions=2), H, tiny_zoo).compute()
    with pytest.raises(SeqFusionError, match="unknown option"):
        forecast(dd.from_pandas(frame, npartitions=2), H, tiny_zoo, bogus=1)


def test_cli_parquet_folder_in_and_out(client, tiny_zoo, frame, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    half = len(frame) // 2 + 7  # a series split across files: the shuffle regroups it
    frame.iloc[:half].to_parquet(src / "a.parquet")
    frame.iloc[half:].to_parquet(src / "b.parquet")
    out = tmp_path / "fc"
    for _ in range(2):  # a rerun replaces the folder
        r = subprocess.run([sys.executable, "-m", "seqfusion.cli", "forecast", str(src), "-H", str(H), "--zoo",
                            str(tiny_zoo), "--k", "2", "--engine", "dask", "--scheduler", client.scheduler.address,
                            "-o", str(out)], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        assert r.stderr == ""
    got = pd.read_parquet(out).sort_values(["unique_id", "ds"]).reset_index(drop=True)
    expected = SeqFusion.from_pretrained(tiny_zoo, k=2).predict(frame, H)
    assert list(got["unique_id"]) == list(expected["unique_id"])
    np.testing.assert_array_equal(got["y"].to_numpy(), expected["y"].to_numpy())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fc", "in"]  # no temporary folders left


def test_core_does_not_import_dask():
    code = ("import sys\nfrom seqfusion import SeqFusion\nimport seqfusion.cli, seqfusion.stream\n"
            "assert 'dask' not in sys.modules and 'seqfusion.dask' not in sys.modules\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_output_meta_needs_the_long_columns():
    from seqfusion.dask import output_meta

    with pytest.raises(SeqFusionError, match="missing"):
        output_meta(pd.DataFrame({"unique_id": [], "y": []}))
