"""Recursive roll-outs of one member (as :mod:`seqfusion.training.rollout`), and the
precomposed roll-out map of an affine member."""
from __future__ import annotations

import numpy as np

from seqfusion.engine.registry import Model


def rollout(model: Model, x: np.ndarray, horizon: int, clip: float | None = 10.0) -> np.ndarray:
    """Recursive roll-out of ``model`` from normalized contexts ``x [n, T]`` to ``[n, horizon]``.

    As :func:`seqfusion.training.rollout.rollout`: predict the model's ``h`` steps, append them,
    keep the last ``T`` points, repeat; with ``clip``, non-finite values of a block are
    replaced by the last context value and the block is clipped to ``[-clip, clip]``.
    Computed in x's float dtype (float32 unless x is float64).
    """
    x = np.asarray(x)
    if x.dtype != np.float64:
        x = x.astype(np.float32)
    T = x.shape[1]
    blocks, done, ctx = [], 0, x
    with np.errstate(all="ignore"):  # non-finite inputs spread silently, as in torch
        while done < horizon:
            out = model(ctx)
            if clip is not None:
                out = np.where(np.isfinite(out), out, ctx[:, -1:])
                np.clip(out, -clip, clip, out=out)
            blocks.append(out)
            done += out.shape[1]
            if done < horizon:
                ctx = np.concatenate([ctx, out], axis=1)[:, -T:]
    return np.concatenate(blocks, axis=1)[:, :horizon]


def affine_rollout(model: Model, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """For an affine ``model``, the unclipped roll-out as ``(A [horizon, T], b [horizon])``
    in float64: ``rollout(model, x, horizon, clip=None) == x @ A.T + b``."""
    if not model.affine:
        raise ValueError(f"{model.architecture!r} is not an affine model")
    T = model.input_length
    basis = np.vstack([np.zeros((1, T)), np.eye(T)])
    out = rollout(model, basis, horizon, clip=None)
    return (out[1:] - out[:1]).T.copy(), out[0].copy()
