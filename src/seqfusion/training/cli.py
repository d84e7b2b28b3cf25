"""``seqfusion zoo build | add | map``: command handlers used by the main CLI.

The main CLI (:mod:`seqfusion.cli`) owns the ``zoo`` sub-command and its ``list`` and
``show`` actions; it calls :func:`add_zoo_commands` with its ``zoo`` sub-parser collection
to register ``build``, ``add`` and ``map`` here, and forwards ``show --plot`` to
:func:`cmd_map`. Every handler returns an exit code and raises
:class:`~seqfusion.errors.SeqFusionError` with a one-line message on bad input.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from seqfusion.errors import SeqFusionError

ARCHITECTURES = ("patchtst", "dlinear")


# ====================================================================== parsers
def add_zoo_commands(zoo_subparsers: Any) -> None:
    """Register ``build``, ``add`` and ``map`` on the main CLI's ``zoo`` sub-parsers."""
    b = zoo_subparsers.add_parser("build", help="build a model zoo from a TOML config",
                                  description="Train the PTMs and the extractor of a zoo config.")
    b.add_argument("--config", default="default",
                   help="TOML file or shipped config name (default, mini, no_competitions)")
    b.add_argument("--out", required=True, help="output zoo folder")
    b.add_argument("--cache", default=None, help="PTM cache folder (default: the user cache)")
    b.add_argument("--no-cache", action="store_true", help="retrain everything")
    b.add_argument("--report", default=None, help="also write a Markdown build report")
    b.add_argument("--quiet", action="store_true", help="no progress output")
    b.set_defaults(func=cmd_build)

    a = zoo_subparsers.add_parser("add", help="train a PTM on your own series and add it to a zoo",
                                  description="Train one PTM on a CSV (wide: a time column and "
                                              "one column per series; long: unique_id, ds, y) and "
                                              "add it, with its representation, to a zoo folder.")
    a.add_argument("--zoo", required=True, help="zoo folder to extend (it is rewritten)")
    a.add_argument("--data", required=True, help="CSV file with the training series")
    a.add_argument("--name", required=True, help="name of the new PTM")
    a.add_argument("--column", action="append", default=None,
                   help="column (wide) or unique_id (long) to use; repeat for several (default: all)")
    a.add_argument("--architecture", default="patchtst", choices=ARCHITECTURES)
    a.add_argument("--frequency", default=None, help="frequency label (default: inferred from dates)")
    a.add_argument("--epochs", type=int, default=10)
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--n-windows", type=int, default=4000, help="training windows to sample")
    a.set_defaults(func=cmd_add)

    m = zoo_subparsers.add_parser("map", help="2-D PCA map of PTM representations",
                                  description="Print the PTMs and draw a PCA map of their "
                                              "representations (and of the variates of --data).")
    m.add_argument("--zoo", default=None, help="zoo folder (default: the shipped zoo)")
    m.add_argument("--plot", default=None, help="PNG file to draw the map into")
    m.add_argument("--data", default=None, help="CSV whose variates are placed on the map")
    m.add_argument("--column", action="append", default=None, help="variates of --data to show")
    m.set_defaults(func=cmd_map)


# ====================================================================== helpers
def _load_zoo(path: Any) -> Any:
    from seqfusion.zoo import Zoo

    return Zoo.load(path)


def read_series_csv(path: str | Path, columns: list[str] | None = None
                    ) -> tuple[list[str], list[np.ndarray], str]:
    """Series of a wide or long CSV: (names, float64 arrays with NaN gaps, inferred band)."""
    from seqfusion.files import read_table
    from seqfusion.frames import parse

    p = Path(path)
    parsed = parse(read_table(p))
    names = [str(n) for n in parsed.names]
    series = list(parsed.series)
    if columns:
        missing = [c for c in columns if c not in names]
        if missing:
            raise SeqFusionError(f"{p}: no column/series {', '.join(map(repr, missing))} "
                                 f"(have: {', '.join(names[:20])}{' ...' if len(names) > 20 else ''})")
        keep = [names.index(c) for c in columns]
        names, series = [names[i] for i in keep], [series[i] for i in keep]
    band = ""
    idx = next((ix for ix in parsed.index if ix is not None), None)
    if idx is not None and len(idx) >= 3:
        band = infer_band(idx)
    return names, [np.asarray(s, dtype=np.float64) for s in series], band


def infer_band(index: Any) -> str:
    """Frequency band (yearly ... subhourly) of a regular DatetimeIndex, or ``""`` when
    pandas infers no frequency from it."""
    import pandas as pd

    from seqfusion.frames import infer_offset
    from seqfusion.frequency import frequency_class

    offset = infer_offset(pd.DatetimeIndex(index))
    return "" if offset is None else frequency_class(offset)


def _file_size(zoo: Any, name: str) -> int | None:
    if zoo.path is None:
        return None
    f = Path(zoo.path) / "ptms" / f"{name}.safetensors"
    return f.stat().st_size if f.is_file() else 0


