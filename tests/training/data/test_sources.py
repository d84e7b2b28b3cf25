"""Source registry and the cleaning loader."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from seqfusion.training.data import sources
from seqfusion.training.data.paths import data_root
from seqfusion.training.data.readers import READERS


def _real_root() -> Path:
    try:
        return data_root()
    except FileNotFoundError:
        pytest.fail("shared data folder not available")


def test_registry_entries_are_well_formed() -> None:
    names = sources.list_sources()
    assert len(names) == len(set(names)) >= 30
    for name in names:
        info = sources.source_info(name)
        assert info["name"] == name
        assert info["frequency"] in sources.FREQUENCIES
        assert info["reader"] in READERS
        assert isinstance(info["options"], dict) and isinstance(info["domain"], str)
        assert not info["file"].startswith("benchmark")
        for other in info["related"]:
            assert other in names and name in sources.source_info(other)["related"], (name, other)


def test_benchmark_sources_exclude_competition_test_part() -> None:
    for name in sources.list_sources():
        if name.startswith(("m3_", "m4_", "tourism_")):
            assert sources.source_info(name)["test_part"]["included"] is False, name


def test_unknown_source() -> None:
    with pytest.raises(KeyError, match="unknown source"):
        sources.source_info("traffic")


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="hospital_dataset.tsf"):
        sources.load_source("hospital", root=tmp_path)


def test_benchmark_files_are_refused(tmp_path: Path) -> None:
    for bad in ("benchmark/ETTh1.csv", "../shared/data/benchmark/ETTh1.csv", "/etc/passwd"):
        with pytest.raises(PermissionError):
            sources._check_not_benchmark(bad)


def test_registry_refuses_benchmark_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reg = tmp_path / "sources.toml"
    reg.write_text('[ett]\nfile = "benchmark/ETTh1.csv"\nreader = "read_csv_columns"\n'
                   'frequency = "hourly"\ndomain = "energy"\n')
    monkeypatch.setattr(sources, "REGISTRY_FILE", reg)
    sources._registry.cache_clear()
    try:
        with pytest.raises(PermissionError, match="benchmark"):
            sources.list_sources()
    finally:
        monkeypatch.undo()
        sources._registry.cache_clear()


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        ([np.nan, 1, 2, np.nan, 4, np.nan], [[1, 2, 3, 4]]),  # trim + short gap
        ([1, np.nan, np.nan, np.nan, 5], [[1, 2, 3, 4, 5]]),  # gap of 3 filled
        ([1, 2, np.nan, np.nan, np.nan, np.nan, 7, 8], [[1, 2], [7, 8]]),  # gap of 4 splits
        ([1, np.inf, 3, np.nan, np.nan, np.nan, np.nan, 9], [[1, 2, 3]]),  # inf; piece < 2 dropped
        ([np.nan, np.nan], []),
        ([], []),
    ],
)
def test_clean_series(x: list[float], expected: list[list[float]]) -> None:
    out = sources.clean_series(np.array(x, dtype=np.float64))
    assert len(out) == len(expected)
    for got, want in zip(out, expected):
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, want)


def test_load_source_from_synthetic_root(tmp_path: Path) -> None:
    (tmp_path / "misc").mkdir()
    (tmp_path / "misc" / "FRED-MD.csv").write_text(
        "sasdate,RPI,EXJPUSx,UNRATE\nTransform:,5,5,2\n"
        + "".join(f"{m}/1/2000,{m},{100 + m},{'' if m in (3, 4) else m * m}\n" for m in range(1, 9))
    )
    out = sources.load_source("fred_md", root=tmp_path)
    np.testing.assert_allclose(out[0], np.arange(1, 9))  # RPI
    np.testing.assert_allclose(out[1], [1, 4, 11, 18, 25, 36, 49, 64])  # UNRATE, gap filled
    assert len(out) == 2  # exchange column dropped


@pytest.mark.data
def test_every_source_loads_finite() -> None:
    root = _real_root()
    for name in sources.list_sources():
        series = sources.load_source(name, root=root)
        assert series, name
        for x in series:
            assert x.dtype == np.float64 and x.ndim == 1 and len(x) >= 2, name
            assert np.isfinite(x).all(), name


@pytest.mark.data
def test_real_options_override_includes_test_part() -> None:
    root = _real_root()
    train = sources.load_source("m3_quarterly", root=root)
    full = sources.load_source("m3_quarterly", root=root, options={"split": "all"})
    assert sum(map(len, full)) - sum(map(len, train)) == 756 * 8
