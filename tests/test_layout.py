"""The inference core stands alone: it imports nothing from the zoo build or the
benchmark harness, and no torch."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "seqfusion"
CORE = sorted([*PACKAGE.glob("*.py"), *PACKAGE.glob("engine/*.py")])


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            if node.module == "seqfusion":
                out |= {f"seqfusion.{a.name}" for a in node.names}
    return out


def test_core_modules_import_neither_build_nor_benchmark_nor_torch() -> None:
    assert {p.relative_to(PACKAGE).as_posix() for p in CORE} >= {
        "forecaster.py", "zoo.py", "engine/__init__.py", "engine/bank.py", "frames.py", "preprocess.py"}
    for path in CORE:
        if path.name == "cli.py":  # dispatches `zoo build|add|map` and `benchmark` lazily
            continue
        bad = {m for m in _imports(path)
               if m.startswith(("seqfusion.build", "seqfusion.benchmark")) or m.split(".")[0] == "torch"}
        assert not bad, (path.name, bad)


def test_forecasting_loads_no_torch() -> None:
    code = ("import sys, numpy as np\n"
            "from seqfusion import SeqFusion\n"
            "m = SeqFusion.from_pretrained()\n"
            "m.predict(np.sin(np.arange(60) / 3), 5)\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n"
            "assert not [k for k in sys.modules if k.startswith(('seqfusion.build', 'seqfusion.benchmark'))]\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_cli_forecast_loads_no_torch(tmp_path: Path) -> None:
    example = PACKAGE.parents[1] / "examples" / "us_macro_quarterly.csv"
    code = ("import sys\n"
            "from seqfusion.cli import main\n"
            f"rc = main(['forecast', {str(example)!r}, '-H', '3', '-o', {str(tmp_path / 'o.csv')!r}])\n"
            "assert rc == 0\n"
            "assert 'torch' not in sys.modules\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