# ====================================================================== handlers
def cmd_build(args: argparse.Namespace) -> int:
    """``zoo build``: build a zoo from a config into ``--out``."""
    from seqfusion.training.pipeline import build_zoo, report_markdown, zoo_size_bytes

    cache: Any = False if getattr(args, "no_cache", False) else (getattr(args, "cache", None) or True)
    zoo = build_zoo(args.config, args.out, progress=not getattr(args, "quiet", False), cache=cache)
    s = zoo.info["transfer"]["summary"]
    print(f"built {len(zoo)} members into {args.out} in {zoo.info['build']['seconds']:.0f} s "
          f"({zoo_size_bytes(args.out) / 1e6:.2f} MB); held-out MSE own {s['diag_mean_mse']:.4f} "
          f"vs other {s['offdiag_mean_mse']:.4f}")
    if getattr(args, "report", None):
        report_markdown(zoo, args.report)
        print(f"report written to {args.report}")
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    """``zoo add``: train one PTM on the user's series and add it to ``--zoo``."""
    import torch

    from seqfusion.training.data.sources import clean_series
    from seqfusion.training.data.windows import sample_windows
    from seqfusion.training.members import representation
    from seqfusion.training.pipeline import DEFAULTS
    from seqfusion.training.training import TrainConfig, train_ptm
    from seqfusion.zoo import Member, sha256_file, state_arrays

    arch = getattr(args, "architecture", "patchtst")
    if arch not in ARCHITECTURES:
        raise SeqFusionError(f"--architecture must be one of {ARCHITECTURES}, got {arch!r}")
    epochs = int(getattr(args, "epochs", 10))
    n_windows = int(getattr(args, "n_windows", 4000))
    if epochs < 1 or n_windows < 1:
        raise SeqFusionError("--epochs and --n-windows must be positive")
    zoo = _load_zoo(args.zoo)
    name = args.name
    if not name or any(c in name for c in "/\\ ") or name.startswith("."):
        raise SeqFusionError(f"invalid PTM name {name!r} (no spaces or slashes)")
    if name in zoo.names:
        raise SeqFusionError(f"a PTM named {name!r} is already in the zoo {zoo.path}")
    names, raw, band = read_series_csv(args.data, getattr(args, "column", None))
    T = zoo.input_length
    horizon = max((m.horizon for m in zoo.members), default=12)
    pieces = [p for s in raw for p in clean_series(s)]
    seed = int(getattr(args, "seed", 0))
    windows = sample_windows(pieces, T + horizon, n_windows, np.random.default_rng(seed))
    if len(windows) == 0:
        longest = max((len(p) for p in pieces), default=0)
        raise SeqFusionError(
            f"{args.data}: no usable training window: a PTM needs stretches of at least "
            f"{T + horizon} consecutive, non-constant values (longest here: {longest})")
    cfg_arch = (zoo.info.get("config", {}).get("architectures", {}).get(arch)
                or DEFAULTS["architectures"].get(arch, {}))
    model_cfg = {**cfg_arch, "input_length": T, "horizon": horizon}
    tcfg = TrainConfig(epochs=epochs, seed=seed)
    torch.manual_seed(seed)
    module, meta = train_ptm(windows[:, :T], windows[:, T:], arch, model_cfg, tcfg, progress=True, desc=name)
    rng = np.random.default_rng(seed)
    demo = windows[rng.choice(len(windows), size=min(256, len(windows)), replace=False), :T]
    meta.update({"demo_size": len(demo), "data_file": Path(args.data).name,
                 "data_sha256": sha256_file(Path(args.data)), "columns": names})
    frequency = getattr(args, "frequency", None) or band
    member = Member(name, arch, dict(meta["config"]), state_arrays(module), representation(zoo.extractor, demo),
                    source=f"user:{Path(args.data).name}", frequency=frequency, domain="user data",
                    training=meta)
    had_router = zoo.router is not None
    zoo.add(member)
    zoo.save(zoo.path)
    print(f"added {name!r} ({arch}, {member.n_parameters} parameters, {len(windows)} windows from "
          f"{len(names)} series, final loss {meta['final_loss']:.4f}) to {zoo.path}; "
          f"the zoo now holds {len(zoo)} members")
    if had_router:
        print("note: the zoo's router was fitted to the old members and has been removed; forecasts "
              "now fuse the most similar members by a plain mean (rebuild the zoo to fit a new router)")
    return 0


def variate_representations(extractor: Any, series: list[np.ndarray], input_length: int,
                            max_windows: int = 256) -> np.ndarray:
    """Mean embedding ``[n, dim]`` of each series' length-``input_length`` windows.

    Each series is read and checked as the forecaster reads a whole history
    (:func:`seqfusion.preprocess.histories`: NaN gaps interpolated, at least 2 finite
    values); one shorter than ``input_length`` is left-padded with its first value
    (:func:`seqfusion.preprocess.pad_left`); windows are embedded as the forecaster embeds
    contexts (:func:`seqfusion.training.extractor.embed_windows`).
    """
    from seqfusion.preprocess import histories, pad_left
    from seqfusion.training.extractor import embed_windows

    out = []
    for s in histories(series, 2, [f"variate {i}" for i in range(len(series))]):
        s = pad_left(s[None, :], input_length)[0]
        n = len(s) - input_length + 1
        starts = np.unique(np.linspace(0, n - 1, num=min(n, max_windows)).round().astype(int))
        w = s[starts[:, None] + np.arange(input_length)]
        out.append(embed_windows(extractor, w).mean(axis=0))
    return np.stack(out)


