"""Forecasting long-format files (``unique_id, ds, y``) chunk by chunk, in bounded memory.

:func:`forecast_file` reads a CSV or Parquet file (or a folder of Parquet files) in chunks
of whole series, forecasts each chunk with :meth:`SeqFusion.predict` and appends the result
to the output as it goes, so peak memory is set by ``chunk_size`` (series per chunk), not
by the input. The forecast of a series depends only on that series, so the chunked output
holds exactly the rows an in-memory run gives.

How the input is read:

1. A first pass reads only ``unique_id`` (block by block) and counts rows and distinct ids
   (by 64-bit hash: 8 bytes per series), checks for empty ids, and finds out whether each
   id's rows are contiguous (a "grouped" file: sorted by id, or written series by series).
2. Grouped input (and any input with at most ``chunk_size`` series) is read once more,
   block by block, and cut into chunks at series boundaries. Output order: order of first
   appearance, as in memory.
3. Ungrouped input (an id whose rows are interleaved with others) is first partitioned:
   rows are hashed by id into ``ceil(series / chunk_size)`` (at most :data:`MAX_BUCKETS`)
   temporary bucket files beside the output (CSV text kept verbatim for CSV input, Parquet
   for Parquet input), then forecast bucket by bucket. This costs one more read and one
   write of the whole input, and disk space about the input's size. Output order: bucket
   by bucket, in order of first appearance within a bucket.

Parquet is read batch by batch without read-ahead, but pyarrow decodes a whole row group
at a time: memory is bounded by the larger of a chunk and a row group.

Writes go to a temporary file in the output's folder renamed at the end (see
:func:`seqfusion.files.write_atomic`), so an interrupted run leaves nothing that looks
complete. With ``on_error="skip"``, a series that :meth:`SeqFusion.predict` rejects on its
own (too short, all NaN, duplicate stamps, ...) is written to ``<output>.errors.csv``
(``unique_id, reason``) and the others are forecast; a chunk is split into halves only after
its call failed, so the fast path stays one call per chunk.
"""
from __future__ import annotations

import csv
import math
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from seqfusion.errors import SeqFusionError
from seqfusion.files import csv_options, is_parquet, write_atomic
from seqfusion.frames import LONG_COLUMNS, to_datetime
from seqfusion.preprocess import unusable, unusable_rows

if TYPE_CHECKING:
    from seqfusion.forecaster import SeqFusion

DEFAULT_CHUNK_SIZE = 10_000
MAX_BUCKETS = 512
ON_ERROR = ("fail", "skip")
_BLOCK_ROWS = 1_000_000  # rows read at a time (a chunk of series may span several blocks)


@dataclass
class Scan:
    """What the first pass over ``unique_id`` found."""

    rows: int
    series: int  # distinct ids (by 64-bit hash; a collision can only under-count)
    grouped: bool  # each id's rows are contiguous


@dataclass
class Summary:
    """What :func:`forecast_file` did."""

    series: int  # forecast
    skipped: int  # written to the errors file
    chunks: int
    grouped: bool
    buckets: int  # 0 when the input was grouped


def errors_path(output: str | Path) -> Path:
    """The side file of series that could not be forecast: ``<output>.errors.csv``."""
    return Path(f"{output}.errors.csv")


# ---------------------------------------------------------------------------- reading
@contextmanager
def _reading(path: str | Path) -> Iterator[None]:
    """Turn parser errors into a one-line SeqFusionError naming the file."""
    try:
        yield
    except ImportError:
        raise SeqFusionError("reading Parquet needs pyarrow: pip install 'seqfusion[parquet]'") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SeqFusionError(f"{path}: cannot read as {'Parquet' if is_parquet(path) else 'CSV'} ({first})") from None


