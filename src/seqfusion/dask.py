"""Forecasting on a Dask cluster (the ``seqfusion[dask]`` extra): a thin backend.

:func:`forecast` maps :meth:`SeqFusion.predict` over the partitions of a dask DataFrame of
long-format series (``unique_id, ds, y``); every series must lie inside one partition,
which :func:`forecast` arranges with ``ddf.shuffle(on="unique_id")`` unless told the input
is already grouped (``grouped=True``: e.g. the output of ``set_index("unique_id")`` or files
written series by series). Each task receives only the zoo's *path*; a worker process
loads the zoo on its first task and keeps it (:func:`_model`, cached per process by path
and options), so the zoo travels to each worker once, as files the workers read, not
pickled into every task. The workers need the same zoo path (a shared folder, or the
shipped default zoo: ``zoo=None``) and ``pip install seqfusion`` (numpy, pandas,
safetensors; no torch).

:func:`write_parquet` never removes files it did not write: it refuses an output folder
that holds (or lies inside) the input, and a non-empty output folder unless told to
``overwrite``, which replaces only a folder of Parquet part files (a previous output).

Nothing in the core imports this module; dask is imported when a function here runs.
"""
from __future__ import annotations

import contextlib
import gc
import glob
import logging
import os
import re
import shutil
import signal
import tempfile
import threading
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from seqfusion.errors import SeqFusionError
from seqfusion.frames import LONG_COLUMNS

if TYPE_CHECKING:
    import argparse

    from seqfusion.forecaster import SeqFusion

_MODELS: dict[tuple[str | None, tuple[tuple[str, Any], ...]], SeqFusion] = {}


def _model(zoo: str | None, options: tuple[tuple[str, Any], ...]) -> SeqFusion:
    """The forecaster for ``zoo`` (a folder path; None: the default zoo), loaded once per
    worker process."""
    key = (zoo, options)
    model = _MODELS.get(key)
    if model is None:
        from seqfusion.forecaster import SeqFusion

        model = _MODELS[key] = SeqFusion.from_pretrained(zoo, **dict(options))
    return model


def _forecast_partition(part: pd.DataFrame, horizon: int, zoo: str | None, options: tuple[tuple[str, Any], ...],
                        freq: Any, dayfirst: bool | None, date_format: str | None, dtypes: dict[str, Any],
                        quantiles: tuple[float, ...] | None = None, level: tuple[float, ...] | None = None,
                        future: pd.DataFrame | None = None) -> pd.DataFrame:
    """One partition ``[rows, 3]`` -> its forecasts ``[series * H, columns]`` with ``dtypes``
    (``quantiles`` / ``level``: the quantile and interval columns of
    :meth:`SeqFusion.predict_quantiles` / :meth:`SeqFusion.predict`; ``future``: the
    covariates' future values, the partition's rows are passed as ``X_df``)."""
    meta = pd.DataFrame({c: pd.Series([], dtype=d) for c, d in dtypes.items()})
    if len(part) == 0:
        return meta.iloc[:0]
    X_df = None
    if future is not None:
        from seqfusion.covariates import future_rows

        X_df = future_rows(future, part["unique_id"])
        part = part[list(LONG_COLUMNS) + [c for c in future.columns if c not in ("unique_id", "ds")]]
    part = (part if future is not None else part[list(LONG_COLUMNS)]).reset_index(drop=True)
    if not pd.api.types.is_numeric_dtype(part["ds"]) and not pd.api.types.is_datetime64_any_dtype(part["ds"]):
        from seqfusion.frames import to_datetime

        part["ds"] = to_datetime(part["ds"], "ds", dayfirst, date_format)
    model = _model(zoo, options)
    levels = list(level) if level else None
    if quantiles:
        out = model.predict_quantiles(part, horizon, quantiles=list(quantiles), freq=freq, level=levels, X_df=X_df)
    else:
        out = model.predict(part, horizon, freq=freq, level=levels, X_df=X_df)
    if pd.api.types.is_datetime64_any_dtype(out["ds"]) and not isinstance(meta["ds"].dtype, pd.DatetimeTZDtype) \
            and isinstance(out["ds"].dtype, pd.DatetimeTZDtype):
        raise SeqFusionError("zone-aware text dates: convert 'ds' with dask.dataframe.to_datetime(utc=True) first")
    return out[list(meta.columns)].astype(meta.dtypes.to_dict())


