"""Transferability: how well each PTM forecasts held-out windows of each sub-dataset.

``MSE_ij`` is the mean squared error of PTM ``i`` on held-out windows of sub-dataset ``j``
(input ``T = 36`` points, target the next ``h = 12``). The PTM sees its input z-normalized
by the input's own mean and std (as in training and in the forecaster); the error is
measured on the whole window z-normalized by its own mean and std (``norm="window"``,
default: every window has unit variance, so a forecast of the window mean costs about the
target part's share of the variance and MSEs stay mostly in [0, 1.5]) or in the input's
units (``norm="input"``, unbounded for windows whose input is flat). ``g_ij = 1 - MSE_ij``
clipped to [-1, 1] is the target similarity of the extractor's transferability loss
(paper Eq. 3).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from seqfusion.preprocess import znorm, znorm_pairs
from seqfusion.training.rollout import rollout
from seqfusion.training.training import TARGET_CLIP

#: Bound on normalized predictions (as the forecaster's roll-out; normalized targets are
#: bounded by PTM training's ``TARGET_CLIP``), so that one degenerate window cannot
#: dominate a mean.
PRED_CLIP = 10.0


NORMS = ("window", "input")


def window_predictions(module: nn.Module, windows: np.ndarray, input_length: int = 36,
                       norm: str = "window", batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Forecasts and targets ``([n, h], [n, h])`` of ``module`` on windows ``[n, T + h]``,
    both in the units of ``norm`` (see module docstring)."""
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    w = np.asarray(windows, dtype=np.float64)
    if w.ndim != 2 or w.shape[1] <= input_length:
        raise ValueError(f"windows must be [n, > {input_length}], got {w.shape}")
    h = w.shape[1] - input_length
    if len(w) == 0:
        return np.zeros((0, h)), np.zeros((0, h))
    x, y, mean_in, std_in = znorm_pairs(w[:, :input_length], w[:, input_length:])
    xt = torch.as_tensor(x, dtype=torch.float32)
    was_training = module.training
    module.eval()
    preds = [rollout(module, xt[i:i + batch_size], h, PRED_CLIP).numpy()
             for i in range(0, len(xt), batch_size)]
    module.train(was_training)
    pred = np.concatenate(preds).astype(np.float64)
    if norm == "input":
        return pred, np.clip(y, -TARGET_CLIP, TARGET_CLIP)
    # Back to raw units with the input's statistics, then to the window's own z-scores.
    wn, mean_w, std_w = znorm(w)
    return (pred * std_in + mean_in - mean_w) / std_w, wn[:, input_length:]


def window_errors(module: nn.Module, windows: np.ndarray, input_length: int = 36,
                  norm: str = "window", batch_size: int = 4096) -> np.ndarray:
    """Per-window MSE ``[n]`` of ``module`` on windows ``[n, input_length + h]``."""
    pred, target = window_predictions(module, windows, input_length, norm, batch_size)
    return ((pred - target) ** 2).mean(axis=1)


G_SCALES = ("none", "global", "column")


