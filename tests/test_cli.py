import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import synthetic_windows

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "us_macro_quarterly.csv"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "seqfusion.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def test_forecast_wide_csv_with_plot(tiny_zoo, tmp_path):
    out, png = tmp_path / "fc.csv", tmp_path / "fc.png"
    r = run("forecast", str(EXAMPLE), "--horizon", "8", "--zoo", str(tiny_zoo), "--k", "2",
            "--output", str(out), "--plot", str(png), "--explain")
    assert r.returncode == 0, r.stderr
    fc = pd.read_csv(out)
    src = pd.read_csv(EXAMPLE)
    assert list(fc.columns) == list(src.columns) and len(fc) == 8
    assert fc["date"].iloc[0] == "2009-10-01"
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    assert "rank" in r.stderr and "similarity" in r.stderr


def test_forecast_long_csv_to_stdout(tiny_zoo, tmp_path):
    rows = []
    for uid, kind in [("s1", "sine"), ("s2", "walk")]:
        y = synthetic_windows(kind, 1, 50, seed=1)[0]
        rows.append(pd.DataFrame({"unique_id": uid, "ds": pd.date_range("2020-01-01", periods=50, freq="W"), "y": y}))
    path = tmp_path / "long.csv"
    pd.concat(rows).to_csv(path, index=False)
    r = run("forecast", str(path), "-H", "5", "--zoo", str(tiny_zoo))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "unique_id,ds,y" and len(lines) == 11