def output_meta(meta: pd.DataFrame, quantiles: Sequence[float] | None = None,
                level: Sequence[float] | None = None) -> pd.DataFrame:
    """The empty forecast frame for input ``meta`` (``unique_id`` and ``ds`` keep their
    dtypes, ``y`` is float64; text ``ds`` becomes ``datetime64[ns]``), then float64 columns
    ``q0.1`` ... per quantile and ``y-lo-80``, ``y-hi-80`` ... per interval level, named and
    ordered as :meth:`SeqFusion.predict_quantiles` writes them."""
    from seqfusion.quantiles import level_label, quantile_label

    missing = set(LONG_COLUMNS) - set(meta.columns)
    if missing:
        raise SeqFusionError(f"long format needs columns unique_id, ds, y (missing {sorted(missing)})")
    ds = meta["ds"].dtype
    if not (pd.api.types.is_numeric_dtype(ds) or pd.api.types.is_datetime64_any_dtype(ds)):
        ds = "datetime64[ns]"
    columns = {"unique_id": pd.Series([], dtype=meta["unique_id"].dtype),
               "ds": pd.Series([], dtype=ds), "y": pd.Series([], dtype="float64")}
    extra = [quantile_label(q) for q in quantiles or ()]
    extra += [f"y-{side}-{level_label(lv)}" for lv in level or () for side in ("lo", "hi")]
    columns.update({c: pd.Series([], dtype="float64") for c in extra})
    return pd.DataFrame(columns)


def forecast(ddf: Any, horizon: int, zoo: str | Path | None = None, *, freq: Any = None, grouped: bool = False,
             dayfirst: bool | None = None, date_format: str | None = None, quantiles: Sequence[float] | None = None,
             level: Sequence[float] | None = None, X_df: pd.DataFrame | None = None, **options: Any) -> Any:
    """Forecast every series of a dask DataFrame ``ddf`` (long: ``unique_id, ds, y``).

    Returns a lazy dask DataFrame of forecasts (``unique_id, ds, y``; ``series * H`` rows),
    one output partition per input partition, series in order of first appearance inside
    each. ``zoo``: zoo folder readable at the same path on every worker (None: the shipped
    default zoo). ``grouped``: True when every series already lies inside one partition;
    else the rows are shuffled by ``unique_id`` first (a full shuffle of the input).
    ``quantiles`` (levels in (0, 1)) / ``level`` (interval levels in percent): also the
    columns ``q0.1`` ... / ``y-lo-80``, ``y-hi-80`` ..., as
    :meth:`SeqFusion.predict_quantiles` and :meth:`SeqFusion.predict` add them.
    ``options``: :meth:`SeqFusion.from_pretrained` settings (``k``, ``fusion``, ...).
    ``ds`` as text is parsed per partition (give ``dayfirst`` / ``date_format`` for
    non-ISO dates). ``X_df``: the future values of the covariates (``ddf``'s extra
    columns; a pandas frame ``unique_id, ds, <covariates>``, see
    :mod:`seqfusion.covariates`); each partition gets its series' rows.
    """
    from seqfusion.forecaster import _check_horizon
    from seqfusion.options import Options
    from seqfusion.quantiles import check_levels, check_quantiles

    _check_horizon(horizon)
    Options.unknown(options)
    qs = tuple(float(q) for q in check_quantiles(quantiles)) if quantiles is not None else None
    levels = tuple(check_levels(level)) if level is not None else None
    if "unique_id" not in ddf.columns and ddf.index.name == "unique_id":
        ddf = ddf.reset_index()  # set_index("unique_id") output: grouped by construction
    meta = output_meta(ddf._meta, qs, levels)
    extra = [c for c in ddf.columns if c not in LONG_COLUMNS]
    if extra and X_df is None:
        raise SeqFusionError(f"unknown column(s) in long input: {', '.join(map(str, extra))} (covariates need "
                             "their future values: X_df)")
    if X_df is not None:
        missing = [c for c in ("unique_id", "ds") if c not in X_df.columns]
        if missing:
            raise SeqFusionError(f"X_df needs columns unique_id and ds: missing {', '.join(missing)}")
        only = sorted({str(c) for c in X_df.columns if c not in ("unique_id", "ds")} ^ {str(c) for c in extra})
        if only:
            raise SeqFusionError(f"covariate(s) {', '.join(only)} in only one of the history and X_df")
    zoo_path = None if zoo is None else str(Path(zoo).resolve())
    opts = tuple(sorted((k, v) for k, v in options.items() if v is not None))
    _model(zoo_path, opts)  # fail here, on the client, for a bad zoo or option
    if not grouped:
        ddf = ddf.shuffle(on="unique_id")
    dtypes = meta.dtypes.to_dict()
    return ddf.map_partitions(_forecast_partition, horizon, zoo_path, opts, freq, dayfirst, date_format, dtypes,
                              qs, levels, X_df, meta=meta)


