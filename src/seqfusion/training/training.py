"""Training one PTM on windows of one source (per-window normalization, MSE, Adam)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from seqfusion.preprocess import znorm_pairs
from seqfusion.training.models import build_model

#: bound on normalised training targets
TARGET_CLIP = 20.0

def normalized_windows(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Training pairs ``(x [n, T], y [n, h])`` normalised as the forecaster normalises a
    context and maps its forecast back (:func:`seqfusion.preprocess.znorm_pairs`: the
    inputs' mean and std, constant inputs to zeros), targets clipped to +-``TARGET_CLIP``
    so that one outlier window cannot dominate the loss."""
    xn, yn, _, _ = znorm_pairs(x, y)
    return xn, np.clip(yn, -TARGET_CLIP, TARGET_CLIP)


@dataclass
class TrainConfig:
    """Optimisation settings of a PTM (the paper's: 10 epochs, Adam lr 1e-3, MSE)."""

    epochs: int = 10
    lr: float = 1e-3
    batch_size: int = 256
    seed: int = 0
    clip: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)


def train_ptm(
    x: np.ndarray,
    y: np.ndarray,
    architecture: str,
    model_config: dict[str, Any] | None = None,
    train: TrainConfig | None = None,
    progress: bool = True,
    desc: str = "train",
) -> tuple[nn.Module, dict[str, Any]]:
    """Train ``architecture`` on windows ``x [n, T] -> y [n, h]``; return (model, metadata).

    Windows are z-normalized with their input's statistics (:func:`normalized_windows`, the
    forecaster's rule), so the model learns a scale-free map; the returned model is in eval
    mode.
    """
    train = train or TrainConfig()
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or len(x) != len(y) or len(x) == 0:
        raise ValueError(f"need x [n, T] and y [n, h] with n > 0, got {x.shape} and {y.shape}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("training windows contain NaN or inf")
    config = {"input_length": x.shape[1], "horizon": y.shape[1], **(model_config or {})}
    torch.manual_seed(train.seed)
    model = build_model(architecture, **config)
    xn, yn = normalized_windows(x, y)
    xt = torch.as_tensor(xn, dtype=torch.float32)
    yt = torch.as_tensor(yn, dtype=torch.float32)
    opt = torch.optim.Adam(model.parameters(), lr=train.lr)
    gen = torch.Generator().manual_seed(train.seed)
    n = len(xt)
    start = time.perf_counter()
    losses: list[float] = []
    model.train()
    bar = tqdm(range(train.epochs), desc=desc, disable=not progress, leave=False)
    for _ in bar:
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for i in range(0, n, train.batch_size):
            idx = perm[i : i + train.batch_size]
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(xt[idx]), yt[idx])
            loss.backward()  # type: ignore[no-untyped-call]  # torch's Tensor.backward is unannotated
            if train.clip:
                nn.utils.clip_grad_norm_(model.parameters(), train.clip)
            opt.step()
            total += loss.item() * len(idx)
        losses.append(total / n)
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
    model.eval()
    meta = {
        "architecture": architecture,
        "config": config,
        "epochs": train.epochs,
        "lr": train.lr,
        "batch_size": train.batch_size,
        "seed": train.seed,
        "n_windows": n,
        "final_loss": losses[-1] if losses else None,
        "seconds": round(time.perf_counter() - start, 2),
    }
    return model, meta
