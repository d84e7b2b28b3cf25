"""What the sweeps share: the whole-history validation score and writing the results."""
from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.harness.report import run_metadata

OUT = Path(__file__).resolve().parents[1] / "results"


def realuse_validation(zoo: str | None, competition_zoo: str) -> dict[str, Any]:
    """The default SeqFusion row of the whole-history validation split (computed afresh, no
    cache): geometric mean and per-dataset MASE relative to SeasonalNaive. ``zoo``: the zoo
    of the non-competition datasets (None: the shipped one)."""
    from benchmarks.harness.cli import main as harness

    with tempfile.TemporaryDirectory() as tmp:
        code = harness(["realuse", "--split", "validation", "--methods", "seqfusion",
                        *(["--zoo", zoo] if zoo else []), "--competition-zoo", competition_zoo,
                        "--out", tmp, "--no-progress", "--no-cache"])
        if code != 0:
            raise SystemExit(f"realuse run failed ({code})")
        res = json.loads((Path(tmp) / "realuse_validation.json").read_text())
    label = next(k for k in res["summary"] if k.startswith("SeqFusion (default"))
    per = {r["dataset"]: r["relative_mase"] for r in res["rows"] if r["method"] == label}
    return {"geomean": float(res["summary"][label]["geomean"]), "per_dataset": per}


def write_results(name: str, res: dict[str, Any], markdown: Callable[[dict[str, Any]], str], out: str | Path,
                  argv: list[str] | None, started: float) -> None:
    """Record how ``res`` was made (``python -m benchmarks.sweeps.<name> ARGS``) and write
    ``sweep_<name>.json`` and ``sweep_<name>.md`` into ``out``; print the markdown."""
    given = sys.argv[1:] if argv is None else argv
    res["meta"] = run_metadata(["-m", f"benchmarks.sweeps.{name}", *given], started)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"sweep_{name}.json").write_text(json.dumps(res, indent=1, default=float))
    text = markdown(res)
    (folder / f"sweep_{name}.md").write_text(text)
    print(text)
