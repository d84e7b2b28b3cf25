"""Ablations of the forecaster's design: a run restricted to some groups."""
from __future__ import annotations

import pytest

from benchmarks.harness import ablations
from seqfusion import SeqFusion


@pytest.mark.data
def test_a_group_filter_keeps_the_reference_rows() -> None:
    """``--groups default`` still scores SeasonalNaive, so every ratio has its reference."""
    model = SeqFusion.from_pretrained()
    results = ablations.run(model, {}, ["Illness"], ["validation"], 40, groups=["default"])
    assert {v["group"] for v in results.values()} == {"baselines", "default"}
    text = ablations.to_markdown(results, None, {"command": "x", "max_rows": 40})
    row = next(line for line in text.splitlines() if line.startswith("| default |"))
    ratio = float(row.rstrip(" |").rsplit("|", 1)[1])
    assert 0.3 < ratio < 1.0  # the router beats the seasonal naive on Illness
