"""Hostile and unusual input: text ids, CSV dialects, stamps at the ends of their unit,
huge horizons, interrupts, misleading messages, short series skipped cheaply.

Tests call ``seqfusion.cli.main`` in-process (stderr through capsys) or the API directly;
each error is one line, never a traceback.
"""
from __future__ import annotations

import builtins
import string
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqfusion import SeqFusion, SeqFusionError
from seqfusion.cli import main
from seqfusion.files import csv_options, read_table


@pytest.fixture(scope="module")
def model() -> SeqFusion:
    return SeqFusion.from_pretrained()


def _one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _long(ids: list[str], n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = [pd.DataFrame({"unique_id": uid, "ds": np.arange(n), "y": 10 + rng.normal(size=n).cumsum()})
             for uid in ids]
    return pd.concat(parts, ignore_index=True)


# ---------------------------------------------------------------------- ids are text (item 2)
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("chunk", [None, "1"])
def test_text_ids_keep_their_zeros_and_never_merge(tmp_path, capsys, suffix, chunk):
    ids = ["007", "7", "1.0", "1", "NA", "1e3"]
    src = tmp_path / "in.csv"
    _long(ids).to_csv(src, index=False)
    out = tmp_path / f"out{suffix}"
    args = ["forecast", str(src), "-H", "3", "-o", str(out)] + (["--chunk-size", chunk] if chunk else [])
    assert main(args) == 0, capsys.readouterr().err
    fc = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out, dtype={"unique_id": str},
                                                                          keep_default_na=False)
    assert list(pd.unique(fc["unique_id"])) == ids and len(fc) == 3 * len(ids)
    if suffix == ".csv":  # byte for byte in the file
        text = out.read_text().splitlines()
        assert {ln.split(",")[0] for ln in text[1:]} == set(ids)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(alphabet=string.digits + ".-e+ aZ", min_size=1, max_size=6), min_size=1, max_size=5,
                unique=True))
def test_any_text_ids_come_back_verbatim(tmp_path, ids):
    ids = [i for i in ids if i.strip() == i]  # CSV strips nothing, but a leading space is ambiguous to readers
    if not ids:
        return
    path = tmp_path / "ids.csv"
    _long(ids, n=12).to_csv(path, index=False)
    df = read_table(path)
    assert list(pd.unique(df["unique_id"])) == ids


# ---------------------------------------------------------------------- CSV dialects (item 3)
def _dialect_file(path: Path, sep: str, decimal: str) -> np.ndarray:
    days = pd.date_range("2020-01-01", periods=60, freq="D")
    y = 1000 + np.round(np.sin(np.arange(60)) * 10, 4)
    lines = [f"date{sep}y"] + [f"{d.date()}{sep}{str(v).replace('.', decimal)}" for d, v in zip(days, y)]
    path.write_text("\n".join(lines) + "\n")
    return y


@pytest.mark.parametrize("sep,decimal", [(";", ","), (";", "."), ("\t", "."), ("\t", ","), ("|", "."), (",", ".")])
def test_separator_and_decimal_mark_are_found(tmp_path, sep, decimal):
    path = tmp_path / "d.csv"
    y = _dialect_file(path, sep, decimal)
    opts = csv_options(path)
    assert opts["sep"] == sep and opts["decimal"] == decimal
    df = read_table(path)
    assert list(df.columns) == ["date", "y"]
    np.testing.assert_allclose(df["y"].to_numpy(), y)


def test_semicolon_decimal_comma_file_forecasts_like_the_plain_one(tmp_path, capsys):
    semi, plain = tmp_path / "semi.csv", tmp_path / "plain.csv"
    _dialect_file(semi, ";", ",")
    _dialect_file(plain, ",", ".")
    assert main(["forecast", str(semi), "-H", "3", "-o", str(tmp_path / "a.csv")]) == 0
    assert main(["forecast", str(plain), "-H", "3", "-o", str(tmp_path / "b.csv")]) == 0
    a, b = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv")
    assert list(a.columns) == ["date", "y"]
    pd.testing.assert_frame_equal(a, b)
    assert 900 < a["y"].min() and a["y"].max() < 1100  # never a number parsed out of a text blob