@dataclass
class TransferResult:
    """``mse [R, C]`` of PTMs ``rows`` on sub-datasets ``cols``; ``row_sources[r]`` is the
    sub-dataset PTM ``r`` was trained on (``""`` for weight-free members)."""

    rows: list[str]
    cols: list[str]
    row_sources: list[str]
    mse: np.ndarray
    predictions: dict[str, np.ndarray] | None = field(default=None, repr=False, compare=False)
    targets: dict[str, np.ndarray] | None = field(default=None, repr=False, compare=False)

    @property
    def g(self) -> np.ndarray:
        """``1 - MSE`` clipped to [-1, 1]."""
        return np.clip(1.0 - self.mse, -1.0, 1.0)

    def scaled_mse(self, scale: str = "none") -> np.ndarray:
        """The MSE matrix in the unit used for ``g``.

        ``"none"``: as measured (the paper's ``g = 1 - MSE``); ``"global"``: divided by the
        median entry of the trained PTMs' rows; ``"column"``: each column divided by its
        median over the trained PTMs (so ``g > 0`` means better than the typical PTM on
        that sub-dataset, whatever the sub-dataset's difficulty).
        """
        if scale not in G_SCALES:
            raise ValueError(f"g scale must be one of {G_SCALES}, got {scale!r}")
        trained = np.asarray([s != "" for s in self.row_sources])
        ref = self.mse[trained] if trained.any() else self.mse
        if scale == "none":
            return self.mse
        if scale == "global":
            return self.mse / max(float(np.median(ref)), 1e-12)
        return self.mse / np.maximum(np.median(ref, axis=0, keepdims=True), 1e-12)

    def source_g(self, scale: str = "none") -> np.ndarray:
        """Sub-dataset-level ``g [C, C]``: row ``i`` averages the (scaled) MSE of the PTMs
        trained on ``cols[i]`` (NaN where no PTM was trained on it), then ``1 - MSE`` clipped."""
        mse = self.scaled_mse(scale)
        out = np.full((len(self.cols), len(self.cols)), np.nan)
        src = np.asarray(self.row_sources)
        for i, c in enumerate(self.cols):
            sel = src == c
            if sel.any():
                out[i] = np.clip(1.0 - mse[sel].mean(axis=0), -1.0, 1.0)
        return out

    def own_mask(self) -> np.ndarray:
        """Boolean ``[R, C]``: True where the column is the row's own training source."""
        return np.asarray(self.row_sources)[:, None] == np.asarray(self.cols)[None, :]

    def summary(self) -> dict[str, Any]:
        """Mean MSE on own vs other sub-datasets, per row best column, overall ranks."""
        own = self.own_mask()
        trained = np.asarray([s != "" for s in self.row_sources])
        diag = self.mse[own]
        off = self.mse[trained[:, None] & ~own]
        col_best = [self.rows[int(np.nanargmin(self.mse[:, j]))] for j in range(len(self.cols))]
        own_best = 0
        for j, c in enumerate(self.cols):
            best = self.row_sources[int(np.nanargmin(self.mse[:, j]))]
            own_best += int(best == c)
        return {
            "diag_mean_mse": float(np.mean(diag)) if diag.size else None,
            "offdiag_mean_mse": float(np.mean(off)) if off.size else None,
            "diag_median_mse": float(np.median(diag)) if diag.size else None,
            "offdiag_median_mse": float(np.median(off)) if off.size else None,
            "row_mean_mse": {r: float(np.mean(self.mse[i])) for i, r in enumerate(self.rows)},
            "col_mean_mse": {c: float(np.mean(self.mse[:, j])) for j, c in enumerate(self.cols)},
            "best_per_col": dict(zip(self.cols, col_best)),
            "cols_won_by_own_ptm": own_best,
        }

    def to_dict(self, decimals: int = 4) -> dict[str, Any]:
        """JSON-ready form (for the zoo manifest)."""
        def r(a: np.ndarray) -> list[list[float]]:
            return [[round(float(v), decimals) for v in row] for row in a]

        return {"rows": list(self.rows), "cols": list(self.cols), "row_sources": list(self.row_sources),
                "mse": r(self.mse), "g": r(self.g)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TransferResult:
        return cls(list(d["rows"]), list(d["cols"]), list(d["row_sources"]),
                   np.asarray(d["mse"], dtype=np.float64))


def transfer_matrix(
    modules: Sequence[tuple[str, str, nn.Module]],
    eval_windows: Mapping[str, np.ndarray],
    input_length: int = 36,
    norm: str = "window",
    keep_predictions: bool = False,
) -> TransferResult:
    """Evaluate every PTM on the held-out windows of every sub-dataset.

    ``modules``: ``(name, training source, module)`` per PTM; ``eval_windows``: sub-dataset
    name -> windows ``[n, input_length + h]``. Returns the ``[R, C]`` MSE matrix; with
    ``keep_predictions`` also every forecast (for :func:`selection_quality`).
    """
    cols = list(eval_windows)
    if not cols or not modules:
        raise ValueError("need at least one PTM and one sub-dataset")
    for c in cols:
        if len(eval_windows[c]) == 0:
            raise ValueError(f"sub-dataset {c!r} has no held-out windows")
    mse = np.zeros((len(modules), len(cols)))
    preds: dict[str, list[np.ndarray]] = {c: [] for c in cols}
    targets: dict[str, np.ndarray] = {}
    with torch.inference_mode():
        for i, (_, _, module) in enumerate(modules):
            for j, c in enumerate(cols):
                pred, target = window_predictions(module, eval_windows[c], input_length, norm)
                mse[i, j] = ((pred - target) ** 2).mean()
                if keep_predictions:
                    preds[c].append(pred)
                    targets[c] = target
    res = TransferResult([m[0] for m in modules], cols, [m[1] for m in modules], mse)
    if keep_predictions:
        res.predictions = {c: np.stack(v) for c, v in preds.items()}
        res.targets = targets
    return res


def selection_quality(result: TransferResult, eval_windows: Mapping[str, np.ndarray],
                      embed: Any, representations: np.ndarray, k: int = 3,
                      input_length: int = 36, row_index: Sequence[int] | None = None) -> dict[str, Any]:
    """How well similarity-based selection routes held-out windows (an in-domain check).

    For every held-out window the ``k`` members whose representations are most
    cosine-similar to the window's embedding are fused by a plain mean; reported per
    sub-dataset: the MSE of that fusion, of the single best member of the sub-dataset
    (oracle), of the average member, and how often an own-source PTM is among the chosen.
    ``embed``: callable ``[n, T] -> [n, dim]``; needs ``transfer_matrix(...,
    keep_predictions=True)``. ``row_index`` maps representation rows to matrix rows (when
    the zoo holds only some of the evaluated members).
    """
    if result.predictions is None or result.targets is None:
        raise ValueError("the transfer result holds no predictions (keep_predictions=True)")
    reps = np.asarray(representations, dtype=np.float64)
    reps = reps / np.maximum(np.linalg.norm(reps, axis=1, keepdims=True), 1e-12)
    src = np.asarray(result.row_sources)
    per: dict[str, dict[str, float]] = {}
    for j, c in enumerate(result.cols):
        e = np.asarray(embed(np.asarray(eval_windows[c])[:, :input_length]), dtype=np.float64)
        e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
        top = np.argsort(-(e @ reps.T), axis=1, kind="stable")[:, :k]  # [n, k]
        if row_index is not None:
            top = np.asarray(row_index)[top]
        preds = result.predictions[c]  # [R, n, h]
        n = preds.shape[1]
        fused = preds[top.T, np.arange(n)[None, :]].mean(axis=0)
        per[c] = {
            "selected": float(((fused - result.targets[c]) ** 2).mean()),
            "oracle_member": float(result.mse[:, j].min()),
            "mean_member": float(result.mse[:, j].mean()),
            "own_chosen": float((src[top] == c).any(axis=1).mean()),
        }
    keys = ("selected", "oracle_member", "mean_member", "own_chosen")
    return {"k": k, "mean": {key: float(np.mean([v[key] for v in per.values()])) for key in keys},
            "per_sub_dataset": per}


def format_matrix(result: TransferResult, width: int = 7) -> str:
    """Plain-text table of the MSE matrix (rows PTMs, columns sub-datasets, own in [])."""
    own = result.own_mask()
    abbrev = [c[:width] for c in result.cols]
    name_w = max(len(r) for r in result.rows)
    lines = [" " * name_w + " " + " ".join(f"{a:>{width + 2}}" for a in abbrev)]
    for i, r in enumerate(result.rows):
        cells = []
        for j in range(len(result.cols)):
            v = f"{result.mse[i, j]:.3f}"
            cells.append(f"[{v}]".rjust(width + 2) if own[i, j] else v.rjust(width + 2))
        lines.append(f"{r:<{name_w}} " + " ".join(cells))
    return "\n".join(lines)
