"""Recursive roll-out of a fixed-horizon model to any horizon (the paper's Algorithm 1)."""
from __future__ import annotations

import torch
from torch import nn


@torch.inference_mode()
def rollout(module: nn.Module, x: torch.Tensor, horizon: int, clip: float | None = 10.0) -> torch.Tensor:
    """Forecast ``horizon`` steps from normalized contexts ``x [n, T]``.

    Predict the model's native ``h`` steps, append them, keep the last ``T`` points and
    repeat until ``horizon`` steps exist; the result is trimmed to ``[n, horizon]``.
    When ``clip`` is set, each block is clipped to ``[-clip, clip]`` (the contexts are
    z-normalized, so this bounds a diverging member) and non-finite values are replaced
    by the last context value.
    """
    T = x.shape[1]
    blocks = []
    done = 0
    ctx = x
    while done < horizon:
        out = module(ctx)
        if clip is not None:
            last = ctx[:, -1:].expand_as(out)
            out = torch.where(torch.isfinite(out), out, last).clamp(-clip, clip)
        blocks.append(out)
        done += out.shape[1]
        ctx = torch.cat([ctx, out], dim=1)[:, -T:]
    return torch.cat(blocks, dim=1)[:, :horizon]
