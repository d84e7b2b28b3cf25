"""Every example of docs/integrations.md, and of the adapters' docstrings, runs as written."""
from __future__ import annotations

import doctest
import importlib
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "integrations.md"
LIBRARIES = ("sktime", "gluonts", "darts")


def _blocks() -> list[tuple[str, str]]:
    """(library, code) of each Python block of the page; the library is the adapter it imports."""
    out = []
    for code in re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S):
        used = [lib for lib in LIBRARIES if f"seqfusion.integrations.{lib} import" in code]
        assert len(used) == 1, code
        out.append((used[0], code))
    return out


def test_the_page_has_one_example_per_library() -> None:
    assert sorted(lib for lib, _ in _blocks()) == sorted(LIBRARIES)


@pytest.mark.parametrize("library, code", [pytest.param(lib, code, marks=getattr(pytest.mark, lib), id=lib)
                                           for lib, code in _blocks()])
def test_page_example_runs(library: str, code: str, tmp_path: Path) -> None:
    cwd = os.getcwd()
    os.chdir(tmp_path)  # darts and sktime may write nothing; if they did, not into the repository
    try:
        exec(compile(code, f"{PAGE.name}[{library}]", "exec"), {})
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("library", [pytest.param(lib, marks=getattr(pytest.mark, lib), id=lib) for lib in LIBRARIES])
def test_docstring_examples_run(library: str) -> None:
    module = importlib.import_module(f"seqfusion.integrations.{library}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0, result
