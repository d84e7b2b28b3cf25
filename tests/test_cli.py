import subprocess
import sys
from pathlib import Path

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
    r = run("forecast", str(EXAMPLE), "-H", "4", "--freq", "W", "--output", str(weekly))
    assert r.returncode == 0, r.stderr
    # The shipped zoo's router reads the frequency: quarterly stamps vs "weekly" differ.
    a, b = pd.read_csv(inferred), pd.read_csv(weekly)
    assert not a.drop(columns="date").equals(b.drop(columns="date"))
    assert list(a["date"]) == list(b["date"])  # the stamps still follow the input
    r = run("forecast", str(EXAMPLE), "-H", "4", "--freq", "sometimes")
    assert r.returncode == 2 and "unknown frequency 'sometimes'" in r.stderr and "Traceback" not in r.stderr
