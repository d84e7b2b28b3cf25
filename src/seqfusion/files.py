"""Reading and writing tables of series (CSV, Parquet) safely.

Reads give a one-line SeqFusionError for a missing, unreadable or empty file. Writes go to
a temporary file beside the target and are renamed over it at the end, so an interrupted
write never leaves a file that looks complete; an output may never be one of the inputs.
"""
from __future__ import annotations

import csv
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd
from pandas._libs.parsers import STR_NA_VALUES

from seqfusion.errors import SeqFusionError

PARQUET_SUFFIXES = (".parquet", ".pq")


def is_parquet(path: str | Path) -> bool:
    """Whether ``path`` names a Parquet file (by its extension)."""
    return Path(path).suffix.lower() in PARQUET_SUFFIXES


CSV_SEPARATORS = (",", ";", "\t", "|")
_SAMPLE_BYTES = 1 << 16


def csv_options(path: str | Path, sep: str | None = None, decimal: str | None = None) -> dict[str, Any]:
    """``pd.read_csv`` keywords for the CSV file ``path``: its separator and decimal mark,
    numbers read exactly as written (pandas 2: ``float_precision="round_trip"``, as its
    faster default parser can be one unit in the last place off), and ``unique_id`` read as text (ids
    such as ``007`` or ``NA`` are kept verbatim).

    ``sep`` / ``decimal``: as given, else found in the first 64 KiB: the separator is the
    one of ``, ; tab |`` that splits the header and the next lines into the same number of
    fields (most fields wins); the decimal mark is ``,`` when the separator is not ``,``
    and numbers such as ``10,5`` appear. SeqFusionError when no separator fits.
    """
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as fh:
            sample = fh.read(_SAMPLE_BYTES)
    except OSError as exc:
        raise SeqFusionError(f"{path}: cannot read ({exc.strerror or exc})") from None
    lines = [ln for ln in sample.splitlines() if ln.strip()]
    if len(sample) == _SAMPLE_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut
    lines = lines[:50]
    if sep is None:
        sep = _find_separator(path, lines)
    if decimal is None:
        decimal = "," if sep != "," and any(_DECIMAL_COMMA.search(ln) for ln in lines[1:]) else "."
    if sep == decimal:
        raise SeqFusionError(f"{path}: the separator and the decimal mark are both {sep!r}")
    header = next(csv.reader(lines[:1], delimiter=sep), []) if lines else []
    options: dict[str, Any] = {"sep": sep, "decimal": decimal}
    if int(pd.__version__.split(".")[0]) < 3:  # pandas 3's parser is exact (and deprecates the option)
        options["float_precision"] = "round_trip"
    if "unique_id" in header:
        # ids are text; the other columns keep pandas' usual missing-value words
        na = {c: sorted(STR_NA_VALUES) for c in header if c != "unique_id"}
        options.update(dtype={"unique_id": str}, keep_default_na=False, na_values=na | {"unique_id": [""]})
    return options


_DECIMAL_COMMA = re.compile(r"(?:^|[;\t|])\s*-?\d+,\d+(?:[eE][-+]?\d+)?\s*(?:$|[;\t|])")


def _find_separator(path: str | Path, lines: list[str]) -> str:
    if not lines:
        return ","
    best, best_fields = ",", 1
    for sep in CSV_SEPARATORS:
        counts = [len(next(csv.reader([ln], delimiter=sep), [])) for ln in lines]
        rows_agree = sum(c == counts[0] for c in counts[1:]) >= 0.8 * (len(counts) - 1)
        if counts[0] > best_fields and rows_agree:
            best, best_fields = sep, counts[0]
    if best_fields == 1 and len(lines) > 1:
        data_fields = max(len(next(csv.reader([ln], delimiter=","), [])) for ln in lines[1:])
        if data_fields > 1:  # a one-field header over rows that split: not a table we can read
            raise SeqFusionError(f"{path}: cannot tell the column separator (the header has one field, the rows "
                                 "more): pass --sep (and --decimal for decimal commas)")
    return best


def read_table(path: str | Path, sep: str | None = None, decimal: str | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet (``.parquet``/``.pq``) file of series (CSV: see
    :func:`csv_options`)."""
    p = Path(path)
    if not p.exists():
        raise SeqFusionError(f"{path}: file not found")
    if p.is_dir() and not is_parquet(p):
        raise SeqFusionError(f"{path}: is a directory, not a file")
    try:
        df = pd.read_parquet(p) if is_parquet(p) else pd.read_csv(p, **csv_options(p, sep, decimal))
    except ImportError:
        raise SeqFusionError("reading Parquet needs pyarrow: pip install 'seqfusion[parquet]'") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SeqFusionError(f"{path}: cannot read as {'Parquet' if is_parquet(p) else 'CSV'} ({first})") from None
    if df.empty:
        raise SeqFusionError(f"{path}: no data rows")
    if not is_parquet(p) and not isinstance(df.index, pd.RangeIndex):  # rows longer than the header
        raise SeqFusionError(f"{path}: rows have more fields than the header: check the separator (--sep) and "
                             "the decimal mark (--decimal)")
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
