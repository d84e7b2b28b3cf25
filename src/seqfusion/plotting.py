"""Plots of history and forecast per variate (matplotlib, optional extra ``plot``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from seqfusion.errors import SeqFusionError


def plot_forecast(
    history: dict[str, tuple[pd.Index, np.ndarray]],
    forecast: dict[str, tuple[pd.Index, np.ndarray]],
    path: str | Path,
    max_panels: int = 12,
    tail: int = 108,
) -> Path:
    """Draw the last ``tail`` history points and the forecast of each variate into ``path``.

    ``history``/``forecast`` map a variate name to (time index, values). At most
    ``max_panels`` variates are drawn (the first ones).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SeqFusionError("plotting needs matplotlib: pip install 'seqfusion[plot]'") from None
    names = list(forecast)[:max_panels]
    ncols = 1 if len(names) == 1 else 2
    nrows = -(-len(names) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6 * ncols, 2.4 * nrows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        hi, hv = history[name]
        fi, fv = forecast[name]
        ax.plot(hi[-tail:], hv[-tail:], color="0.3", lw=1.2, label="history")
        ax.plot([hi[-1], *fi], [hv[-1], *fv], color="tab:orange", lw=1.6, label="forecast")
        ax.set_title(str(name), fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