def read(path: str | Path, *, sep: str | None = None, decimal: str | None = None) -> Any:
    """A dask DataFrame of a Parquet file / folder or CSV file(s) (glob allowed). CSV:
    ``unique_id`` is read as text (ids such as ``007`` stay as written), ``y`` as float64,
    with the separator and decimal mark given or found in the first file (see
    :func:`seqfusion.files.csv_options`); Parquet keeps the stored types."""
    import dask.dataframe as dd

    p = str(path)
    if Path(p).is_dir() or p.lower().endswith((".parquet", ".pq")):
        return dd.read_parquet(p)
    import glob

    from seqfusion.files import csv_options

    first = sorted(glob.glob(p)) or [p]  # the dialect of the first file: the separator, decimal mark, ids as text
    options: dict[str, Any] = csv_options(first[0], sep, decimal) if Path(first[0]).is_file() else \
        {"sep": sep or ",", "decimal": decimal or "."}
    options["dtype"] = {"unique_id": str, "y": "float64"}
    return dd.read_csv(p, **options)


# the files of a Parquet folder written by :func:`write_parquet` (dask's part files and
# summary files): the only files ``overwrite=True`` removes
_OUTPUT_FILE = re.compile(r"part\.\d+\.parquet|_metadata|_common_metadata")


def _input_paths(ddf: Any, inputs: Iterable[str | Path]) -> list[Path]:
    """``inputs`` (globs expanded) and the Parquet paths ``ddf`` reads, absolute; each also
    with its symlinks resolved."""
    names = [str(p) for p in inputs]
    if ddf is not None:
        try:
            from dask.dataframe.dask_expr.io.parquet import ReadParquet

            for op in ddf.expr.find_operations(ReadParquet):
                paths = op.path if isinstance(op.path, (list, tuple)) else [op.path]
                names += [str(p) for p in paths]
        except (ImportError, AttributeError):  # another dask layout: the given inputs only
            pass
    out: list[Path] = []
    for name in names:
        if "://" in name:
            continue  # remote storage: never inside a local output folder
        matches = glob.glob(name) if glob.has_magic(name) else [name]
        for m in matches:
            out += [Path(os.path.abspath(m)), Path(m).resolve()]
    return out


