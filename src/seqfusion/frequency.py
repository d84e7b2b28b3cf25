"""Sampling frequencies: the classes a router can condition on, and reading them from
user input (names, pandas offset aliases or time stamps).

The classes are those of the source registry (``yearly`` ... ``subhourly``) plus
``unknown``; a zoo's router sees the class as a one-hot vector (``unknown`` when the
caller does not know it).
"""
from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from seqfusion.errors import SeqFusionError

if TYPE_CHECKING:  # pandas is imported where an alias or stamps must be read
    import pandas as pd

UNKNOWN = "unknown"
#: the known sampling-frequency classes, coarsest first (the source registry uses these)
FREQUENCIES: tuple[str, ...] = ("yearly", "quarterly", "monthly", "weekly", "daily", "hourly", "subhourly")
CLASSES: tuple[str, ...] = (*FREQUENCIES, UNKNOWN)

_NAMES = {c: c for c in CLASSES} | {
    "annual": "yearly", "year": "yearly", "quarter": "quarterly", "month": "monthly",
    "week": "weekly", "day": "daily", "hour": "hourly", "minute": "subhourly", "none": UNKNOWN,
}
_DAY_NS = 86_400 * 10**9
UNIT_NS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
"""Nanoseconds in one count of each ``datetime64`` unit."""


def _from_offset(offset: pd.offsets.BaseOffset) -> str:
    name = type(offset).__name__
    if "Year" in name:
        return "yearly"
    if "Quarter" in name:
        return "quarterly"
    if "Month" in name:
        return "monthly"
    if name == "Week":
        return "weekly"
    if name in ("BusinessDay", "CustomBusinessDay"):
        return "daily"
    if name in ("BusinessHour", "CustomBusinessHour"):
        return "hourly"
    try:
        ns = int(offset.nanos)  # fixed-length offsets (days and shorter)
    except ValueError:
        raise SeqFusionError(f"unsupported frequency {offset!r}") from None
    return step_class(ns)


def step_class(step_ns: int) -> str:
    """Frequency class of a fixed time step in nanoseconds."""
    if step_ns < 3600 * 10**9:
        return "subhourly"
    if step_ns < _DAY_NS:
        return "hourly"
    if step_ns < 7 * _DAY_NS:
        return "daily"
    if step_ns < 28 * _DAY_NS:
        return "weekly"
    if step_ns < 90 * _DAY_NS:
        return "monthly"
    if step_ns < 365 * _DAY_NS:
        return "quarterly"
    return "yearly"


def to_offset(freq: str | pd.offsets.BaseOffset) -> pd.offsets.BaseOffset:
    """A positive pandas offset for ``freq``: any alias this pandas accepts, plus the older
    aliases that it names a replacement for (``M``, ``Q-DEC``, ``A``, ``H``, ``T`` ... on
    pandas 3: the replacement pandas suggests is used). Raises SeqFusionError otherwise,
    also for zero or negative steps (``0D``, ``-1D``)."""
    import pandas as pd

    if isinstance(freq, pd.offsets.BaseOffset):
        offset = freq
    else:
        text = str(freq).strip()
        offset = None
        for _ in range(4):  # follow pandas' own suggestions (A -> Y -> YE)
            try:
                with warnings.catch_warnings():  # old aliases still mean what they say
                    warnings.simplefilter("ignore", FutureWarning)
                    warnings.simplefilter("ignore", DeprecationWarning)
                    offset = pd.tseries.frequencies.to_offset(text)
                break
            except ValueError as exc:
                better = _suggested(text, str(exc))
                if better is None or better == text:
                    break
                text = better
        if offset is None:
            raise SeqFusionError(
                f"unknown frequency {freq!r}: use a pandas alias ('D', 'W', 'MS', 'h', ...) or one of "
                f"{', '.join(CLASSES)}")
    if offset.n <= 0:
        raise SeqFusionError(f"frequency {freq!r} must step forward in time (got {offset.n} steps)")
    return offset


_SUGGESTIONS = (re.compile(r"'([^']+)' is no longer supported for offsets\. Please use '([^']+)' instead"),
                re.compile(r"Invalid frequency: ([^\s.]+)\. Did you mean ([^\s?]+)\?"))


def _suggested(text: str, message: str) -> str | None:
    """``text`` with the part pandas rejected replaced by the alias pandas suggests."""
    for pattern in _SUGGESTIONS:
        found = pattern.findall(message)
        if found:
            old, new = found[-1]
            head = re.match(r"^[+-]?[0-9.]*", text).group(0)  # type: ignore[union-attr]
            tail = text[len(head):]
            return head + tail.replace(old, new, 1) if old in tail else None
    return None


def frequency_class(freq: Any) -> str:
    """The frequency class of ``freq``: None, a class name (``"weekly"``), or a pandas
    offset alias (``"W"``, ``"D"``, ``"MS"``, ``"15min"``, old ones such as ``"M"``,
    ``"Q-DEC"``, ``"H"`` too). Raises SeqFusionError otherwise.
    """
    if freq is None:
        return UNKNOWN
    if isinstance(freq, str) and freq.strip().lower() in _NAMES:
        return _NAMES[freq.strip().lower()]
    import pandas as pd

    if isinstance(freq, pd.offsets.BaseOffset):
        return _from_offset(to_offset(freq))
    if not isinstance(freq, str):
        raise SeqFusionError(f"freq must be a string such as 'D', 'W' or 'monthly', got {freq!r}")
    return _from_offset(to_offset(freq))


