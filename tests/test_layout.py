"""The inference core stands alone: it imports nothing from the benchmark harness (which
lives outside the package, in benchmarks/harness), and neither zoo training nor torch when
it loads."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "seqfusion"
CORE = sorted([*PACKAGE.glob("*.py"), *PACKAGE.glob("engine/*.py")])


def _imports(path: Path) -> set[str]:
    return _imports_of(list(ast.walk(ast.parse(path.read_text()))))


def _module_level_imports(path: Path) -> set[str]:
    """Imports at the top of a module (not inside functions: those load only when called)."""
    tree = ast.parse(path.read_text())
    top: list[ast.AST] = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    top += [n for stmt in tree.body if isinstance(stmt, ast.If) for n in stmt.body  # TYPE_CHECKING blocks
            if isinstance(n, (ast.Import, ast.ImportFrom)) and not _is_type_checking(stmt)]
    return _imports_of(top)


def _is_type_checking(stmt: ast.If) -> bool:
    return isinstance(stmt.test, ast.Name) and stmt.test.id == "TYPE_CHECKING"


def _imports_of(nodes: list[ast.AST]) -> set[str]:
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            if node.module == "seqfusion":
                out |= {f"seqfusion.{a.name}" for a in node.names}
    return out


def test_core_modules_import_no_harness_and_no_training_or_torch_at_load() -> None:
    """No core module (the CLI included: no exemption) imports the benchmark harness at all,
    or zoo training or torch when it loads; the CLI reaches `zoo build|add|map` (the
    training extra) from inside the commands."""
    assert {p.relative_to(PACKAGE).as_posix() for p in CORE} >= {
        "forecaster.py", "zoo.py", "cli.py", "engine/__init__.py", "engine/bank.py", "frames.py", "preprocess.py"}
    for path in CORE:
        harness = {m for m in _imports(path) if m.split(".")[0] == "benchmarks"}
        assert not harness, (path.name, harness)
        at_load = {m for m in _module_level_imports(path)
                   if m.startswith("seqfusion.training") or m.split(".")[0] == "torch"}
        assert not at_load, (path.name, at_load)
        if path.name != "cli.py":
            anywhere = {m for m in _imports(path) if m.startswith("seqfusion.training") or m.split(".")[0] == "torch"}
            assert not anywhere, (path.name, anywhere)


def test_the_harness_is_not_in_the_package() -> None:
    assert not (PACKAGE / "benchmark").exists()
    assert (PACKAGE.parents[1] / "benchmarks" / "harness" / "cli.py").is_file()


def test_cli_help_loads_no_torch_and_no_harness() -> None:
    code = ("import sys, contextlib, io\n"
            "from seqfusion.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    for args in (['--help'], ['forecast', '--help'], ['zoo', '--help']):\n"
            "        try:\n"
            "            main(args)\n"
            "        except SystemExit:\n"
            "            pass\n"
            "bad = [k for k in sys.modules if k.split('.')[0] in ('torch', 'benchmarks')]\n"
            "assert not bad, bad\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_forecasting_loads_no_torch() -> None:
    code = ("import sys, numpy as np\n"
            "from seqfusion import SeqFusion\n"
            "m = SeqFusion.from_pretrained()\n"
            "m.predict(np.sin(np.arange(60) / 3), 5)\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n"
            "assert not [k for k in sys.modules if k.startswith(('seqfusion.training', 'benchmarks.harness'))]\n")
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
