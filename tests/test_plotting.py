"""Forecast plots: a readable window of recent history, labels, one legend, and which series were drawn."""
from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from seqfusion.cli import main  # noqa: E402
from seqfusion.errors import SeqFusionError  # noqa: E402
from seqfusion.plotting import forecast_figure, history_window, plot_forecast  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def series(n: int, length: int = 200, horizon: int = 8, dates: bool = True, seed: int = 0,
           ) -> tuple[dict[Any, Any], dict[Any, Any], dict[Any, Any]]:
    """History, forecast and 80 / 95 % bands of ``n`` synthetic monthly series (or integer steps)."""
    rng = np.random.default_rng(seed)
    hist, fc, bands = {}, {}, {}
    stamps = (pd.date_range("2000-01-01", periods=length + horizon, freq="MS") if dates
              else pd.RangeIndex(length + horizon))
    for i in range(n):
        y = 10 + 3 * np.sin(2 * np.pi * np.arange(length + horizon) / 12) + rng.normal(0, 0.3, length + horizon)
        name = f"s{i:02d}"
        hist[name] = (stamps[:length], y[:length])
        fc[name] = (stamps[length:], y[length:])
        w = np.linspace(1, 2, horizon)
        bands[name] = [(80.0, y[length:] - w, y[length:] + w), (95.0, y[length:] - 1.6 * w, y[length:] + 1.6 * w)]
    return hist, fc, bands


@pytest.fixture
def figures():
    made = []

    def make(*args: Any, **kwargs: Any) -> Any:
        fig = forecast_figure(*args, **kwargs)
        made.append(fig)
        return fig

    yield make
    for fig in made:
        plt.close(fig)


def panels(fig: Any) -> list[Any]:
    return [ax for ax in fig.axes if ax.axison]


def x_of(stamp: Any) -> float:
    return float(mdates.date2num(stamp)) if isinstance(stamp, pd.Timestamp) else float(stamp)


def test_history_window_rule() -> None:
    assert history_window(8, 200) == 24  # the minimum, for short horizons
    assert history_window(30, 200) == 90  # three history points per forecast step
    assert history_window(8, 10) == 10  # a shorter history is shown whole
    assert history_window(8, 200, tail=50) == 50
    assert history_window(8, 30, tail=50) == 30


@pytest.mark.parametrize("dates", [True, False])
def test_panels_show_recent_history_and_the_forecast_fills_a_quarter(figures, dates: bool) -> None:
    hist, fc, bands = series(3, length=200, horizon=8, dates=dates)
    fig = figures(hist, fc, bands=bands)
    assert len(panels(fig)) == 3
    for ax, name in zip(panels(fig), hist):
        hi, fi = hist[name][0], fc[name][0]
        x0, x1 = ax.get_xlim()
        assert x0 == pytest.approx(x_of(hi[-24])) and x1 == pytest.approx(x_of(fi[-1]))
        share = (x1 - x_of(hi[-1])) / (x1 - x0)
        assert share >= 0.2  # an 8-step forecast is no longer a sliver of 200 points of history
        history_line = next(line for line in ax.get_lines() if line.get_label() == "history")
        assert len(history_line.get_xdata()) == 24
        np.testing.assert_allclose(history_line.get_ydata(), hist[name][1][-24:])
        assert len(ax.collections) == 2  # the 80 % and 95 % bands


def test_long_horizon_and_short_history(figures) -> None:
    hist, fc, _ = series(1, length=200, horizon=30)
    ax = panels(figures(hist, fc))[0]
    line = next(line for line in ax.get_lines() if line.get_label() == "history")
    assert len(line.get_xdata()) == 90
    hist, fc, _ = series(1, length=10, horizon=8)
    ax = panels(figures(hist, fc))[0]
    line = next(line for line in ax.get_lines() if line.get_label() == "history")
    assert len(line.get_xdata()) == 10  # all there is
    assert ax.get_xlim()[0] == pytest.approx(x_of(hist["s00"][0][0]))


