"""Plots of history and forecast per variate (matplotlib, optional extra ``plot``)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqfusion.errors import SeqFusionError
from seqfusion.files import write_atomic


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SeqFusionError("plotting needs matplotlib: pip install 'seqfusion[plot]'") from None
    return plt


def image_suffixes() -> list[str]:
    """File extensions matplotlib can write (``.png``, ``.pdf``, ``.svg`` ...)."""
    plt = _pyplot()
    fig = plt.figure()
    try:
        return sorted(f".{ext}" for ext in fig.canvas.get_supported_filetypes())
    finally:
        plt.close(fig)


def plot_forecast(
    history: dict[str, tuple[pd.Index, np.ndarray]],
    forecast: dict[str, tuple[pd.Index, np.ndarray]],
    path: str | Path,
    max_panels: int = 12,
    tail: int = 108,
    bands: dict[Any, list[tuple[float, np.ndarray, np.ndarray]]] | None = None,
) -> Path:
    """Draw the last ``tail`` history points and the forecast of each variate into ``path``.

    ``history``/``forecast`` map a variate name to (time index, values); ``bands`` maps it
    to prediction intervals ``(level in percent, lower [H], upper [H])``, drawn as shaded
    bands (wider levels lighter). At most ``max_panels`` variates are drawn (the first ones).
    """
    plt = _pyplot()
    names = list(forecast)[:max_panels]
    ncols = 1 if len(names) == 1 else 2
    nrows = -(-len(names) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6 * ncols, 2.4 * nrows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        hi, hv = history[name]
        fi, fv = forecast[name]
        ax.plot(hi[-tail:], hv[-tail:], color="0.3", lw=1.2, label="history")
        for level, lo, up in sorted((bands or {}).get(name, []), key=lambda b: -b[0]):
            alpha = 0.15 + 0.25 * (1 - level / 100) / 0.2 if level < 100 else 0.15
            ax.fill_between(list(fi), lo, up, color="tab:orange", alpha=min(alpha, 0.45), lw=0,
                            label=f"{level:g}% interval")
        ax.plot([hi[-1], *fi], [hv[-1], *fv], color="tab:orange", lw=1.6, label="forecast")
        ax.set_title(str(name), fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    path = Path(path)
    try:
        write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=110, format=path.suffix.lstrip(".").lower()))
    finally:
        plt.close(fig)
    return path
