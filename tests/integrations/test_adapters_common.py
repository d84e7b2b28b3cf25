"""What every adapter shares, tested without the adapters' libraries: each module names its
extra when the library is missing, the package imports none of them, and no adapter
reaches zoo training, torch or the benchmark harness."""
from __future__ import annotations

import ast
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqfusion import SeqFusion
from seqfusion.integrations import _common

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "seqfusion" / "integrations"
LIBRARIES = ("sktime", "gluonts", "darts")


@pytest.mark.parametrize("library", LIBRARIES)
def test_missing_library_names_the_extra(library: str) -> None:
    code = (f"import sys\nsys.modules[{library!r}] = None  # as if not installed\n"
            f"try:\n    import seqfusion.integrations.{library}\n"
            "except ImportError as exc:\n    print(exc)\nelse:\n    raise SystemExit('imported')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == (f"seqfusion.integrations.{library} needs {library}: "
                                f"pip install 'seqfusion[{library}]'")


def test_the_package_imports_no_library() -> None:
    code = ("import sys\nimport seqfusion.integrations, seqfusion.integrations._common\n"
            f"print(sorted(k for k in sys.modules if k.split('.')[0] in {LIBRARIES!r} + ('torch',)))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_adapters_import_no_training_torch_or_harness() -> None:
    modules = sorted(PACKAGE.glob("*.py"))
    assert {p.name for p in modules} == {"__init__.py", "_common.py", "sktime.py", "gluonts.py", "darts.py"}
    for path in modules:
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
        bad = {m for m in found if m.startswith("seqfusion.training") or m.split(".")[0] in ("torch", "benchmarks")}
        assert not bad, (path.name, bad)


def test_forecast_gives_predict_histories_and_predict_quantiles() -> None:
    rng = np.random.default_rng(3)
    histories = [rng.normal(size=n).cumsum() + 10 for n in (60, 45, 20)]
    model = SeqFusion.from_pretrained()
    point, q = _common.forecast(model, histories, 7, "MS", [0.1, 0.5, 0.9])
    assert q is not None and point.shape == (3, 7) and q.shape == (3, 7, 3)
    np.testing.assert_array_equal(point, model.predict_histories(histories, 7, freq="MS"))
    np.testing.assert_array_equal(q, model.predict_histories(histories, 7, freq="MS", quantiles=[0.1, 0.5, 0.9]))
    only, none = _common.forecast(model, histories, 7, "MS")
    assert none is None
    np.testing.assert_array_equal(only, point)


def test_loaded_model_pickles_as_its_zoo_and_options() -> None:
    model = _common.load_model(None, {"k": 2, "history": "last"})
    again = pickle.loads(pickle.dumps(model))
    assert isinstance(again, SeqFusion) and (again.k, again.history) == (2, "last")
    y = np.sin(np.arange(50) / 3)
    np.testing.assert_array_equal(again.predict(y, 6), model.predict(y, 6))


@pytest.mark.parametrize(("index", "expected"), [
    (pd.period_range("2020-01", periods=5, freq="M"), "M"),
    (pd.date_range("2020-01-01", periods=5, freq="MS"), "MS"),
    (pd.DatetimeIndex(pd.date_range("2020-01-01", periods=5, freq="h").to_list()), "h"),  # no freq: inferred
    (pd.DatetimeIndex(["2020-01-01", "2020-01-02", "2020-01-05"]), None),  # irregular
    (pd.RangeIndex(10), None),
])
def test_index_freq(index: pd.Index, expected: str | None) -> None:
    assert _common.index_freq(index) == expected
