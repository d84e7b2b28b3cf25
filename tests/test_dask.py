"""The Dask backend (seqfusion.dask, `seqfusion forecast --engine dask`) on a LocalCluster of
two worker processes: results equal single-process forecasts, bit for bit."""
from __future__ import annotations

import re
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
    for rerun in ([], ["--overwrite"]):  # a rerun replaces the folder only when told to
        r = subprocess.run([sys.executable, "-m", "seqfusion.cli", "forecast", str(src), "-H", str(H), "--zoo",
                            str(tiny_zoo), "--k", "2", "--engine", "dask", "--scheduler", client.scheduler.address,
                            "-o", str(out), *rerun], capture_output=True, text=True, timeout=300)
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


# ------------------------------------------------------------------ the output folder


def _cli(capsys, *argv):
    """``seqfusion forecast ARGV`` in this process: (status, stdout, stderr)."""
    from seqfusion.cli import main

    code = main(["forecast", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _files(folder):
    """Every file under ``folder`` with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _small(frame: pd.DataFrame, n: int = 50) -> pd.DataFrame:
    return frame[frame["unique_id"].isin(frame["unique_id"].unique()[:n])].reset_index(drop=True)


def test_cli_refuses_a_non_empty_output_folder(tiny_zoo, frame, tmp_path, capsys):
    src = tmp_path / "in.parquet"
    _small(frame).to_parquet(src)
    out = tmp_path / "fc"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    (out / "part.0.parquet").write_bytes(b"not ours either")
    before = _files(tmp_path)
    code, stdout, err = _cli(capsys, src, "-H", H, "--zoo", tiny_zoo, "--engine", "dask", "--workers", 1,
                             "-o", out)
    assert code == 2 and stdout == ""
    assert err == f"seqfusion: error: --output {out}: folder exists and is not empty (--overwrite replaces a " \
                  "previous forecast folder)\n"
    code, _, err = _cli(capsys, src, "-H", H, "--zoo", tiny_zoo, "--engine", "dask", "--workers", 1,
                        "-o", out, "--overwrite")  # not a forecast folder: refused even so
    assert code == 2
    assert err == f"seqfusion: error: --output {out}: holds 'notes.txt', not a file of a seqfusion forecast " \
                  "folder; refusing to replace it\n"
    assert _files(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fc", "in.parquet"]


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
@pytest.mark.parametrize("layout, output", [
    ("file", "data"),          # the input file's own folder
    ("file", "."),             # its parent
    ("file", "link"),          # a symlink to its folder
    ("folder", "data"),        # the input folder itself
    ("folder", "."),           # its parent
    ("folder", "data/fc"),     # a folder inside it
    ("folder", "link"),        # a symlink to it
    ("folder", "link/fc"),     # inside it through a symlink
])
def test_cli_never_replaces_a_folder_holding_the_input(tiny_zoo, frame, tmp_path, capsys, layout, output,
                                                       overwrite):
    root = tmp_path / "root"
    data = root / "data"
    data.mkdir(parents=True)
    (root / "link").symlink_to(data, target_is_directory=True)
    small = _small(frame)
    if layout == "file":
        small.to_parquet(data / "part.0.parquet")  # named like an output part file, still the input
        src = data / "part.0.parquet"
    else:
        small.iloc[:100].to_parquet(data / "part.0.parquet")
        small.iloc[100:].to_parquet(data / "part.1.parquet")
        src = data
    before = _files(root)
    code, stdout, err = _cli(capsys, src, "-H", H, "--zoo", tiny_zoo, "--engine", "dask", "--workers", 1,
                             "-o", root / output, *overwrite)
    assert code == 2 and stdout == ""
    assert err.startswith(f"seqfusion: error: --output {root / output}: ") and err.count("\n") == 1
    assert "holds the input" in err or "inside the input folder" in err
    assert _files(root) == before
    assert sorted(p.name for p in root.iterdir()) == ["data", "link"]
    assert (root / "link").is_symlink() and (root / "link").resolve() == data.resolve()


def test_cli_overwrite_replaces_a_previous_forecast_folder(client, tiny_zoo, frame, tmp_path, capsys):
    src = tmp_path / "in.parquet"
    small = _small(frame)
    small.to_parquet(src)
    out = tmp_path / "fc"
    out.mkdir()
    for name in ("part.0.parquet", "part.7.parquet", "_metadata", "_common_metadata"):
        (out / name).write_bytes(b"an old forecast")
    code, stdout, err = _cli(capsys, src, "-H", H, "--zoo", tiny_zoo, "--k", 2, "--engine", "dask",
                             "--scheduler", client.scheduler.address, "-o", out, "--overwrite")
    assert (code, stdout, err) == (0, "", "")
    assert all(b"an old forecast" not in data for data in _files(out).values())
    got = pd.read_parquet(out).sort_values(["unique_id", "ds"]).reset_index(drop=True)
    expected = SeqFusion.from_pretrained(tiny_zoo, k=2).predict(small, H)
    np.testing.assert_array_equal(got["y"].to_numpy(), expected["y"].to_numpy())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fc", "in.parquet"]
    empty = tmp_path / "empty"
    empty.mkdir()  # an empty folder needs no --overwrite
    code, _, err = _cli(capsys, src, "-H", H, "--zoo", tiny_zoo, "--k", 2, "--engine", "dask",
                        "--scheduler", client.scheduler.address, "-o", empty)
    assert (code, err) == (0, "")
    assert len(pd.read_parquet(empty)) == len(expected)


def test_write_parquet_follows_the_same_rules(tiny_zoo, frame, tmp_path):
    import dask
    import dask.dataframe as dd

    from seqfusion.dask import write_parquet

    small = _small(frame, 20)
    ddf = dd.from_pandas(small, npartitions=2)
    out = tmp_path / "fc"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(SeqFusionError, match="folder exists and is not empty"):
        write_parquet(ddf, out)
    with pytest.raises(SeqFusionError, match="holds 'notes.txt'"):
        write_parquet(ddf, out, overwrite=True)
    assert _files(out) == {"notes.txt": b"keep me"}

    with dask.config.set(scheduler="sync"):
        prev = tmp_path / "prev"
        write_parquet(ddf, prev)
        first = _files(prev)
        assert first and all(name.startswith("part.") for name in first)
        with pytest.raises(SeqFusionError, match="folder exists and is not empty"):
            write_parquet(ddf, prev)
        again = dd.read_parquet(prev)  # reads the folder it would replace: refused, overwrite or not
        with pytest.raises(SeqFusionError, match="holds the input"):
            write_parquet(again, prev, overwrite=True)
        with pytest.raises(SeqFusionError, match="holds the input"):
            write_parquet(ddf, tmp_path, overwrite=True, inputs=[prev / "part.0.parquet"])
        assert _files(prev) == first

        def interrupt(part: pd.DataFrame) -> pd.DataFrame:
            if part["unique_id"].iloc[0] != small["unique_id"].iloc[0]:
                raise KeyboardInterrupt  # the second partition, after the first one's file is written
            return part

        with pytest.raises(KeyboardInterrupt):
            write_parquet(ddf.map_partitions(interrupt, meta=ddf._meta), prev, overwrite=True)
        assert _files(prev) == first  # the old output stays whole
        assert sorted(p.name for p in tmp_path.iterdir()) == ["fc", "prev"]  # no temporary folder left

        write_parquet(ddf.assign(y=ddf["y"] + 1), prev, overwrite=True)
        pd.testing.assert_series_equal(pd.read_parquet(prev)["y"], small["y"] + 1, check_index=False)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["fc", "prev"]


# ------------------------------------------------------------------ options on the Dask path


def test_cli_quantiles_and_level_equal_the_local_engine(client, tiny_zoo, frame, tmp_path, capsys):
    src = tmp_path / "in.parquet"
    small = _small(frame, 200).sample(frac=1.0, random_state=3)  # shuffled rows: the shuffle regroups them
    small.to_parquet(src)
    out = tmp_path / "fc"
    code, stdout, err = _cli(capsys, src, "-H", H, "--zoo", tiny_zoo, "--k", 2, "--engine", "dask",
                             "--scheduler", client.scheduler.address, "-o", out,
                             "--quantiles", 0.1, 0.5, 0.9, "--level", 80, 95)
    assert (code, stdout, err) == (0, "", "")
    got = pd.read_parquet(out).sort_values(["unique_id", "ds"]).reset_index(drop=True)
    expected = SeqFusion.from_pretrained(tiny_zoo, k=2).predict_quantiles(
        _small(frame, 200), H, quantiles=[0.1, 0.5, 0.9], level=[80, 95])
    assert list(got.columns) == ["unique_id", "ds", "y", "q0.1", "q0.5", "q0.9",
                                 "y-lo-80", "y-hi-80", "y-lo-95", "y-hi-95"]
    assert list(expected.columns) == list(got.columns)
    pd.testing.assert_frame_equal(got, expected.reset_index(drop=True), check_dtype=False, check_exact=True)
    assert (got["y-lo-95"] < got["y-lo-80"]).all() and (got["y-hi-80"] < got["y-hi-95"]).all()

    code, _, err = _cli(capsys, src, "-H", H, "--zoo", tiny_zoo, "--k", 2, "--engine", "dask",
                        "--scheduler", client.scheduler.address, "-o", tmp_path / "lv", "--level", 80)
    assert (code, err) == (0, "")
    got = pd.read_parquet(tmp_path / "lv").sort_values(["unique_id", "ds"]).reset_index(drop=True)
    expected = SeqFusion.from_pretrained(tiny_zoo, k=2).predict(_small(frame, 200), H, level=[80])
    assert list(got.columns) == ["unique_id", "ds", "y", "y-lo-80", "y-hi-80"]
    pd.testing.assert_frame_equal(got, expected.reset_index(drop=True), check_dtype=False, check_exact=True)


def test_forecast_meta_has_the_quantile_and_interval_columns(tiny_zoo, frame):
    import dask.dataframe as dd

    from seqfusion.dask import forecast

    ddf = dd.from_pandas(_small(frame, 5), npartitions=1)
    fc = forecast(ddf, H, tiny_zoo, grouped=True, quantiles=[0.25, 0.75], level=[90])
    assert fc._meta["unique_id"].dtype == ddf._meta["unique_id"].dtype
    assert fc._meta["ds"].dtype == ddf._meta["ds"].dtype
    assert fc._meta.drop(columns=["unique_id", "ds"]).dtypes.astype(str).to_dict() == {
        "y": "float64", "q0.25": "float64", "q0.75": "float64",
        "y-lo-90": "float64", "y-hi-90": "float64"}
    computed = fc.compute(scheduler="sync")
    assert computed.dtypes.to_dict() == fc._meta.dtypes.to_dict()
    assert len(computed) == 5 * H
    with pytest.raises(SeqFusionError, match="quantiles must be numbers strictly between 0 and 1"):
        forecast(dd.from_pandas(frame, npartitions=1), H, tiny_zoo, quantiles=[1.5])
    with pytest.raises(SeqFusionError, match="level must be percentages"):
        forecast(dd.from_pandas(frame, npartitions=1), H, tiny_zoo, level=[120])


@pytest.mark.parametrize("extra, message", [
    (["--explain"], "--plot and --explain need --engine local"),
    (["--plot", "fc.png"], "--plot and --explain need --engine local"),
    (["--format", "wide"], "--format wide needs --engine local (--engine dask reads long input)"),
])
def test_cli_dask_refuses_what_it_cannot_do(tiny_zoo, frame, tmp_path, capsys, extra, message):
    src = tmp_path / "in.parquet"
    _small(frame, 5).to_parquet(src)
    code, stdout, err = _cli(capsys, src, "-H", H, "--zoo", tiny_zoo, "--engine", "dask", "--workers", 1,
                             "-o", tmp_path / "fc", *extra)
    assert (code, stdout, err) == (2, "", f"seqfusion: error: {message}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet"]


def test_cli_overwrite_needs_the_dask_engine(tiny_zoo, frame, tmp_path, capsys):
    src = tmp_path / "in.csv"
    _small(frame, 5).to_csv(src, index=False)
    code, stdout, err = _cli(capsys, src, "-H", H, "--zoo", tiny_zoo, "-o", tmp_path / "fc.csv", "--overwrite")
    assert (code, stdout) == (2, "")
    assert err == "seqfusion: error: --overwrite needs --engine dask (the local engine replaces an output file " \
                  "whole)\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_cli_csv_text_ids_keep_leading_zeros(client, tiny_zoo, frame, tmp_path, capsys):
    two = _small(frame, 2).copy()
    two["unique_id"] = two["unique_id"].map(dict(zip(two["unique_id"].unique(), ["007", "7"])))
    src = tmp_path / "in.csv"
    two.to_csv(src, index=False)
    assert src.read_text().count("\n007,") == LENGTH and src.read_text().count("\n7,") == LENGTH
    code, _, err = _cli(capsys, src, "-H", H, "--zoo", tiny_zoo, "--k", 2, "--engine", "dask",
                        "--scheduler", client.scheduler.address, "-o", tmp_path / "fc")
    assert (code, err) == (0, "")
    got = pd.read_parquet(tmp_path / "fc")
    assert sorted(got["unique_id"].unique()) == ["007", "7"]
    assert got.groupby("unique_id").size().to_dict() == {"007": H, "7": H}
    expected = SeqFusion.from_pretrained(tiny_zoo, k=2).predict(two, H)
    got = got.set_index(["unique_id", "ds"]).loc[list(zip(expected["unique_id"], expected["ds"]))]
    np.testing.assert_array_equal(got["y"].to_numpy(), expected["y"].to_numpy())


def test_cli_semicolon_decimal_comma_csv_is_read_like_the_local_engine(client, tiny_zoo, frame, tmp_path, capsys):
    two = _small(frame, 2)
    src = tmp_path / "semi.csv"
    two.to_csv(src, index=False, sep=";", decimal=",")
    code, _, err = _cli(capsys, src, "-H", H, "--zoo", tiny_zoo, "--k", 2, "--engine", "dask",
                        "--scheduler", client.scheduler.address, "-o", tmp_path / "fc")
    assert (code, err) == (0, "")
    got = pd.read_parquet(tmp_path / "fc")
    expected = SeqFusion.from_pretrained(tiny_zoo, k=2).predict(two, H)
    got = got.set_index(["unique_id", "ds"]).loc[list(zip(expected["unique_id"], expected["ds"]))]
    np.testing.assert_array_equal(got["y"].to_numpy(), expected["y"].to_numpy())


# ------------------------------------------------------------------ failures and interrupts


def test_cli_failing_series_is_one_line_and_leaves_nothing(tiny_zoo, frame, tmp_path, capfd):
    from seqfusion.cli import main

    bad = _small(frame, 6).copy()
    victim = bad["unique_id"].unique()[4]
    bad.loc[bad["unique_id"] == victim, "y"] = np.nan
    src = tmp_path / "in.parquet"
    bad.to_parquet(src)
    capfd.readouterr()
    # a local cluster started by the command: its worker processes write to this test's stderr
    code = main(["forecast", str(src), "-H", str(H), "--zoo", str(tiny_zoo), "--engine", "dask",
                 "--workers", "1", "-o", str(tmp_path / "fc")])
    out, err = capfd.readouterr()
    assert code == 2 and out == ""
    assert re.fullmatch(f"seqfusion: error: series {victim!r} has 0 usable points( in its last 36)?; at least 8 "
                        "are needed\n", err), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet"]  # no output, no temporary folder


def test_cli_interrupt_is_one_line_and_leaves_nothing(tiny_zoo, tmp_path):
    """Ctrl-C in a terminal: SIGINT to the whole process group, the worker processes too."""
    import os
    import signal
    import time

    n, length = 30_000, 30
    rng = np.random.default_rng(2)
    big = pd.DataFrame({"unique_id": np.repeat([f"s{i:05d}" for i in range(n)], length),
                        "ds": np.tile(pd.date_range("2022-03-01", periods=length, freq="D"), n),
                        "y": rng.normal(size=n * length).cumsum()})
    big.to_parquet(tmp_path / "in.parquet")
    cmd = [sys.executable, "-m", "seqfusion.cli", "forecast", str(tmp_path / "in.parquet"), "-H", str(H),
           "--zoo", str(tiny_zoo), "--engine", "dask", "--workers", "2", "-o", str(tmp_path / "fc")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob(".fc.*.tmp")):  # the cluster is up and the computation starting
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.02)
        time.sleep(0.5)  # into the computation (it takes seconds): the client is gathering the results
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (proc.returncode, out, err) == (130, "", "seqfusion: interrupted (no output written)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet"]