def frequency_index(freq: Any) -> int:
    """Position of ``freq``'s class in :data:`CLASSES` (``unknown`` is the last)."""
    return CLASSES.index(frequency_class(freq))


def infer_frequency(index: pd.Index | None) -> str:
    """Frequency class of a time index from its median step (months of 28-31 days are
    monthly, business days daily); ``unknown`` for integer positions, fewer than 3 stamps
    or no index."""
    step = median_step_ns(index)
    return UNKNOWN if step is None else step_class(step)


def median_step_ns(index: pd.Index | None) -> int | None:
    """Median positive step of a time index in nanoseconds; None for integer positions,
    fewer than 3 stamps or no index."""
    import pandas as pd

    if not isinstance(index, pd.DatetimeIndex) or len(index) < 3:
        return None
    steps = np.diff(index.asi8)
    steps = steps[steps > 0]
    return int(np.median(steps)) * UNIT_NS[index.unit] if len(steps) else None


@runtime_checkable
class StackedStamps(Protocol):
    """Time indexes that hand out their stamps stacked by rows (``frames.SeriesIndexes``):
    ``lengths [n]``, ``stamps`` (None for integer or float stamps), ``unit_ns`` and
    ``stack(rows) -> [len(rows), L]`` stamps of ``unit_ns`` nanoseconds for rows of one
    length ``L``."""

    lengths: np.ndarray
    stamps: np.ndarray | None
    unit_ns: int

    def stack(self, rows: np.ndarray) -> np.ndarray: ...


def median_steps_ns(indexes: Sequence[Any]) -> list[int | None]:
    """:func:`median_step_ns` of many time indexes at once: one entry per index.

    Indexes that hand out stacked stamps (:class:`StackedStamps`, a long input's) take one
    median over the rows of each length; any other sequence goes index by index.
    """
    if not isinstance(indexes, StackedStamps):
        return [median_step_ns(ix) for ix in indexes]
    out: list[int | None] = [None] * len(indexes)
    if indexes.stamps is None:
        return out
    for length in np.unique(indexes.lengths[indexes.lengths >= 3]):
        rows = np.flatnonzero(indexes.lengths == length)
        steps = np.diff(indexes.stack(rows), axis=1)
        positive = (steps > 0).all(axis=1)
        for i, med in zip(rows[positive], np.median(steps[positive], axis=1)):
            out[i] = int(med) * indexes.unit_ns
        for i in rows[~positive]:
            out[i] = median_step_ns(indexes[i])
    return out


def one_hot(indices: np.ndarray) -> np.ndarray:
    """One-hot rows ``[n, len(CLASSES)]`` (float32) of class indices ``[n]``."""
    indices = np.asarray(indices, dtype=np.int64)
    out = np.zeros((len(indices), len(CLASSES)), dtype=np.float32)
    out[np.arange(len(indices)), indices] = 1.0
    return out


_TYPICAL_STEP_NS = {"yearly": 365 * _DAY_NS, "quarterly": 91 * _DAY_NS, "monthly": 2_630_000 * 10**9,
                    "weekly": 7 * _DAY_NS, "daily": _DAY_NS, "hourly": 3600 * 10**9,
                    "subhourly": 600 * 10**9}


def aggregated_class(freq: str, factor: int) -> str:
    """Class of a series of class ``freq`` after summing blocks of ``factor`` steps
    (e.g. monthly x 12 -> yearly); ``unknown`` stays unknown."""
    cls = frequency_class(freq or None)
    if cls == UNKNOWN or factor <= 1:
        return cls
    return step_class(_TYPICAL_STEP_NS[cls] * int(factor))


def nominal_step_ns(freq: Any) -> int | None:
    """The typical step of ``freq`` in nanoseconds (a pandas alias or offset: its own; a
    class name: a typical one), None for ``unknown``."""
    import pandas as pd

    cls = frequency_class(freq)
    if isinstance(freq, str) and freq.strip().lower() in _NAMES:
        return _TYPICAL_STEP_NS.get(cls)
    try:
        offset = to_offset(freq)
    except SeqFusionError:
        return _TYPICAL_STEP_NS.get(cls)
    try:
        return int(pd.Timedelta(offset).value)
    except (ValueError, TypeError):  # calendar offsets: the median of a few steps
        stamps = pd.date_range("2001-01-01", periods=25, freq=offset, unit="ns")
        return int(np.median(np.diff(stamps.asi8)))


def mismatched_steps(freq: Any, steps_ns: Sequence[int | None], tolerance: float = 2.5) -> list[int]:
    """Positions whose median step (``steps_ns``, None: unknown) differs from ``freq``'s
    nominal step by more than ``tolerance`` times either way."""
    nominal = nominal_step_ns(freq)
    if nominal is None:
        return []
    return [i for i, st in enumerate(steps_ns)
            if st is not None and not nominal / tolerance <= st <= nominal * tolerance]

