"""The mini build config shown on docs/zoos.md is the shipped file, verbatim."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_docs_show_the_mini_config_as_shipped() -> None:
    page = (ROOT / "docs" / "zoos.md").read_text()
    start = page.index("```toml\n# CI-sized zoo") + len("```toml\n")
    shown = page[start: page.index("```\n", start)]
    assert shown == (ROOT / "src" / "seqfusion" / "training" / "configs" / "mini.toml").read_text()
