"""Plots of history and forecast per variate (matplotlib, optional extra ``plot``)."""
from __future__ import annotations

import textwrap
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from seqfusion.errors import SeqFusionError
from seqfusion.files import write_atomic

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_PANELS = 12  # series drawn by default; the rest are named in a warning and the title
MIN_HISTORY_POINTS = 24  # history drawn at least (when available), however short the horizon
HISTORY_PER_STEP = 3  # history drawn per forecast step: the forecast fills a quarter of the width


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SeqFusionError("plotting needs matplotlib: pip install 'seqfusion[plot]'") from None
    return plt


def _dates() -> Any:
    import matplotlib.dates

    return matplotlib.dates


def image_suffixes() -> list[str]:
    """File extensions matplotlib can write (``.png``, ``.pdf``, ``.svg`` ...)."""
    plt = _pyplot()
    fig = plt.figure()
    try:
        return sorted(f".{ext}" for ext in fig.canvas.get_supported_filetypes())
    finally:
        plt.close(fig)


def history_window(horizon: int, available: int, tail: int | None = None) -> int:
    """How many of the last history points are drawn before a ``horizon``-step forecast:
    ``tail`` if given, else ``max(3 * horizon, 24)``; never more than ``available``."""
    want = tail if tail is not None else max(HISTORY_PER_STEP * horizon, MIN_HISTORY_POINTS)
    return max(0, min(int(want), available))


def _drawn_note(names: list[Any], total: int) -> str:
    first = f"the first {len(names)}"
    if names:
        first += f": {names[0]!s}" if len(names) == 1 else f": {names[0]!s} to {names[-1]!s}"
    return f"plotted {len(names)} of {total} series ({first})"


def forecast_figure(
    history: dict[Any, tuple[pd.Index, np.ndarray]],
    forecast: dict[Any, tuple[pd.Index, np.ndarray]],
    max_panels: int = MAX_PANELS,
    tail: int | None = None,
    bands: dict[Any, list[tuple[float, np.ndarray, np.ndarray]]] | None = None,
) -> Figure:
    """The figure :func:`plot_forecast` saves: one panel per variate (time / value axes,
    the variate's name as title) with its recent history, the forecast and the interval
    bands, one legend for all panels and a title saying what was drawn.

    At most ``max_panels`` variates are drawn (the first ones); when there are more, a
    warning and the title say how many and which. The caller closes the figure
    (``matplotlib.pyplot.close(fig)``).
    """
    if max_panels < 1:
        raise SeqFusionError(f"max_panels must be at least 1, got {max_panels}")
    plt = _pyplot()
    mdates = _dates()
    names = list(forecast)[:max_panels]
    if not names:
        raise SeqFusionError("nothing to plot: no forecast series")
    horizon = max(len(forecast[name][0]) for name in names)
    title = f"Forecast {horizon} step{'s' if horizon != 1 else ''} ahead"
    if len(forecast) > len(names):
        note = _drawn_note(names, len(forecast))
        warnings.warn(f"{note}; select series in the input to plot others", stacklevel=2)
        title += f": {note}"
    elif len(names) > 1:
        title += f", {len(names)} series"
    ncols = 1 if len(names) == 1 else 2
    nrows = -(-len(names) // ncols)
    width = 6.4 * ncols
    title_lines = textwrap.wrap(title, width=int(width * 10)) or [title]
    header = 0.3 * len(title_lines) + 0.35  # inches above the panels: title, then the legend
    height = header + 2.7 * nrows
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False)
    for ax, name in zip(axes.flat, names):
        hi, hv = history[name]
        fi, fv = forecast[name]
        shown = history_window(len(fi), len(hi), tail)
        hi_shown, hv_shown = hi[len(hi) - shown:], np.asarray(hv)[len(hv) - shown:]
        ax.plot(hi_shown, hv_shown, color="0.25", lw=1.2, label="history")
        for level, lo, up in sorted((bands or {}).get(name, []), key=lambda b: -b[0]):
            alpha = 0.15 + 0.25 * (1 - level / 100) / 0.2 if level < 100 else 0.15
            ax.fill_between(fi, lo, up, color="tab:orange", alpha=min(alpha, 0.45), lw=0,
                            label=f"{level:g}% interval")
        if shown:  # the forecast continues from the last history point
            ax.plot([hi_shown[-1], *fi], [hv_shown[-1], *fv], color="tab:orange", lw=1.6, label="forecast")
            ax.axvline(hi_shown[-1], color="0.6", lw=0.8, ls=":")
            ax.set_xlim(hi_shown[0], fi[-1])
        else:
            ax.plot(fi, fv, color="tab:orange", lw=1.6, label="forecast")
        if isinstance(fi, pd.DatetimeIndex):
            locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        ax.set_title(str(name), fontsize=10)
        ax.set_xlabel("time", fontsize=8)
        ax.set_ylabel("value", fontsize=8)
        ax.tick_params(labelsize=7.5)
        ax.grid(True, color="0.92", lw=0.6)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    entries: dict[str, Any] = {}  # one legend entry per label over all panels (bands may differ)
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    levels = sorted((x for x in entries if x not in ("history", "forecast")), key=lambda x: float(x.split("%")[0]))
    labels = [x for x in ("history", "forecast") if x in entries] + levels  # narrow band first
    fig.suptitle("\n".join(title_lines), fontsize=12, y=1 - 0.08 / height, va="top")
    fig.legend([entries[x] for x in labels], labels, loc="upper center",
               bbox_to_anchor=(0.5, 1 - (header - 0.32) / height), ncols=len(labels), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - (header - 0.3) / height))  # less its own padding
    return fig


def plot_forecast(
    history: dict[Any, tuple[pd.Index, np.ndarray]],
    forecast: dict[Any, tuple[pd.Index, np.ndarray]],
    path: str | Path,
    max_panels: int = MAX_PANELS,
    tail: int | None = None,
    bands: dict[Any, list[tuple[float, np.ndarray, np.ndarray]]] | None = None,
) -> Path:
    """Draw the recent history and the forecast of each variate into ``path``.

    ``history``/``forecast`` map a variate name to (time index, values); ``bands`` maps it
    to prediction intervals ``(level in percent, lower [H], upper [H])``, drawn as shaded
    bands (wider levels lighter). Each panel shows the last ``tail`` history points
    (default ``max(3 * H, 24)``, or all of a shorter history), so the forecast stays
    readable. At most ``max_panels`` variates are drawn (the first ones); when there are
    more, a warning and the figure's title say so. See :func:`forecast_figure`.
    """
    plt = _pyplot()
    fig = forecast_figure(history, forecast, max_panels=max_panels, tail=tail, bands=bands)
    path = Path(path)
    try:
        write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=110, format=path.suffix.lstrip(".").lower()))
    finally:
        plt.close(fig)
    return path