def columns(path: str | Path, csv: dict[str, Any] | None = None) -> list[str]:
    """The column names of a CSV or Parquet file / folder (reads the header only; ``csv``:
    :func:`seqfusion.files.csv_options` of the file, found when None)."""
    with _reading(path):
        if is_parquet(path):  # pandas' stored index columns are not data
            return [c for c in _dataset(path).schema.names if not c.startswith("__index_level_")]
        sep = (csv or csv_options(path))["sep"]
        return [str(c) for c in pd.read_csv(path, nrows=0, sep=sep).columns]


def _dataset(path: str | Path) -> Any:
    import pyarrow.dataset as pads

    return pads.dataset(str(path), format="parquet")


def read_blocks(path: str | Path, block_rows: int, cols: list[str] | None = None, raw_text: bool = False,
                csv: dict[str, Any] | None = None) -> Iterator[pd.DataFrame]:
    """Rows of ``path`` as DataFrames of at most ``block_rows`` rows, in file order.

    ``cols``: columns to read (all when None). ``raw_text``: every CSV field as its text,
    verbatim (for re-writing rows unchanged). ``csv``: :func:`seqfusion.files.csv_options`
    of the file (found when None); ``unique_id`` is always read as text.
    """
    with _reading(path):
        if is_parquet(path):
            # no read-ahead beyond one batch: memory stays one row group + one block
            for batch in _dataset(path).to_batches(columns=cols, batch_size=block_rows, batch_readahead=1,
                                                   fragment_readahead=1):
                if batch.num_rows:
                    yield batch.to_pandas()
            return
        opts = csv or csv_options(path)
        kwargs: dict[str, Any] = {"chunksize": block_rows, "usecols": cols}
        if raw_text:
            kwargs.update(sep=opts["sep"], dtype=str, keep_default_na=False, na_filter=False)
        else:
            kwargs.update(opts)
        with pd.read_csv(path, **kwargs) as reader:
            for block in reader:
                if not isinstance(block.index, pd.RangeIndex):  # rows longer than the header
                    raise SeqFusionError(f"{path}: rows have more fields than the header: check the separator "
                                         "(--sep) and the decimal mark (--decimal)")
                yield block


def scan(path: str | Path, block_rows: int = _BLOCK_ROWS, csv: dict[str, Any] | None = None) -> Scan:
    """First pass: read only ``unique_id``; count rows and ids; are the ids grouped?

    Raises SeqFusionError for empty ids (as the in-memory parser does) or no rows.
    Memory: one block plus 8 bytes per distinct id.
    """
    rows = 0
    seen = np.empty(0, dtype=np.uint64)  # sorted hashes of the ids met so far
    grouped = True
    last: Any = None
    missing, first_missing = 0, -1
    for block in read_blocks(path, block_rows, ["unique_id"], csv=csv):
        col = block["unique_id"]
        if not len(col):
            continue
        na = col.isna().to_numpy()
        if na.any():
            if first_missing < 0:
                first_missing = rows + int(np.argmax(na))
            missing += int(na.sum())
            rows += len(col)
            continue
        ids = col.to_numpy()
        change = np.ones(len(ids), dtype=bool)
        change[1:] = ids[1:] != ids[:-1]
        if rows and last is not None and _same_id(ids[0], last):
            change[0] = False
        starts = pd.Index(ids[change]).astype(str)
        h = pd.util.hash_array(np.asarray(starts, dtype=object))
        uniq = np.unique(h)
        if grouped and (len(uniq) < len(h) or np.isin(uniq, seen, assume_unique=True).any()):
            grouped = False
        seen = np.union1d(seen, uniq)
        rows += len(ids)
        last = ids[-1]
    if missing:
        raise SeqFusionError(f"column 'unique_id' has {missing} empty value(s) (first at row {first_missing})")
    if rows == 0:
        raise SeqFusionError(f"{path}: no data rows")
    return Scan(rows, len(seen), grouped)


def _same_id(a: Any, b: Any) -> bool:
    return str(a) == str(b)