def test_wrong_separator_is_a_one_line_error_naming_the_options(tmp_path, capsys):
    path = tmp_path / "semi.csv"
    _dialect_file(path, ";", ",")
    assert main(["forecast", str(path), "-H", "3", "--sep", ","]) == 2
    assert "--sep" in _one_line(capsys.readouterr().err)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("value\n1,5\n2,5\n3,5\n")
    assert main(["forecast", str(ragged), "-H", "3"]) == 2
    assert "--sep" in _one_line(capsys.readouterr().err)


def test_long_semicolon_file_is_streamed_with_the_same_dialect(tmp_path, capsys):
    df = _long(["a", "b", "c"], n=30)
    path = tmp_path / "long.csv"
    df.to_csv(path, index=False, sep=";", decimal=",")
    plain = tmp_path / "plain.csv"
    df.to_csv(plain, index=False)
    for src, out in [(path, "a.csv"), (plain, "b.csv")]:
        assert main(["forecast", str(src), "-H", "2", "--chunk-size", "1", "-o", str(tmp_path / out)]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv"))


# ---------------------------------------------------------------------- stamps and their unit (item 4)
def test_stamps_past_the_nanosecond_range_are_an_error_not_a_wrap(model):
    y = 10 + np.sin(np.arange(60))
    ds = pd.date_range(end="2262-04-01", periods=60, freq="D", unit="ns")  # pandas 3 defaults to another unit
    for frame in (pd.DataFrame({"unique_id": "a", "ds": ds, "y": y}), pd.DataFrame({"y": y}, index=ds)):
        with pytest.raises(SeqFusionError, match="run past the last date datetime64.ns. holds"):
            model.predict(frame, 30)


@pytest.mark.parametrize("end", ["2262-04-01", "9999-10-01", "1000-03-01"])
def test_second_stamps_outside_the_nanosecond_range_work(model, end):
    y = 10 + np.sin(np.arange(60))
    ds = pd.date_range(end=pd.Timestamp(end).as_unit("s"), periods=60, freq="D", unit="s")
    long = model.predict(pd.DataFrame({"unique_id": "a", "ds": ds, "y": y}), 30)
    wide = model.predict(pd.DataFrame({"y": y}, index=ds), 30)
    expected = pd.date_range(ds[-1], periods=31, freq="D", unit="s")[1:]
    assert long["ds"].dt.unit == "s" and list(long["ds"]) == list(expected)
    assert list(wide.index) == list(expected)
    np.testing.assert_array_equal(long["y"].to_numpy(), wide["y"].to_numpy())


def test_stamps_past_year_9999_are_an_error(model):
    ds = pd.date_range(end=pd.Timestamp("9999-12-01").as_unit("s"), periods=60, freq="D", unit="s")
    with pytest.raises(SeqFusionError, match="year 9999"):
        model.predict(pd.DataFrame({"unique_id": "a", "ds": ds, "y": np.arange(60.0)}), 60)


@pytest.mark.parametrize("year", [1000, 2300])
def test_text_dates_outside_the_nanosecond_range(tmp_path, capsys, year):
    path = tmp_path / "old.csv"
    days = pd.date_range(pd.Timestamp(f"{year}-01-01").as_unit("s"), periods=60, freq="D", unit="s")
    pd.DataFrame({"date": [str(d.date()) for d in days], "y": np.arange(60) % 7}).to_csv(path, index=False)
    code = main(["forecast", str(path), "-H", "2", "-o", str(tmp_path / "o.csv")])
    err = capsys.readouterr().err
    if int(pd.__version__.split(".")[0]) >= 3:  # pandas 3 reads them in a unit that holds them
        assert code == 0, err
        after = [str((days[-1] + pd.Timedelta(days=i)).date()) for i in (1, 2)]
        assert list(pd.read_csv(tmp_path / "o.csv")["date"]) == after
    else:
        assert code == 2 and "pandas < 3 reads text dates in nanoseconds" in _one_line(err)


# ---------------------------------------------------------------------- header only (item 9)
@pytest.mark.parametrize("header", ["unique_id,ds,y\n", "unique_id;ds;y\n"])
def test_a_long_file_that_is_only_a_header(tmp_path, capsys, header):
    path = tmp_path / "h.csv"
    path.write_text(header)
    assert main(["forecast", str(path), "-H", "3"]) == 2
    assert "no data rows" in _one_line(capsys.readouterr().err)


# ---------------------------------------------------------------------- API arguments (items 10, 11)
@pytest.mark.parametrize("horizon", [10**18, 100_001, 1_000_000])
def test_huge_horizons_are_refused_at_once(model, horizon):
    with pytest.raises(SeqFusionError, match="horizon"):
        model.predict(np.arange(60.0), horizon)


def test_horizon_limit_is_relative_to_the_longest_history(model, tmp_path, capsys):
    y = np.sin(np.arange(60.0))
    assert len(model.predict(y, 1_000)) == 1_000  # at least 1,000 steps always
    with pytest.raises(SeqFusionError, match="more than 10 times the longest history .60 points.: at most 1,000"):
        model.predict(y, 1_001)
    assert len(model.predict(np.sin(np.arange(200.0)), 2_000)) == 2_000
    path = tmp_path / "s.csv"
    pd.DataFrame({"y": y}).to_csv(path, index=False)
    assert main(["forecast", str(path), "-H", "1000000"]) == 2
    assert "horizon 1,000,000" in _one_line(capsys.readouterr().err)


@settings(max_examples=30, deadline=None)
@given(st.one_of(st.integers(max_value=0), st.floats(), st.text(max_size=4), st.none(), st.booleans(),
                 st.integers(min_value=100_001, max_value=10**30)))
def test_bad_horizons_are_seqfusion_errors(horizon):
    m = SeqFusion.from_pretrained()
    with pytest.raises(SeqFusionError):
        m.predict(np.arange(60.0), horizon)


@pytest.mark.parametrize("level", ["80", [80, "95"], [150], [0], {"a": 1}, [[80]]])
def test_bad_levels_are_seqfusion_errors(model, level):
    df = pd.DataFrame({"y": np.sin(np.arange(60.0))}, index=pd.date_range("2020", periods=60, freq="D"))
    with pytest.raises(SeqFusionError, match="level"):
        model.predict(df, 3, level=level)


# ---------------------------------------------------------------------- interrupts (item 12)
def test_ctrl_c_while_modules_load_is_one_line(tmp_path, capsys, monkeypatch):
    path = tmp_path / "s.csv"
    pd.DataFrame({"y": np.arange(60.0)}).to_csv(path, index=False)
    real_import = builtins.__import__

    def interrupted(name, *args, **kwargs):
        if name.startswith("seqfusion.forecaster") or name == "pandas":
            raise KeyboardInterrupt
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", interrupted)
    out = tmp_path / "o.csv"
    code = main(["forecast", str(path), "-H", "3", "-o", str(out)])
    monkeypatch.undo()
    assert code == 130 and _one_line(capsys.readouterr().err) == "seqfusion: interrupted (no output written)"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.csv"]


def test_the_cli_module_imports_no_pandas():
    import subprocess
    import sys

    code = "import sys, seqfusion.cli; print('pandas' in sys.modules, 'numpy' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.split() == ["False", "False"], r.stderr


# ---------------------------------------------------------------------- messages (item 13)
def test_messages_speak_the_users_terms(tmp_path, capsys):
    value = tmp_path / "value.csv"
    _long(["a"]).rename(columns={"y": "value"}).to_csv(value, index=False)
    assert main(["forecast", str(value), "-H", "2"]) == 2
    assert "missing y (other columns: value; rename the values column to y)" in _one_line(capsys.readouterr().err)

    ints = pd.concat([_long(["x"]), _long(["x"])]).assign(unique_id=7)
    with pytest.raises(SeqFusionError, match=r"^series 7 has duplicate timestamps \(first: 0\)$"):
        SeqFusion.from_pretrained().predict(ints, 2)

    src = tmp_path / "s.csv"
    pd.DataFrame({"y": np.arange(60.0)}).to_csv(src, index=False)
    for target in [".", str(tmp_path)]:
        assert main(["forecast", str(src), "-H", "2", "-o", target]) == 2
        assert "is a directory; give a file name" in _one_line(capsys.readouterr().err)

    daily = tmp_path / "daily.csv"
    pd.DataFrame({"date": pd.date_range("2020-01-01", periods=60, freq="D").date,
                  "y": np.arange(60.0)}).to_csv(daily, index=False)
    assert main(["forecast", str(daily), "-H", "2", "--freq", "MS"]) == 2
    assert "freq 'MS' (monthly) does not match the time stamps of series 'y', which are daily" in \
        _one_line(capsys.readouterr().err)
    assert main(["forecast", str(daily), "-H", "2", "--freq", "D", "-o", str(tmp_path / "ok.csv")]) == 0


# ---------------------------------------------------------------------- --min-length, cheap skip (item 15)
def test_min_length_option_forecasts_short_series(tmp_path, capsys):
    path = tmp_path / "short.csv"
    _long([f"s{i}" for i in range(50)], n=3).to_csv(path, index=False)
    assert main(["forecast", str(path), "-H", "2", "-o", str(tmp_path / "a.csv")]) == 2
    assert "at least 8 are needed" in _one_line(capsys.readouterr().err)
    assert main(["forecast", str(path), "-H", "2", "--min-length", "3", "-o", str(tmp_path / "b.csv")]) == 0
    assert pd.read_csv(tmp_path / "b.csv")["unique_id"].nunique() == 50
    assert main(["forecast", str(path), "-H", "2", "--min-length", "40"]) == 2
    assert "min_length must be an integer in [1, 36]" in _one_line(capsys.readouterr().err)


def test_skipping_short_series_costs_no_failed_calls(tmp_path, monkeypatch, capsys):
    """Series too short or holding inf are set aside in one pass: the forecaster is called
    once per chunk for the rest and never for them."""
    df = pd.concat([_long([f"ok{i}" for i in range(5)], n=40), _long([f"short{i}" for i in range(500)], n=3)])
    df.loc[df["unique_id"] == "ok3", "y"] = df.loc[df["unique_id"] == "ok3", "y"].replace(
        df.loc[df["unique_id"] == "ok3", "y"].iloc[5], np.inf)
    path = tmp_path / "mixed.csv"
    df.to_csv(path, index=False)
    calls = []
    real = SeqFusion.predict

    def counted(self, y, *args, **kwargs):
        calls.append(y["unique_id"].nunique())
        return real(self, y, *args, **kwargs)

    monkeypatch.setattr(SeqFusion, "predict", counted)
    out = tmp_path / "o.csv"
    assert main(["forecast", str(path), "-H", "2", "--on-error", "skip", "-o", str(out)]) == 0
    assert calls == [4]
    errors = pd.read_csv(f"{out}.errors.csv")
    assert len(errors) == 501 and "contains inf" in errors.loc[errors["unique_id"] == "ok3", "reason"].iloc[0]
    assert "has 3 usable points; at least 8 are needed" in errors["reason"].iloc[-1]
    assert pd.read_csv(out)["unique_id"].nunique() == 4
