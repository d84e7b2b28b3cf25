"""Shared fixtures: a tiny zoo trained in seconds on synthetic series."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from seqfusion.training.extractor import Extractor
from seqfusion.training.members import classical_member, train_member
from seqfusion.training.training import TrainConfig
from seqfusion.zoo import Zoo


def synthetic_windows(kind: str, n: int, length: int = 48, seed: int = 0) -> np.ndarray:
    """Windows ``[n, length]`` of a synthetic kind: 'sine', 'walk' or 'trend'."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    if kind == "sine":
        phase = rng.integers(0, 7, size=(n, 1))
        amp = rng.uniform(1, 3, size=(n, 1))
        return amp * np.sin(2 * np.pi * (t + phase) / 7) + rng.normal(0, 0.1, (n, length))
    if kind == "walk":
        return np.cumsum(rng.normal(size=(n, length)), axis=1)
    if kind == "trend":
        slope = rng.uniform(-1, 1, size=(n, 1))
        return slope * t + rng.normal(0, 0.3, (n, length))
    raise ValueError(kind)


@pytest.fixture(scope="session")
def tiny_zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved zoo with a PatchTST, a DLinear and a naive member; returns its folder."""
    torch.manual_seed(0)
    ext = Extractor(d_model=32, d_ff=64, dim=16, n_layers=1)
    fast = TrainConfig(epochs=2, seed=0)
    members = [
        train_member("sine_patchtst", "patchtst", synthetic_windows("sine", 400), ext,
                     {"d_model": 16, "n_heads": 2, "d_ff": 32}, fast, source="synthetic_sine",
                     frequency="daily", domain="synthetic"),
        train_member("trend_dlinear", "dlinear", synthetic_windows("trend", 400, seed=1), ext,
                     None, fast, source="synthetic_trend", frequency="daily", domain="synthetic"),
        classical_member("naive", "naive", ext, synthetic_windows("walk", 64, seed=2),
                         source="random_walk", frequency="any", domain="classical"),
    ]
    zoo = Zoo({"input_length": 36, "d_model": 32, "d_ff": 64, "dim": 16, "n_layers": 1}, ext, members)
    return zoo.save(tmp_path_factory.mktemp("zoo") / "tiny")