def group_chunks(blocks: Iterable[pd.DataFrame], chunk_size: int) -> Iterator[pd.DataFrame]:
    """Cut blocks of rows whose ids are grouped into chunks of ``chunk_size`` whole series
    (the last one may hold fewer). Each chunk is a fresh DataFrame with a RangeIndex."""
    buf: pd.DataFrame | None = None
    for block in blocks:
        buf = block if buf is None else pd.concat([buf, block], ignore_index=True)
        while True:
            starts = _run_starts(buf["unique_id"].to_numpy())
            if len(starts) <= chunk_size:  # the last series may go on in the next block
                break
            cut = int(starts[chunk_size])
            yield buf.iloc[:cut].reset_index(drop=True)
            buf = buf.iloc[cut:].reset_index(drop=True)
    while buf is not None and len(buf):
        starts = _run_starts(buf["unique_id"].to_numpy())
        if len(starts) <= chunk_size:
            yield buf.reset_index(drop=True)
            break
        cut = int(starts[chunk_size])
        yield buf.iloc[:cut].reset_index(drop=True)
        buf = buf.iloc[cut:]


def _run_starts(ids: np.ndarray) -> np.ndarray:
    """Row positions where a new id starts (``[n_runs]``, the first is 0)."""
    change = np.ones(len(ids), dtype=bool)
    change[1:] = ids[1:] != ids[:-1]
    return np.flatnonzero(change)


def _bucket_of(ids: pd.Series, n: int) -> np.ndarray:
    """Bucket number ``[rows]`` of each id (hash of its text, so dtype does not matter)."""
    text = np.asarray(pd.Index(ids.to_numpy()).astype(str), dtype=object)
    return (pd.util.hash_array(text) % np.uint64(n)).astype(np.int64)


def partition(path: str | Path, n_buckets: int, folder: Path, block_rows: int,
              csv: dict[str, Any] | None = None, cols: list[str] | None = None) -> list[Path]:
    """Hash every row of ``path`` by ``unique_id`` into ``n_buckets`` files in ``folder``.

    CSV rows are copied as text, so reading a bucket gives the values reading the input
    would; Parquet rows keep the file's schema. Returns the bucket files that got rows.
    """
    parquet = is_parquet(path)
    sep = "," if parquet else (csv or csv_options(path))["sep"]
    names = [folder / f"bucket{b:04d}.{'parquet' if parquet else 'csv'}" for b in range(n_buckets)]
    writers: dict[int, Any] = {}
    try:
        for block in read_blocks(path, block_rows, cols or list(LONG_COLUMNS), raw_text=not parquet, csv=csv):
            bucket = _bucket_of(block["unique_id"], n_buckets)
            order = np.argsort(bucket, kind="stable")
            sb = bucket[order]
            bounds = np.flatnonzero(np.diff(sb)) + 1
            for part in np.split(order, bounds):
                if not len(part):
                    continue
                b = int(bucket[part[0]])
                rows = block.iloc[part]
                if parquet:
                    import pyarrow as pa
                    import pyarrow.parquet as pq

                    table = pa.Table.from_pandas(rows, preserve_index=False)
                    if b not in writers:
                        writers[b] = pq.ParquetWriter(names[b], table.schema)
                    writers[b].write_table(table.cast(writers[b].schema))
                else:
                    if b not in writers:
                        writers[b] = open(names[b], "w", newline="")
                        rows.iloc[:0].to_csv(writers[b], index=False, sep=sep)
                    rows.to_csv(writers[b], index=False, header=False, sep=sep)
    finally:
        for w in writers.values():
            w.close()
    return [names[b] for b in sorted(writers)]


def _bucket_blocks(files: list[Path], csv: dict[str, Any] | None) -> Iterator[pd.DataFrame]:
    """Each bucket file read whole, its rows ordered so each id's rows are contiguous
    (ids in order of first appearance, rows of an id in file order)."""
    for f in files:
        with _reading(f):
            if is_parquet(f):
                df = pd.read_parquet(f)
            else:
                df = pd.read_csv(f, **(csv or csv_options(f)))
        codes, _ = pd.factorize(df["unique_id"], sort=False)
        yield df.iloc[np.argsort(codes, kind="stable")].reset_index(drop=True)


