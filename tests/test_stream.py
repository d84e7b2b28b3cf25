"""Chunked forecasting of long files (seqfusion.stream and `seqfusion forecast --chunk-size`)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqfusion import SeqFusion
from seqfusion.errors import SeqFusionError
from seqfusion.stream import errors_path, forecast_file, group_chunks, scan

N_SERIES, LENGTH, H = 40, 30, 4


def long_frame(n: int = N_SERIES, length: int = LENGTH, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2021-01-04", periods=length, freq="D").strftime("%Y-%m-%d")
    return pd.DataFrame({"unique_id": np.repeat([f"id{i:03d}" for i in range(n)], length),
                         "ds": np.tile(ds, n),
                         "y": rng.normal(size=n * length).cumsum() + 50})


@pytest.fixture(scope="module")
def model(tiny_zoo: Path) -> SeqFusion:
    return SeqFusion.from_pretrained(tiny_zoo, k=2)


# pandas 2's default float parser is not exact (pandas 3's is, and deprecates the option); files are read exactly
EXACT = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}


def in_memory(model: SeqFusion, path: Path) -> pd.DataFrame:
    df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, **EXACT)
    df["ds"] = pd.to_datetime(df["ds"])
    return model.predict(df, H)


def read(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        df = pd.read_parquet(path)
    else:
        df = pd.read_csv(path, parse_dates=["ds"], **EXACT)
    df["ds"] = df["ds"].astype("datetime64[ns]")
    return df


@pytest.mark.parametrize("chunk_size", [1, 7, 10_000])
@pytest.mark.parametrize("order", ["grouped", "shuffled"])
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_chunked_output_equals_in_memory(model, tmp_path, chunk_size, order, suffix):
    df = long_frame()
    if order == "shuffled":
        df = df.sample(frac=1.0, random_state=3).reset_index(drop=True)
    src = tmp_path / f"in{suffix}"
    df.to_parquet(src) if suffix == ".parquet" else df.to_csv(src, index=False)
    out = tmp_path / f"out{suffix}"
    summary = forecast_file(model, src, out, H, chunk_size=chunk_size, block_rows=97)
    assert summary.series == N_SERIES and summary.grouped == (order == "grouped")
    assert summary.buckets == (0 if order == "grouped" or chunk_size >= N_SERIES else -(-N_SERIES // chunk_size))
    expected = in_memory(model, src)
    expected["ds"] = expected["ds"].astype("datetime64[ns]")
    got = read(out)
    if order == "shuffled" and chunk_size < N_SERIES:  # bucket by bucket: documented order
        assert not got["unique_id"].duplicated().any() or got.groupby("unique_id").size().eq(H).all()
        got = got.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
        expected = expected.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(got[["unique_id", "ds"]], expected[["unique_id", "ds"]], check_dtype=False)
    np.testing.assert_array_equal(got["y"].to_numpy(), expected["y"].to_numpy())  # any chunks: bit for bit
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([src.name, out.name])  # no buckets left


def test_small_input_writes_what_the_in_memory_writer_wrote(model, tmp_path):
    from seqfusion.files import write_table

    src = tmp_path / "in.csv"
    long_frame(5).to_csv(src, index=False)
    forecast_file(model, src, tmp_path / "a.csv", H)
    write_table(in_memory(model, src), tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


@settings(max_examples=60, deadline=None)
@given(lengths=st.lists(st.integers(1, 6), min_size=1, max_size=25), chunk=st.integers(1, 8),
       block=st.integers(1, 30), seed=st.integers(0, 3))
def test_chunks_hold_whole_series_in_order(lengths, chunk, block, seed):
    ids = np.repeat([f"s{(i * 7 + seed) % 101}" for i in range(len(lengths))], lengths)
    df = pd.DataFrame({"unique_id": ids, "ds": np.arange(len(ids)), "y": np.arange(len(ids), dtype=float)})
    blocks = [df.iloc[i:i + block] for i in range(0, len(df), block)]
    chunks = list(group_chunks(blocks, chunk))
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), df)
    seen: set[str] = set()
    for c in chunks:
        names = set(c["unique_id"])
        assert 1 <= len(names) <= chunk and not names & seen  # no series split across chunks
        seen |= names
    assert all(c["unique_id"].nunique() == chunk for c in chunks[:-1])


@settings(max_examples=40, deadline=None)
@given(ids=st.lists(st.sampled_from(["a", "b", "c", "1", "2", "d,e"]), min_size=1, max_size=40),
       block=st.integers(1, 12))
def test_scan_counts_ids_and_finds_grouping(tmp_path_factory, ids, block):
    path = tmp_path_factory.mktemp("scan") / "x.csv"
    pd.DataFrame({"unique_id": ids, "ds": range(len(ids)), "y": 1.0}).to_csv(path, index=False)
    found = scan(path, block_rows=block)
    runs = [ids[0]] + [b for a, b in zip(ids, ids[1:]) if a != b]
    assert found.rows == len(ids) and found.series == len(set(ids))
    assert found.grouped == (len(runs) == len(set(runs)))


def test_empty_ids_are_found_in_any_block(model, tmp_path):
    df = long_frame(3)
    df.loc[70, "unique_id"] = None
    src = tmp_path / "in.csv"
    df.to_csv(src, index=False)
    with pytest.raises(SeqFusionError, match=r"1 empty value\(s\) \(first at row 70\)"):
        forecast_file(model, src, tmp_path / "o.csv", H, chunk_size=1, block_rows=16)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_interrupted_run_leaves_nothing_that_looks_complete(model, tmp_path, monkeypatch):
    import seqfusion.stream as stream

    src = tmp_path / "in.csv"
    long_frame().sample(frac=1.0, random_state=0).to_csv(src, index=False)  # buckets too
    out = tmp_path / "out.parquet"
    calls = {"n": 0}
    real = stream.predict_chunk

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(stream, "predict_chunk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        forecast_file(model, src, out, H, chunk_size=5, on_error="skip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]
    out.write_text("old")
    calls["n"] = 0
    with pytest.raises(KeyboardInterrupt):
        forecast_file(model, src, out, H, chunk_size=5)
    assert out.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.parquet"]
    monkeypatch.setattr(stream, "predict_chunk", real)
    forecast_file(model, src, out, H, chunk_size=5)  # a rerun starts cleanly
    assert len(pd.read_parquet(out)) == N_SERIES * H


def bad_frame() -> pd.DataFrame:
    df = long_frame(12)
    df = df[~((df["unique_id"] == "id003") & (df.groupby("unique_id").cumcount() >= 3))]  # 3 points
    df.loc[df["unique_id"] == "id007", "y"] = np.nan  # all NaN
    return df.reset_index(drop=True)


@pytest.mark.parametrize("chunk_size", [1, 5, 100])
def test_on_error_skip_writes_a_side_file(model, tmp_path, chunk_size):
    src = tmp_path / "in.csv"
    bad_frame().to_csv(src, index=False)
    out = tmp_path / "out.csv"
    summary = forecast_file(model, src, out, H, chunk_size=chunk_size, on_error="skip")
    assert summary.skipped == 2 and summary.series == 10
    errs = pd.read_csv(errors_path(out))
    assert list(errs.columns) == ["unique_id", "reason"] and list(errs["unique_id"]) == ["id003", "id007"]
    assert "at least 8 are needed" in errs["reason"].iloc[0]
    fc = pd.read_csv(out)
    assert list(fc["unique_id"].unique()) == [f"id{i:03d}" for i in range(12) if i not in (3, 7)]
    good = pd.read_csv(src, **EXACT)  # the values exactly as written, as the file reader parses them
    good = good[~good["unique_id"].isin(["id003", "id007"])]
    good["ds"] = pd.to_datetime(good["ds"])
    np.testing.assert_array_equal(read(out)["y"].to_numpy(), model.predict(good, H)["y"].to_numpy())


def test_on_error_fail_writes_nothing(model, tmp_path):
    src = tmp_path / "in.csv"
    bad_frame().to_csv(src, index=False)
    with pytest.raises(SeqFusionError, match="id003"):
        forecast_file(model, src, tmp_path / "out.csv", H, chunk_size=5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "seqfusion.cli", *args], capture_output=True, text=True,
                          timeout=120)


def test_cli_skip_and_quiet_without_a_terminal(tiny_zoo, tmp_path):
    src = tmp_path / "in.csv"
    bad_frame().to_csv(src, index=False)
    out = tmp_path / "out.csv"
    r = run("forecast", str(src), "-H", "3", "--zoo", str(tiny_zoo), "-o", str(out), "--chunk-size", "4",
            "--on-error", "skip")
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == f"seqfusion: warning: 2 series could not be forecast; see {out}.errors.csv"
    assert len(pd.read_csv(out)) == 10 * 3 and len(pd.read_csv(errors_path(out))) == 2
    r = run("forecast", str(src), "-H", "3", "--zoo", str(tiny_zoo), "-o", str(tmp_path / "o2.csv"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "id003" in r.stderr
    assert not (tmp_path / "o2.csv").exists()


def test_progress_bar_on_a_terminal(model, tmp_path, capsys):
    src = tmp_path / "in.csv"
    long_frame(6).to_csv(src, index=False)
    forecast_file(model, src, tmp_path / "o.csv", H, chunk_size=2, progress=True)
    err = capsys.readouterr().err
    assert "6/6" in err and "series/s" in err
    forecast_file(model, src, tmp_path / "o.csv", H, chunk_size=2)  # pytest's stderr is no terminal
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("args, text", [
    (["--chunk-size", "0"], "positive integer"),
    (["--on-error", "maybe"], "invalid choice"),
    (["--workers", "2"], "need --engine dask"),
    (["--engine", "dask", "--on-error", "skip"], "needs --engine local"),
    (["--engine", "dask", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "not both"),
])
def test_bad_options_are_one_line_errors(tiny_zoo, tmp_path, args, text):
    src = tmp_path / "in.csv"
    long_frame(2).to_csv(src, index=False)
    r = run("forecast", str(src), "-H", "3", "--zoo", str(tiny_zoo), "-o", str(tmp_path / "o.parquet"), *args)
    assert r.returncode == 2 and text in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_skip_needs_long_input(tiny_zoo, tmp_path):
    example = Path(__file__).resolve().parents[1] / "examples" / "us_macro_quarterly.csv"
    r = run("forecast", str(example), "-H", "3", "--zoo", str(tiny_zoo), "--on-error", "skip")
    assert r.returncode == 2 and "needs long-format input" in r.stderr


def test_sigterm_mid_run_leaves_nothing_and_a_rerun_works(tiny_zoo, tmp_path):
    import signal
    import time

    src = tmp_path / "in.csv"
    long_frame(400).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    args = [sys.executable, "-m", "seqfusion.cli", "forecast", str(src), "-H", "3", "--zoo", str(tiny_zoo),
            "-o", str(out), "--chunk-size", "1"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(p.name.startswith(".out.csv.") for p in tmp_path.iterdir()):  # writing has begun
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.strip() == "seqfusion: interrupted (no output written)", err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]
    r = run(*args[3:])
    assert r.returncode == 0, r.stderr
    assert len(pd.read_csv(out)) == 400 * 3
