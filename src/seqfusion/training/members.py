"""Making zoo members: train a PTM on windows and represent it by its data's mean embedding."""
from __future__ import annotations

from typing import Any

import numpy as np

from seqfusion.training.extractor import Extractor, embed_windows
from seqfusion.training.models import build_model
from seqfusion.training.training import TrainConfig, train_ptm
from seqfusion.zoo import Member, state_arrays


def representation(extractor: Extractor, windows: np.ndarray) -> np.ndarray:
    """Mean embedding ``[dim]`` of sample windows ``[n, T]`` (only the vector is kept),
    normalized as the forecaster normalizes the contexts it compares with it."""
    if len(windows) == 0:
        raise ValueError("need at least one window to compute a representation")
    return embed_windows(extractor, windows).mean(axis=0)


def torch_module(member: Member) -> Any:
    """The training module (torch) of ``member``, with its weights loaded."""
    import torch

    module = build_model(member.architecture, **member.config)
    if member.state:
        module.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in member.state.items()})
    return module.eval()


def split_windows(windows: np.ndarray, input_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Split windows ``[n, T + h]`` into inputs ``[n, T]`` and targets ``[n, h]``."""
    return windows[:, :input_length], windows[:, input_length:]


def train_member(
    name: str,
    architecture: str,
    windows: np.ndarray,
    extractor: Extractor,
    model_config: dict[str, Any] | None = None,
    train: TrainConfig | None = None,
    source: str = "",
    frequency: str = "",
    domain: str = "",
    demo_size: int = 256,
    progress: bool = False,
) -> Member:
    """Train a PTM on windows ``[n, T + h]`` and wrap it with its representation.

    The representation is the mean extractor embedding of ``demo_size`` input windows drawn
    with the training seed.
    """
    T = extractor.input_length
    x, y = split_windows(np.asarray(windows, dtype=np.float64), T)
    train = train or TrainConfig()
    module, meta = train_ptm(x, y, architecture, model_config, train, progress=progress, desc=name)
    rng = np.random.default_rng(train.seed)
    demo = x[rng.choice(len(x), size=min(demo_size, len(x)), replace=False)]
    meta["demo_size"] = len(demo)
    return Member(name, architecture, dict(meta["config"]), state_arrays(module), representation(extractor, demo),
                  source, frequency, domain, meta)


def classical_member(
    name: str,
    architecture: str,
    extractor: Extractor,
    demo_windows: np.ndarray,
    config: dict[str, Any] | None = None,
    source: str = "",
    frequency: str = "",
    domain: str = "",
) -> Member:
    """A weight-free member (e.g. ``naive``) represented by the embedding of demo windows."""
    T = extractor.input_length
    cfg = {"input_length": T, "horizon": 12, **(config or {})}
    module = build_model(architecture, **cfg)
    return Member(name, architecture, cfg, state_arrays(module), representation(extractor, demo_windows[:, :T]),
                  source, frequency, domain, {"trained": False, "demo_size": len(demo_windows)})