def test_no_exact_uses_plain_products(tiny_zoo, tmp_path):
    from seqfusion import SeqFusion

    out_exact, out_plain = tmp_path / "exact.csv", tmp_path / "plain.csv"
    for out, extra in [(out_exact, []), (out_plain, ["--no-exact"])]:
        r = run("forecast", str(EXAMPLE), "-H", "8", "--zoo", str(tiny_zoo), "--output", str(out), *extra)
        assert r.returncode == 0, r.stderr
    exact, plain = pd.read_csv(out_exact), pd.read_csv(out_plain)
    df = pd.read_csv(EXAMPLE, parse_dates=["date"])
    want = SeqFusion.from_pretrained(tiny_zoo, exact=False).predict(df, 8)
    cols = [c for c in df.columns if c != "date"]
    np.testing.assert_allclose(plain[cols].to_numpy(), want[cols].to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(plain[cols].to_numpy(), exact[cols].to_numpy(), rtol=1e-5)


@pytest.mark.parametrize("content,message", [
    ("date,a\n2020-01-01,x\n2020-01-02,y\n", "non-numeric column"),
    ("", "cannot read as CSV"),
    ("date,a\n" + "".join(f"2020-01-{d:02d},{d}\n" for d in range(1, 6)), "at least 8 are needed"),
])
def test_bad_input_one_line_error(tiny_zoo, tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    r = run("forecast", str(path), "-H", "3", "--zoo", str(tiny_zoo))
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_missing_file_and_bad_zoo(tiny_zoo, tmp_path):
    r = run("forecast", str(tmp_path / "nope.csv"), "-H", "3", "--zoo", str(tiny_zoo))
    assert r.returncode == 2 and "file not found" in r.stderr and "Traceback" not in r.stderr
    r = run("forecast", str(EXAMPLE), "-H", "3", "--zoo", str(tmp_path))
    assert r.returncode == 2 and "manifest not found" in r.stderr and "Traceback" not in r.stderr
    r = run("forecast", str(EXAMPLE), "-H", "3", "--zoo", str(tiny_zoo), "--k", "7")
    assert r.returncode == 2 and "k must be" in r.stderr


def test_zoo_list_and_show(tiny_zoo):
    r = run("zoo", "list", "--zoo", str(tiny_zoo))
    assert r.returncode == 0 and "sine_patchtst" in r.stdout and "trend_dlinear" in r.stdout
    assert "router: none" in r.stdout
    r = run("zoo", "list")
    from seqfusion.zoo import Zoo

    n = len(Zoo.load())
    assert r.returncode == 0 and f"router: fitted to these {n} members" in r.stdout and "'router'" in r.stdout
    assert "temperature 3.0" in r.stdout and "frequency input yes" in r.stdout
    r = run("zoo", "show", "trend_dlinear", "--zoo", str(tiny_zoo))
    assert r.returncode == 0 and "dlinear" in r.stdout and "synthetic_trend" in r.stdout
    r = run("zoo", "show", "nope", "--zoo", str(tiny_zoo))
    assert r.returncode == 2 and "no PTM named 'nope'" in r.stderr


def test_help_everywhere():
    for args in (["--help"], ["forecast", "--help"], ["zoo", "--help"], ["zoo", "list", "--help"]):
        r = run(*args)
        assert r.returncode == 0 and "usage" in r.stdout


def test_forecast_with_the_shipped_zoo_router_and_paper_design(tmp_path):
    default, paper = tmp_path / "router.csv", tmp_path / "paper.csv"
    r = run("forecast", str(EXAMPLE), "-H", "4", "--output", str(default))
    assert r.returncode == 0, r.stderr
    r = run("forecast", str(EXAMPLE), "-H", "4", "--fusion", "mean", "--k", "16", "--output", str(paper))
    assert r.returncode == 0, r.stderr
    a, b = pd.read_csv(default), pd.read_csv(paper)
    assert a.shape == b.shape == (4, len(pd.read_csv(EXAMPLE).columns))
    assert not a.drop(columns="date").equals(b.drop(columns="date"))  # the two rules differ
    r = run("forecast", str(EXAMPLE), "-H", "4", "--router-temperature", "-1")
    assert r.returncode == 2 and "router_temperature" in r.stderr and "Traceback" not in r.stderr


def test_forecast_frequency_option(tmp_path):
    inferred, weekly = tmp_path / "q.csv", tmp_path / "w.csv"
    r = run("forecast", str(EXAMPLE), "-H", "4", "--output", str(inferred), "--explain")
    assert r.returncode == 0, r.stderr
    r = run("forecast", str(EXAMPLE), "-H", "4", "--freq", "QS", "--output", str(weekly))
    assert r.returncode == 0, r.stderr
    pd.testing.assert_frame_equal(pd.read_csv(inferred), pd.read_csv(weekly))  # the stamps' own frequency
    # A frequency the stamps contradict is refused in the user's terms, not used silently.
    r = run("forecast", str(EXAMPLE), "-H", "4", "--freq", "W")
    _one_line_error(r, "freq 'W' (weekly) does not match the time stamps of series 'realgdp', which are quarterly")
    r = run("forecast", str(EXAMPLE), "-H", "4", "--freq", "sometimes")
    assert r.returncode == 2 and "unknown frequency 'sometimes'" in r.stderr and "Traceback" not in r.stderr


# ---------------------------------------------------------------------- outputs and hostile input
def _one_line_error(r: subprocess.CompletedProcess, text: str) -> None:
    assert r.returncode == 2, r.stderr
    assert text in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.fixture()
def example_copy(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes(EXAMPLE.read_bytes())
    return path


@pytest.mark.parametrize("target", ["same", "dot-same"])
def test_output_onto_the_input_is_refused(tiny_zoo, example_copy, target):
    before = example_copy.read_bytes()
    out = str(example_copy) if target == "same" else str(example_copy.parent / "." / example_copy.name)
    r = run("forecast", str(example_copy), "-H", "2", "--zoo", str(tiny_zoo), "-o", out)
    _one_line_error(r, "is the input file")
    assert example_copy.read_bytes() == before


@pytest.mark.parametrize("output, text", [
    ("missing/dir/out.csv", "does not exist"),
    (".", "is a directory"),
    ("/dev/full", "No space left on device"),
    ("/proc/forecast.csv", "cannot write"),
])
def test_unwritable_outputs_are_one_line_errors(tiny_zoo, example_copy, output, text):
    if output == ".":
        output = str(example_copy.parent)
    elif output.startswith("missing"):
        output = str(example_copy.parent / output)
    r = run("forecast", str(example_copy), "-H", "2", "--zoo", str(tiny_zoo), "-o", output)
    _one_line_error(r, text)
    assert sorted(p.name for p in example_copy.parent.iterdir()) == ["in.csv"]  # nothing left behind


@pytest.mark.parametrize("plot, text", [(".", "is a directory"), ("x.xyz", "unsupported file type")])
def test_bad_plot_paths_fail_before_anything_is_written(tiny_zoo, example_copy, plot, text):
    out = example_copy.parent / "out.csv"
    plot = str(example_copy.parent) if plot == "." else str(example_copy.parent / plot)
    r = run("forecast", str(example_copy), "-H", "2", "--zoo", str(tiny_zoo), "-o", str(out), "--plot", plot)
    _one_line_error(r, text)
    assert not out.exists()


def test_parquet_in_and_out(tiny_zoo, tmp_path):
    src = tmp_path / "in.parquet"
    ds = pd.date_range("2020-01-01", periods=40, freq="D").as_unit("us")
    pd.DataFrame({"unique_id": "a", "ds": ds, "y": np.sin(np.arange(40.0))}).to_parquet(src)
    out = tmp_path / "out.parquet"
    r = run("forecast", str(src), "-H", "3", "--zoo", str(tiny_zoo), "-o", str(out))
    assert r.returncode == 0, r.stderr
    fc = pd.read_parquet(out)
    assert list(fc.columns) == ["unique_id", "ds", "y"]
    assert list(fc["ds"]) == list(pd.date_range("2020-02-10", periods=3, freq="D"))


def test_empty_unique_id_in_a_csv(tiny_zoo, tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("unique_id,ds,y\n" + "".join(f",2020-01-{d:02d},{d}\n" for d in range(1, 3))
                    + "".join(f"a,2020-01-{d:02d},{d}\n" for d in range(1, 20)))
    _one_line_error(run("forecast", str(path), "-H", "2", "--zoo", str(tiny_zoo)), "empty value")


def test_day_first_dates_in_a_csv(tiny_zoo, tmp_path):
    path = tmp_path / "d.csv"
    days = pd.date_range("2020-01-01", periods=24, freq="MS")
    pd.DataFrame({"date": days.strftime("%d/%m/%Y"), "a": np.arange(24.0)}).to_csv(path, index=False)
    _one_line_error(run("forecast", str(path), "-H", "2", "--zoo", str(tiny_zoo)), "--dayfirst")
    for flags in (["--dayfirst"], ["--date-format", "%d/%m/%Y"]):
        r = run("forecast", str(path), "-H", "2", "--zoo", str(tiny_zoo), *flags)
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines()[1].startswith("2022-01-01"), r.stdout


def test_zone_aware_csv_across_dst_does_not_crash(tiny_zoo, tmp_path):
    path = tmp_path / "tz.csv"
    ds = pd.date_range("2020-03-28 20:00", periods=48, freq="h", tz="Europe/Berlin")
    pd.DataFrame({"unique_id": "a", "ds": [str(t) for t in ds], "y": np.arange(48.0)}).to_csv(path, index=False)
    r = run("forecast", str(path), "-H", "2", "--zoo", str(tiny_zoo))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1].split(",")[1] == "2020-03-30 19:00:00+00:00"  # last: 20:00+02:00


@pytest.mark.parametrize("args, text", [
    (["--freq=-1D"], "must step forward"),
    (["--freq", "0D"], "must step forward"),
    (["--horizon", "0"], "positive integer"),
    (["--k", "0"], "positive integer"),
])
def test_bad_options_are_one_line_errors(tiny_zoo, example_copy, args, text):
    base = ["forecast", str(example_copy), "--zoo", str(tiny_zoo)]
    if "--horizon" not in args:
        base += ["-H", "2"]
    _one_line_error(run(*base, *args), text)


def test_old_pandas_alias_q_is_accepted(tiny_zoo, example_copy):
    r = run("forecast", str(example_copy), "-H", "2", "--zoo", str(tiny_zoo), "--freq", "Q")
    assert r.returncode == 0, r.stderr


def test_unknown_manifest_setting_from_the_cli(tiny_zoo, example_copy, tmp_path):
    import json
    import shutil

    folder = tmp_path / "z"
    shutil.copytree(tiny_zoo, folder)
    manifest = json.loads((folder / "zoo.json").read_text())
    manifest["info"]["forecaster"] = {"bogus": 1}
    (folder / "zoo.json").write_text(json.dumps(manifest))
    _one_line_error(run("forecast", str(example_copy), "-H", "2", "--zoo", str(folder)), "bogus")


def test_forecast_quantiles_levels_and_interval_plot(tiny_zoo, tmp_path):
    out, png = tmp_path / "q.csv", tmp_path / "q.png"
    r = run("forecast", str(EXAMPLE), "--horizon", "4", "--zoo", str(tiny_zoo), "--quantiles", "0.1", "0.9",
            "--level", "80", "--output", str(out), "--plot", str(png))
    assert r.returncode == 0, r.stderr
    fc = pd.read_csv(out)
    assert {"realgdp", "realgdp_q0.1", "realgdp_q0.9", "realgdp-lo-80", "realgdp-hi-80"} <= set(fc.columns)
    assert (fc["realgdp_q0.1"] <= fc["realgdp"]).all() and (fc["realgdp"] <= fc["realgdp_q0.9"]).all()
    np.testing.assert_allclose(fc["realgdp-lo-80"], fc["realgdp_q0.1"])
    assert png.stat().st_size > 10_000
    plain = run("forecast", str(EXAMPLE), "--horizon", "4", "--zoo", str(tiny_zoo), "--plot", str(tmp_path / "p.png"))
    assert plain.returncode == 0 and "-lo-" not in plain.stdout.splitlines()[0]  # bands drawn, not written


@pytest.mark.parametrize("args,text", [(["--quantiles", "1.5"], "quantile level"), (["--level", "0"], "level"),
                                       (["--history", "all"], "invalid choice")])
def test_bad_quantile_options_are_one_line_errors(tiny_zoo, args, text):
    r = run("forecast", str(EXAMPLE), "--horizon", "4", "--zoo", str(tiny_zoo), *args)
    assert r.returncode == 2 and text in r.stderr and len(r.stderr.strip().splitlines()) == 1
