"""Reading and writing tables of series (CSV, Parquet) safely.

Reads give a one-line SeqFusionError for a missing, unreadable or empty file. Writes go to
a temporary file beside the target and are renamed over it at the end, so an interrupted
write never leaves a file that looks complete; an output may never be one of the inputs.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd

from seqfusion.errors import SeqFusionError

PARQUET_SUFFIXES = (".parquet", ".pq")


def is_parquet(path: str | Path) -> bool:
    """Whether ``path`` names a Parquet file (by its extension)."""
    return Path(path).suffix.lower() in PARQUET_SUFFIXES


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet (``.parquet``/``.pq``) file of series."""
    p = Path(path)
    if not p.exists():
        raise SeqFusionError(f"{path}: file not found")
    if p.is_dir() and not is_parquet(p):
        raise SeqFusionError(f"{path}: is a directory, not a file")
    try:
        df = pd.read_parquet(p) if is_parquet(p) else pd.read_csv(p)
    except ImportError:
        raise SeqFusionError("reading Parquet needs pyarrow: pip install 'seqfusion[parquet]'") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SeqFusionError(f"{path}: cannot read as {'Parquet' if is_parquet(p) else 'CSV'} ({first})") from None
    if df.empty:
        raise SeqFusionError(f"{path}: no data rows")
    return df


def check_output(path: str | Path, inputs: Iterable[str | Path] = (), what: str = "output",
                 suffixes: Iterable[str] | None = None) -> Path:
    """Check, before any work is done, that ``path`` can be written: its folder exists, it
    is not a folder, not one of ``inputs``, and (when given) has one of ``suffixes``."""
    p = Path(path)
    if p.is_dir():
        raise SeqFusionError(f"{what} {path}: is a directory; give a file name")
    if not p.parent.is_dir():
        raise SeqFusionError(f"{what} {path}: folder {p.parent} does not exist")
    for src in inputs:
        if _same_file(p, Path(src)):
            raise SeqFusionError(f"{what} {path}: is the input file; refusing to overwrite it")
    if suffixes is not None:
        ok = tuple(s.lower() for s in suffixes)
        if p.suffix.lower() not in ok:
            raise SeqFusionError(f"{what} {path}: unsupported file type {p.suffix or '(none)'!r} "
                                 f"(use one of {', '.join(ok)})")
    if p.exists() and p.is_file() and not os.access(p, os.W_OK):
        raise SeqFusionError(f"{what} {path}: not writable")
    if not p.exists() and not os.access(p.parent, os.W_OK):
        raise SeqFusionError(f"{what} {path}: folder {p.parent} is not writable")
    return p


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return a.samefile(b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def write_atomic(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file in ``path``'s folder, then rename it to
    ``path``. A target that exists and is not a regular file (a device such as
    ``/dev/stdout``) is written directly. OSError becomes a one-line SeqFusionError."""
    p = Path(path)
    try:
        if p.exists() and not p.is_file():
            write(p)
            return p
        fd, tmp_name = tempfile.mkstemp(prefix=f".{p.name}.", suffix=f".tmp{p.suffix}", dir=p.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as a plain open() would create it, not mkstemp's 0600
        try:
            write(tmp)
            os.replace(tmp, p)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise SeqFusionError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return p


def write_table(df: pd.DataFrame, path: str | Path, index: bool = False, index_label: str | None = None
                ) -> Path:
    """Write ``df`` atomically as Parquet (by extension) or CSV."""
    def write(target: Path) -> None:
        if is_parquet(path):
            try:
                frame = df.reset_index(names=index_label) if index else df
                frame.to_parquet(target, index=False)
            except ImportError:
                raise SeqFusionError("writing Parquet needs pyarrow: pip install 'seqfusion[parquet]'") from None
        else:
            with open(target, "w", newline="") as fh:
                df.to_csv(fh, index=index, index_label=index_label)
                fh.flush()

    return write_atomic(path, write)