def _check_output_folder(output: str | Path, inputs: Iterable[Path] = (), overwrite: bool = False,
                        flag: str = "overwrite=True", what: str = "output") -> Path:
    """Check that the Parquet folder ``output`` may be written, before any work: it is not a
    file; its parent exists; it neither holds, is, nor lies inside one of ``inputs``
    (absolute paths; checked with symlinks resolved too); and it is missing, empty, or
    (with ``overwrite``) holds only Parquet part files and ``_metadata`` /
    ``_common_metadata`` (a previous output). Returns the folder, symlinks resolved."""
    out = Path(output).resolve()
    for src in inputs:
        if src == out or out in src.parents:
            raise SeqFusionError(f"{what} {output}: is or holds the input {src}; refusing to replace it")
        if src.is_dir() and src in out.parents:
            raise SeqFusionError(f"{what} {output}: lies inside the input folder {src}; choose a folder outside it")
    if out.exists() and not out.is_dir():
        raise SeqFusionError(f"{what} {output}: exists and is not a folder (--engine dask writes a Parquet folder)")
    if not out.parent.is_dir():
        raise SeqFusionError(f"{what} {output}: folder {out.parent} does not exist")
    if out.is_dir():
        entries = sorted(os.scandir(out), key=lambda e: e.name)
        if entries and not overwrite:
            raise SeqFusionError(f"{what} {output}: folder exists and is not empty ({flag} replaces a previous "
                                 "forecast folder)")
        foreign = [e.name for e in entries
                   if e.is_symlink() or not e.is_file() or not _OUTPUT_FILE.fullmatch(e.name)]
        if foreign:
            raise SeqFusionError(f"{what} {output}: holds {foreign[0]!r}, not a file of a seqfusion forecast "
                                 "folder; refusing to replace it")
    if not os.access(out.parent, os.W_OK):
        raise SeqFusionError(f"{what} {output}: folder {out.parent} is not writable")
    return out


def _remove_tree(path: Path) -> None:
    """Remove a temporary folder; again when a worker still finishing its task created a
    file in it meanwhile (once the folder is gone, no task can write into it)."""
    for _ in range(50):
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            return
        time.sleep(0.1)


def _remove_output(old: Path) -> None:
    """Remove a replaced output folder: only its Parquet part / metadata files; a folder
    that gained other files meanwhile is kept (with a warning)."""
    try:
        for entry in os.scandir(old):
            if _OUTPUT_FILE.fullmatch(entry.name) and entry.is_file() and not entry.is_symlink():
                os.unlink(entry.path)
        os.rmdir(old)
    except OSError as exc:
        warnings.warn(f"kept the replaced output folder {old} ({exc.strerror or exc})", stacklevel=3)


def write_parquet(ddf: Any, output: str | Path, overwrite: bool = False, *,
                  inputs: Iterable[str | Path] = (), flag: str = "overwrite=True", what: str = "output") -> Path:
    """Compute ``ddf`` into the Parquet folder ``output`` atomically: into a temporary
    folder beside it, renamed at the end; on any error or interrupt the temporary folder is
    removed and ``output`` is left as it was.

    Removes no file it did not write: ``output`` must be missing or empty, or (with
    ``overwrite``) hold only Parquet part files (``part.0.parquet`` ...) and ``_metadata`` /
    ``_common_metadata``, i.e. be a previous output; those files are what ``overwrite``
    replaces. A folder holding anything else is refused, and so is an ``output`` that
    holds, is, or lies inside an input (``inputs``: paths the computation reads, globs
    allowed; the Parquet paths of ``ddf`` are found by themselves), even with
    ``overwrite``. Returns the folder written, symlinks resolved."""
    sources = _input_paths(ddf, inputs)
    out = _check_output_folder(output, sources, overwrite, flag, what)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        ddf.to_parquet(str(tmp), write_index=False)
        _check_output_folder(output, sources, overwrite, flag, what)  # again: the folder may have changed
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.replace(out, old)  # onto the empty folder just made: a free name
            try:
                os.replace(tmp, out)
            except BaseException:
                os.replace(old, out)
                raise
            _remove_output(old)
        else:
            os.replace(tmp, out)
    except BaseException:
        _remove_tree(tmp)
        raise
    return out