# ---------------------------------------------------------------------------- dates
class DateReader:
    """Reads the ``ds`` column of each chunk as the in-memory CLI does (``to_datetime``),
    deciding month-first / day-first once, on the first chunk of non-ISO text dates, and
    keeping that reading for every later chunk."""

    def __init__(self, dayfirst: bool | None, date_format: str | None) -> None:
        self.dayfirst = dayfirst
        self.date_format = date_format
        self._decided = dayfirst is not None or date_format is not None

    def __call__(self, df: pd.DataFrame) -> pd.DataFrame:
        """``df`` with ``ds`` as time stamps (numeric ``ds`` is kept as it is)."""
        col = df["ds"]
        if pd.api.types.is_numeric_dtype(col):
            return df
        stamps = to_datetime(col, "ds", self.dayfirst, self.date_format)
        if not self._decided and not pd.api.types.is_datetime64_any_dtype(col):
            from seqfusion.frames import _iso, _read_dates

            if _iso(col.iloc[:1000]) is None:
                try:
                    month_first = _read_dates(col, "ds", dayfirst=False)
                    self.dayfirst = not month_first.equals(stamps)
                except SeqFusionError:
                    self.dayfirst = True
            self._decided = True
        df = df.copy(deep=False)
        df["ds"] = stamps
        return df


# ---------------------------------------------------------------------------- writing
class ChunkWriter:
    """Appends forecast chunks to a CSV text stream or a Parquet file."""

    def __init__(self, target: Path | IO[str], parquet: bool) -> None:
        self.target = target
        self.parquet = parquet
        self._writer: Any = None
        self._header = True
        self._fh: IO[str] | None = None
        if not parquet:
            self._fh = target if not isinstance(target, Path) else open(target, "w", newline="")  # noqa: SIM115

    def write(self, df: pd.DataFrame) -> None:
        """Append one chunk ``[rows, columns]`` (the first sets the header / schema)."""
        if self.parquet:
            import pyarrow as pa
            import pyarrow.parquet as pq

            if self._writer is None:
                table = pa.Table.from_pandas(df, preserve_index=False)
                self._writer = pq.ParquetWriter(self.target, table.schema)
            else:
                table = pa.Table.from_pandas(df, schema=self._writer.schema, preserve_index=False)
            self._writer.write_table(table)
        else:
            assert self._fh is not None
            df.to_csv(self._fh, index=False, header=self._header)
            self._header = False

    def close(self, empty: pd.DataFrame) -> None:
        """Finish the file (``empty``: the header written when no chunk came)."""
        if self._header and self._writer is None:
            self.write(empty)
        if self._writer is not None:
            self._writer.close()
        if self._fh is not None:
            self._fh.flush()
            if isinstance(self.target, Path):
                self._fh.close()


# ---------------------------------------------------------------------------- forecasting
def predict_chunk(model: SeqFusion, chunk: pd.DataFrame, horizon: int, freq: Any, on_error: str,
                  errors: list[tuple[Any, str]], quantiles: Sequence[float] | None = None,
                  level: Sequence[float] | None = None, future: pd.DataFrame | None = None) -> pd.DataFrame | None:
    """Forecast one chunk of whole series ``[rows, 3]`` -> ``[series * H, 3 + extra]``
    (``quantiles`` / ``level``: quantile and interval columns, as
    :meth:`SeqFusion.predict_quantiles` and :meth:`SeqFusion.predict` add them; ``future``:
    the covariates' future values of every series, the chunk's rows are passed as ``X_df``).

    With ``on_error="skip"`` a failing chunk is split in halves (by series, keeping their
    order) until the series that fail alone are found; they go to ``errors`` as
    ``(unique_id, reason)`` and the rest is forecast. Returns None when nothing was.
    """
    if not (pd.api.types.is_numeric_dtype(chunk["y"]) or pd.api.types.is_bool_dtype(chunk["y"])):
        raise SeqFusionError(f"column 'y' must be numeric, got {chunk['y'].dtype}")  # not one series' fault
    if on_error == "skip":
        chunk = _screen(chunk, model.min_length, errors)
        if not len(chunk):
            return None
    try:
        X_df = None
        if future is not None:
            from seqfusion.covariates import future_rows

            X_df = future_rows(future, chunk["unique_id"])
        if quantiles:
            out = model.predict_quantiles(chunk, horizon, quantiles=quantiles, freq=freq, level=level, X_df=X_df)
        else:
            out = model.predict(chunk, horizon, freq=freq, level=level, X_df=X_df)
        return out
    except SeqFusionError as exc:
        if on_error != "skip":
            raise
        codes, ids = pd.factorize(chunk["unique_id"], sort=False)
        if len(ids) == 1:
            errors.append((ids[0], _one_line(exc)))
            return None
        half = len(ids) // 2
        parts = [predict_chunk(model, chunk[mask].reset_index(drop=True), horizon, freq, on_error, errors,
                               quantiles, level, future)
                 for mask in (codes < half, codes >= half)]
        done = [p for p in parts if p is not None]
        return pd.concat(done, ignore_index=True) if done else None