def pca_2d(points: np.ndarray) -> np.ndarray:
    """First two principal-component coordinates of ``points [n, d]`` (numpy SVD)."""
    x = points - points.mean(axis=0, keepdims=True)
    if len(x) < 2:
        return np.zeros((len(x), 2))
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    comps = vt[:2]
    coords = x @ comps.T
    if coords.shape[1] < 2:
        coords = np.concatenate([coords, np.zeros((len(coords), 2 - coords.shape[1]))], axis=1)
    return coords


def cmd_map(args: argparse.Namespace) -> int:
    """``zoo map`` / ``zoo show --plot``: PTM table, PCA map, nearest PTMs of --data variates."""
    zoo = _load_zoo(getattr(args, "zoo", None))
    tab = zoo.table()
    tab = tab[tab["role"] == "routed"].copy()  # the map places the routed members
    tab["size_kB"] = [(_file_size(zoo, n) or 0) / 1e3 for n in tab["name"]]
    with _pd_options():
        print(tab[["name", "architecture", "source", "frequency", "parameters", "size_kB"]]
              .to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    data = getattr(args, "data", None)
    reps = zoo.representations()
    unit = reps / np.maximum(np.linalg.norm(reps, axis=1, keepdims=True), 1e-12)
    tnames: list[str] = []
    treps = np.zeros((0, reps.shape[1]), dtype=np.float32)
    if data:
        tnames, series, _ = read_series_csv(data, getattr(args, "column", None))
        treps = variate_representations(zoo.extractor, series, zoo.input_length)
        tunit = treps / np.maximum(np.linalg.norm(treps, axis=1, keepdims=True), 1e-12)
        sims = tunit @ unit.T
        print(f"\nnearest PTMs of the variates of {data} (cosine of mean window embeddings):")
        for n, row in zip(tnames, sims):
            top = np.argsort(-row, kind="stable")[:3]
            print(f"  {n}: " + ", ".join(f"{zoo.names[i]} ({row[i]:.3f})" for i in top))
        treps = tunit
    plot = getattr(args, "plot", None)
    if plot:
        draw_map(zoo, unit, tnames, treps, plot)
        print(f"map written to {plot}")
    return 0


def draw_map(zoo: Any, unit: np.ndarray, tnames: list[str], tunit: np.ndarray, out: str | Path) -> None:
    """Scatter the PCA map of member (and target) representations into ``out`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    coords = pca_2d(np.concatenate([unit, tunit]) if len(tunit) else unit)
    pc, tc = coords[: len(unit)], coords[len(unit):]
    freqs = sorted({m.frequency or "?" for m in zoo.members})
    cmap = plt.get_cmap("tab10")
    colors = {f: cmap(i % 10) for i, f in enumerate(freqs)}
    markers = {"patchtst": "o", "dlinear": "s"}
    fig, ax = plt.subplots(figsize=(9, 7))
    for i, m in enumerate(zoo.members):
        ax.scatter(pc[i, 0], pc[i, 1], color=colors[m.frequency or "?"], marker=markers.get(m.architecture, "^"),
                   s=60, edgecolor="black", linewidth=0.5)
        ax.annotate(m.name, pc[i], fontsize=7, xytext=(3, 3), textcoords="offset points")
    for i, n in enumerate(tnames):
        ax.scatter(tc[i, 0], tc[i, 1], color="black", marker="x", s=50)
        ax.annotate(str(n), tc[i], fontsize=7, color="darkred", xytext=(3, -8), textcoords="offset points")
    handles = [Line2D([], [], color=colors[f], marker="o", linestyle="", label=f) for f in freqs]
    handles += [Line2D([], [], markerfacecolor="white", markeredgecolor="black", marker=mk,
                       linestyle="", label=a)
                for a, mk in (("patchtst", "o"), ("dlinear", "s"), ("classical", "^"))]
    if tnames:
        handles.append(Line2D([], [], color="black", marker="x", linestyle="", label="target variate"))
    ax.legend(handles=handles, fontsize=8, loc="best")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title(f"PTM representations ({len(zoo)} members, PCA of unit vectors)")
    fig.tight_layout()
    try:
        fig.savefig(out, dpi=120)
    except (OSError, ValueError) as exc:
        raise SeqFusionError(f"cannot write plot {out}: {exc}") from None
    finally:
        plt.close(fig)


class _pd_options:
    def __enter__(self) -> None:
        import pandas as pd

        self._ctx = pd.option_context("display.width", 200, "display.max_rows", 500)
        self._ctx.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self._ctx.__exit__(*exc)