def _distributed_loggers() -> list[logging.Logger]:
    names = ["distributed", "asyncio"] + [n for n in logging.root.manager.loggerDict
                                          if n.startswith("distributed.")]
    return [logging.getLogger(n) for n in names]


@contextlib.contextmanager
def _quiet_distributed() -> Iterator[None]:
    """Silence the ``distributed`` (and ``asyncio``) loggers of this process for the block
    (a failed task, an interrupted gather, a closing cluster: the error reaches the caller
    as an exception instead)."""
    saved = [(lg, lg.level) for lg in _distributed_loggers()]
    for lg, _ in saved:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        gc.collect()  # an interrupted gather's tasks report "exception never retrieved" when collected
        for lg, level in saved:
            lg.setLevel(level)


@contextlib.contextmanager
def _ignoring_interrupts() -> Iterator[None]:
    """Ignore SIGINT for the block (main thread only). Processes started meanwhile inherit
    the setting: a Ctrl-C in the terminal (sent to the whole process group) then reaches
    only this process, which stops the cluster itself, instead of each worker printing its
    traceback. A Ctrl-C during the block (a cluster start or stop) is dropped."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        if previous is not None:  # None: a handler not installed from Python, left ignoring
            signal.signal(signal.SIGINT, previous)


def forecast_cli(args: argparse.Namespace) -> int:
    """``seqfusion forecast INPUT --engine dask [--workers N | --scheduler ADDRESS] -o FOLDER
    [--overwrite]``."""
    import importlib

    from seqfusion.cli import settings

    if not Path(args.input).exists():
        raise SeqFusionError(f"{args.input}: file not found")
    inputs = [args.input]
    _check_output_folder(args.output, _input_paths(None, inputs), args.overwrite, "--overwrite", "--output")
    distributed: Any = importlib.import_module("distributed")  # untyped package: one Any
    Client, LocalCluster = distributed.Client, distributed.LocalCluster

    client: Any = None
    cluster: Any = None
    with _quiet_distributed():
        try:
            if args.scheduler:
                client = Client(args.scheduler)
            else:
                from seqfusion.engine import usable_cpus

                with _ignoring_interrupts():  # the workers inherit it
                    cluster = LocalCluster(n_workers=args.workers or usable_cpus(), threads_per_worker=1,
                                           processes=True, silence_logs=logging.CRITICAL + 1,
                                           dashboard_address=":0", scheduler_kwargs={"dashboard": False})
                client = Client(cluster)
            with client.as_current():  # this cluster, even inside another client's context
                ddf = read(args.input, sep=getattr(args, "sep", None), decimal=getattr(args, "decimal", None))
                future = None
                if getattr(args, "future", None):
                    from seqfusion.covariates import read_future

                    future = read_future(args.future, getattr(args, "sep", None), getattr(args, "decimal", None),
                                         args.dayfirst, args.date_format)
                out = forecast(ddf, args.horizon, args.zoo, freq=args.freq, grouped=False, dayfirst=args.dayfirst,
                               date_format=args.date_format, quantiles=args.quantiles, level=args.level,
                               X_df=future, **settings(args))
                write_parquet(out, args.output, args.overwrite, inputs=inputs, flag="--overwrite", what="--output")
        except Exception as exc:
            if type(exc).__module__.split(".")[0] in ("distributed", "tornado"):  # the cluster, not the data
                raise SeqFusionError(f"the Dask cluster failed: {type(exc).__name__}: {exc}") from None
            raise
        finally:
            with _ignoring_interrupts():  # a second Ctrl-C must not cut the shutdown short
                if client is not None:
                    client.close(timeout=20)
                if cluster is not None:
                    cluster.close(timeout=20)
    return 0