def _screen(chunk: pd.DataFrame, min_length: int, errors: list[tuple[Any, str]]) -> pd.DataFrame:
    """``chunk`` without the series that cannot be forecast for their values alone (inf,
    fewer than ``min_length`` finite points), which go to ``errors`` with the reason the
    forecaster gives: one vectorised pass instead of a failed call per such series."""
    vals = chunk["y"].to_numpy(dtype=np.float64, na_value=np.nan)
    codes, ids = pd.factorize(chunk["unique_id"], sort=False)
    finite = np.bincount(codes, weights=np.isfinite(vals), minlength=len(ids)).astype(np.int64)
    inf = np.bincount(codes, weights=np.isinf(vals), minlength=len(ids)) > 0
    bad = unusable_rows(finite, inf, min_length)
    if not bad.any():
        return chunk
    for i in np.flatnonzero(bad):
        errors.append((ids[i], str(unusable(ids[i], int(finite[i]), bool(inf[i]), min_length))))
    return chunk[~bad[codes]].reset_index(drop=True)


def _one_line(msg: Any) -> str:
    lines = str(msg).strip().splitlines()
    return lines[0] if lines else type(msg).__name__


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt (so temporary files are removed) while inside."""
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def forecast_file(model: SeqFusion, path: str | Path, output: str | Path | None, horizon: int, *,
                  freq: Any = None, chunk_size: int = DEFAULT_CHUNK_SIZE, on_error: str = "fail",
                  dayfirst: bool | None = None, date_format: str | None = None,
                  progress: bool | None = None, block_rows: int | None = None,
                  warn: Callable[[str], None] | None = None, quantiles: Sequence[float] | None = None,
                  level: Sequence[float] | None = None, sep: str | None = None,
                  decimal: str | None = None, future: pd.DataFrame | None = None) -> Summary:
    """Forecast every series of a long-format file into ``output`` chunk by chunk.

    ``output``: a ``.parquet``/``.pq`` file, any other name for CSV, or None / ``"-"`` for
    CSV on stdout (written as it goes). ``chunk_size``: series per :meth:`SeqFusion.predict`
    call. ``on_error``: ``"fail"`` (the first error stops the run, nothing is kept) or
    ``"skip"`` (see the module doc; the reasons go to ``<output>.errors.csv``, or to
    ``warn`` for stdout). ``progress``: a tqdm bar on stderr (None: when stderr is a
    terminal). ``block_rows``: rows read at a time (None: from the chunk size and the
    mean series length). ``quantiles`` / ``level``: also write quantile / interval columns.
    ``sep`` / ``decimal``: the CSV separator and decimal mark (found in the file when None).
    ``future``: the covariates' future values (``unique_id, ds, <covariates>``, see
    :mod:`seqfusion.covariates`) when the file's extra columns are covariates.
    """
    if on_error not in ON_ERROR:
        raise SeqFusionError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise SeqFusionError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    csv = None if is_parquet(path) else csv_options(path, sep, decimal)
    cols = columns(path, csv)
    missing = set(LONG_COLUMNS) - set(cols)
    if missing:
        raise SeqFusionError(f"{path}: long format needs columns unique_id, ds, y (missing {sorted(missing)})")
    extra = [c for c in cols if c not in LONG_COLUMNS]
    if extra and future is None:
        raise SeqFusionError(f"unknown column(s) in long input: {', '.join(map(str, extra))} (covariates need "
                             "their future values: --future)")
    read_cols = list(LONG_COLUMNS) + (extra if future is not None else [])
    found = scan(path, csv=csv)
    mean_len = max(1, math.ceil(found.rows / max(found.series, 1)))
    rows_per_block = block_rows or max(10_000, min(_BLOCK_ROWS, chunk_size * mean_len))
    to_stdout = output is None or str(output) == "-"
    parquet_out = not to_stdout and is_parquet(str(output))
    if progress is None:
        progress = sys.stderr.isatty()
    errors: list[tuple[Any, str]] = []
    summary = Summary(0, 0, 0, found.grouped, 0)
    dates = DateReader(dayfirst, date_format)

    def run(target: Path | IO[str], tmp_folder: Path) -> None:
        from tqdm import tqdm

        if found.grouped or found.series <= chunk_size:
            blocks = read_blocks(path, rows_per_block, read_cols, csv=csv)
            if not found.grouped:  # one chunk: the whole file, in memory as before
                blocks = _bucket_blocks_in_memory(blocks)
        else:
            n = min(MAX_BUCKETS, math.ceil(found.series / chunk_size))
            files = partition(path, n, tmp_folder, rows_per_block, csv, read_cols)
            summary.buckets = n
            blocks = _bucket_blocks(files, csv)
        writer = ChunkWriter(target, parquet_out)
        empty: pd.DataFrame | None = None
        with tqdm(total=found.series, unit="series", disable=not progress, file=sys.stderr,
                  dynamic_ncols=True, smoothing=0.1) as bar:
            for chunk in group_chunks(blocks, chunk_size):
                n_ids = int(chunk["unique_id"].nunique())
                fc = predict_chunk(model, dates(chunk), horizon, freq, on_error, errors, quantiles, level, future)
                if fc is not None:
                    writer.write(fc)
                    summary.series += fc["unique_id"].nunique()
                    if empty is None:
                        empty = fc.iloc[:0]
                summary.chunks += 1
                bar.update(n_ids)
        writer.close(empty if empty is not None else pd.DataFrame({c: [] for c in LONG_COLUMNS}))
        summary.skipped = len(errors)

    where = Path(output).parent if output is not None and not to_stdout else None
    with _sigterm_interrupts(), tempfile.TemporaryDirectory(prefix=".seqfusion-buckets-", dir=where) as tmp:
        tmp_folder = Path(tmp)
        if to_stdout:
            run(sys.stdout, tmp_folder)
            if warn is not None:
                for uid, reason in errors:
                    warn(f"series {uid!r} not forecast: {reason}")
        elif on_error == "skip":
            side = errors_path(str(output))

            def write_both(tmp_out: Path) -> None:
                run(tmp_out, tmp_folder)
                write_atomic(side, lambda t: _write_errors(t, errors))

            write_atomic(str(output), write_both)
        else:
            write_atomic(str(output), lambda t: run(t, tmp_folder))
    return summary


def _bucket_blocks_in_memory(blocks: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """All blocks as one frame with each id's rows made contiguous (small ungrouped input)."""
    df = pd.concat(list(blocks), ignore_index=True)
    codes, _ = pd.factorize(df["unique_id"], sort=False)
    yield df.iloc[np.argsort(codes, kind="stable")].reset_index(drop=True)


def _write_errors(target: Path, errors: list[tuple[Any, str]]) -> None:
    with open(target, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["unique_id", "reason"])
        w.writerows(errors)
        fh.flush()
        os.fsync(fh.fileno())
