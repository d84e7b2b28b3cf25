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

Nothing in the core imports this module; dask is imported when a function here runs.
"""
from __future__ import annotations

import os
import shutil
import tempfile
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
                        freq: Any, dayfirst: bool | None, date_format: str | None, dtypes: dict[str, Any]
                        ) -> pd.DataFrame:
    """One partition ``[rows, 3]`` -> its forecasts ``[series * H, 3]`` with ``dtypes``."""
    meta = pd.DataFrame({c: pd.Series([], dtype=d) for c, d in dtypes.items()})
    if len(part) == 0:
        return meta.iloc[:0]
    part = part[list(LONG_COLUMNS)].reset_index(drop=True)
    if not pd.api.types.is_numeric_dtype(part["ds"]) and not pd.api.types.is_datetime64_any_dtype(part["ds"]):
        from seqfusion.frames import to_datetime

        part["ds"] = to_datetime(part["ds"], "ds", dayfirst, date_format)
    out = _model(zoo, options).predict(part, horizon, freq=freq)
    if pd.api.types.is_datetime64_any_dtype(out["ds"]) and not isinstance(meta["ds"].dtype, pd.DatetimeTZDtype) \
            and isinstance(out["ds"].dtype, pd.DatetimeTZDtype):
        raise SeqFusionError("zone-aware text dates: convert 'ds' with dask.dataframe.to_datetime(utc=True) first")
    return out.astype(meta.dtypes.to_dict())


def output_meta(meta: pd.DataFrame) -> pd.DataFrame:
    """The empty forecast frame for input ``meta`` (``unique_id`` and ``ds`` keep their
    dtypes, ``y`` is float64; text ``ds`` becomes ``datetime64[ns]``)."""
    missing = set(LONG_COLUMNS) - set(meta.columns)
    if missing:
        raise SeqFusionError(f"long format needs columns unique_id, ds, y (missing {sorted(missing)})")
    ds = meta["ds"].dtype
    if not (pd.api.types.is_numeric_dtype(ds) or pd.api.types.is_datetime64_any_dtype(ds)):
        ds = "datetime64[ns]"
    return pd.DataFrame({"unique_id": pd.Series([], dtype=meta["unique_id"].dtype),
                         "ds": pd.Series([], dtype=ds), "y": pd.Series([], dtype="float64")})


def forecast(ddf: Any, horizon: int, zoo: str | Path | None = None, *, freq: Any = None, grouped: bool = False,
             dayfirst: bool | None = None, date_format: str | None = None, **options: Any) -> Any:
    """Forecast every series of a dask DataFrame ``ddf`` (long: ``unique_id, ds, y``).

    Returns a lazy dask DataFrame of forecasts (``unique_id, ds, y``; ``series * H`` rows),
    one output partition per input partition, series in order of first appearance inside
    each. ``zoo``: zoo folder readable at the same path on every worker (None: the shipped
    default zoo). ``grouped``: True when every series already lies inside one partition;
    else the rows are shuffled by ``unique_id`` first (a full shuffle of the input).
    ``options``: :meth:`SeqFusion.from_pretrained` settings (``k``, ``fusion``, ...).
    ``ds`` as text is parsed per partition (give ``dayfirst`` / ``date_format`` for
    non-ISO dates).
    """
    from seqfusion.forecaster import OPTIONS, _check_horizon

    _check_horizon(horizon)
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise SeqFusionError(f"unknown option(s): {', '.join(unknown)} (known: {', '.join(OPTIONS)})")
    if "unique_id" not in ddf.columns and ddf.index.name == "unique_id":
        ddf = ddf.reset_index()  # set_index("unique_id") output: grouped by construction
    meta = output_meta(ddf._meta)
    extra = [c for c in ddf.columns if c not in LONG_COLUMNS]
    if extra:
        raise SeqFusionError(f"unknown column(s) in long input: {', '.join(map(str, extra))}")
    zoo_path = None if zoo is None else str(Path(zoo).resolve())
    opts = tuple(sorted((k, v) for k, v in options.items() if v is not None))
    _model(zoo_path, opts)  # fail here, on the client, for a bad zoo or option
    if not grouped:
        ddf = ddf.shuffle(on="unique_id")
    dtypes = meta.dtypes.to_dict()
    return ddf.map_partitions(_forecast_partition, horizon, zoo_path, opts, freq, dayfirst, date_format, dtypes,
                              meta=meta)


def read(path: str | Path) -> Any:
    """A dask DataFrame of a Parquet file / folder or CSV file(s) (glob allowed)."""
    import dask.dataframe as dd

    p = str(path)
    if Path(p).is_dir() or p.lower().endswith((".parquet", ".pq")):
        return dd.read_parquet(p)
    return dd.read_csv(p)


def write_parquet(ddf: Any, output: str | Path) -> Path:
    """Compute ``ddf`` into the Parquet folder ``output`` atomically: into a temporary
    folder beside it, renamed at the end (an old ``output`` folder is replaced)."""
    out = Path(output)
    if out.exists() and not out.is_dir():
        raise SeqFusionError(f"--output {output}: exists and is not a folder (--engine dask writes a Parquet folder)")
    if not out.parent.is_dir():
        raise SeqFusionError(f"--output {output}: folder {out.parent} does not exist")
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        ddf.to_parquet(str(tmp), write_index=False)
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def forecast_cli(args: argparse.Namespace) -> int:
    """``seqfusion forecast INPUT --engine dask [--workers N | --scheduler ADDRESS] -o FOLDER``."""
    import importlib
    import logging

    distributed: Any = importlib.import_module("distributed")  # untyped package: one Any
    Client, LocalCluster = distributed.Client, distributed.LocalCluster

    if Path(args.output).resolve() == Path(args.input).resolve():
        raise SeqFusionError(f"--output {args.output}: is the input; refusing to overwrite it")
    if not Path(args.input).exists():
        raise SeqFusionError(f"{args.input}: file not found")
    if args.scheduler:
        client = Client(args.scheduler)
        cluster = None
    else:
        from seqfusion.engine import usable_cpus

        cluster = LocalCluster(n_workers=args.workers or usable_cpus(), threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
    logging.getLogger("distributed").setLevel(logging.ERROR)
    try:
        ddf = read(args.input)
        out = forecast(ddf, args.horizon, args.zoo, freq=args.freq, grouped=False, dayfirst=args.dayfirst,
                       date_format=args.date_format, k=args.k, fusion=args.fusion, selection=args.selection,
                       normalization=args.normalization, router_temperature=args.router_temperature,
                       history=args.history, exact=args.exact)
        write_parquet(out, args.output)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return 0