def test_axes_labels_titles_and_one_legend_for_all_panels(figures) -> None:
    hist, fc, bands = series(5)
    fig = figures(hist, fc, bands=bands)
    for ax, name in zip(panels(fig), hist):
        assert ax.get_title() == name
        assert ax.get_xlabel() == "time" and ax.get_ylabel() == "value"
    assert fig.get_suptitle() == "Forecast 8 steps ahead, 5 series"
    assert len(fig.legends) == 1
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["history", "forecast", "80% interval",
                                                                  "95% interval"]


def test_legend_gathers_bands_from_every_panel(figures) -> None:
    hist, fc, bands = series(2)
    fig = figures(hist, fc, bands={"s01": bands["s01"][:1]})  # only the second series has a band
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["history", "forecast", "80% interval"]


def test_fifty_series_say_which_twelve_were_drawn(figures) -> None:
    hist, fc, bands = series(50, length=60)
    with pytest.warns(UserWarning, match=r"plotted 12 of 50 series \(the first 12: s00 to s11\)"):
        fig = figures(hist, fc, bands=bands)
    assert [ax.get_title() for ax in panels(fig)] == [f"s{i:02d}" for i in range(12)]
    assert "plotted 12 of 50 series (the first 12" in fig.get_suptitle()
    with pytest.warns(UserWarning, match="plotted 5 of 50 series"):
        fig = figures(hist, fc, max_panels=5)
    assert len(panels(fig)) == 5 and "5 of 50" in fig.get_suptitle()


def test_no_warning_when_every_series_is_drawn(figures) -> None:
    hist, fc, _ = series(12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = figures(hist, fc)
    assert len(panels(fig)) == 12 and fig.get_suptitle() == "Forecast 8 steps ahead, 12 series"


def test_bad_panel_limit_is_refused() -> None:
    hist, fc, _ = series(2)
    with pytest.raises(SeqFusionError, match="max_panels"):
        forecast_figure(hist, fc, max_panels=0)


def test_plot_forecast_writes_an_image(tmp_path: Path) -> None:
    hist, fc, bands = series(3)
    png = plot_forecast(hist, fc, tmp_path / "f.png", bands=bands)
    assert png == tmp_path / "f.png" and png.read_bytes()[:8] == PNG_MAGIC
    svg = plot_forecast(hist, fc, tmp_path / "f.svg")
    assert b"<svg" in svg.read_bytes()[:2000]
    assert not plt.get_fignums()  # figures are closed after saving


def fifty_series_csv(path: Path) -> Path:
    rng = np.random.default_rng(1)
    rows = [pd.DataFrame({"unique_id": f"id{i:02d}", "ds": pd.date_range("2020-01-06", periods=60, freq="W-MON"),
                          "y": 10 + 3 * np.sin(np.arange(60) / 3) + np.cumsum(rng.normal(0, 0.3, 60))})
            for i in range(50)]
    pd.concat(rows).to_csv(path, index=False)
    return path


def test_cli_plot_of_fifty_series(tiny_zoo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(warnings, "formatwarning", warnings.formatwarning)  # main() sets its one-line format
    csv, png, out = fifty_series_csv(tmp_path / "data.csv"), tmp_path / "out.png", tmp_path / "fc.csv"
    with pytest.warns(UserWarning, match=r"plotted 12 of 50 series \(the first 12: id00 to id11\)"):
        rc = main(["forecast", str(csv), "-H", "8", "--plot", str(png), "--zoo", str(tiny_zoo), "-o", str(out)])
    assert rc == 0
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 10_000
    assert pd.read_csv(out)["unique_id"].nunique() == 50  # the forecast itself keeps every series


def test_cli_plot_warning_is_one_stderr_line(tiny_zoo, tmp_path: Path) -> None:
    csv, png = fifty_series_csv(tmp_path / "data.csv"), tmp_path / "out.png"
    r = subprocess.run([sys.executable, "-m", "seqfusion.cli", "forecast", str(csv), "-H", "8", "--plot", str(png),
                        "--zoo", str(tiny_zoo), "-o", str(tmp_path / "fc.csv")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [
        "seqfusion: warning: plotted 12 of 50 series (the first 12: id00 to id11); "
        "select series in the input to plot others"]
    assert png.read_bytes()[:8] == PNG_MAGIC
