"""One preprocessing path for training and inference: z-normalisation that holds at any
scale, gap filling, left-padding of short histories to the model's input length, and the
checks a history must pass.

Every function works on float64 rows ``[n, L]`` (one history per row). Normalisation is
exact under scale and shift: for ``a != 0``, ``znorm(a * x + b)`` equals
``sign(a) * znorm(x)`` up to rounding, whatever the magnitude of ``a`` and ``b``, as long
as the spread of a row is representable in float64.

Training uses the same functions as inference: PTM windows are normalised by
:func:`znorm_pairs` (the inputs' statistics, as the forecaster's roll-outs), the router's
contexts by :func:`znorm`, the extractor's windows by :func:`znorm` before its own input
layer (:func:`seqfusion.engine.znorm_rows`, part of the model in both engines), the
long-context members' by :func:`standardize_observed`; short training contexts are
left-padded by :func:`pad_left` / :func:`keep_last`, as short histories are.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from seqfusion.errors import SeqFusionError

#: a row whose range is at most this many float64 ulps of its largest magnitude is constant
#: (a rounding tolerance for rows meant to be constant, not tuned on forecasts)
CONSTANT_ULPS = 16


def array_series(y: Any) -> tuple[str, list[np.ndarray]]:
    """Series of an array input: ``[T]`` (one series, kind ``"array1d"``) or ``[T, C]`` (C
    variates along axis 1, ``"array2d"``), as float64 columns. Lists and tuples are read as
    arrays. SeqFusionError for complex, text, empty-variate or wrong-rank input."""
    if isinstance(y, (list, tuple)):
        try:
            y = np.asarray(y)
        except ValueError:
            raise SeqFusionError("list input must be rectangular ([T] or [T][C] numbers)") from None
    if np.iscomplexobj(y):
        raise SeqFusionError("complex values are not supported: give the real part (or both parts "
                             "as two variates)")
    if y.dtype != bool and not np.issubdtype(y.dtype, np.number):
        raise SeqFusionError(f"array input must be numeric, got dtype {y.dtype}")
    if y.ndim == 1:
        return "array1d", [y.astype(np.float64)]
    if y.ndim == 2:
        if y.shape[1] == 0:
            raise SeqFusionError("input has no variates (shape [T, 0])")
        return "array2d", [y[:, c].astype(np.float64) for c in range(y.shape[1])]
    raise SeqFusionError(f"array input must be [T] or [T, C], got shape {y.shape}")


def pow2_scale(a: np.ndarray) -> np.ndarray:
    """Per-row power of two near ``max |a|`` (1 for all-zero rows), so that dividing by
    it is exact and keeps values within [-2, 2]: ``[n, L] -> [n, 1]``."""
    m = np.max(np.abs(a), axis=-1, keepdims=True) if a.shape[-1] else np.zeros(a.shape[:-1] + (1,))
    m = np.where(np.isfinite(m) & (m > 0), m, 1.0)
    return np.exp2(np.floor(np.log2(m)))


def is_constant(x: np.ndarray) -> np.ndarray:
    """Rows ``[n, L]`` whose values are all equal up to float64 rounding: ``[n]`` bool."""
    x = np.asarray(x, dtype=np.float64)
    top = np.max(np.abs(x), axis=-1)
    with np.errstate(over="ignore"):
        spread = np.max(x, axis=-1) - np.min(x, axis=-1)
    return spread <= CONSTANT_ULPS * np.finfo(np.float64).eps * top


def znorm(x: np.ndarray, ref: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Z-normalise rows of ``x [n, L]`` by the mean and std of ``ref`` (default ``x``).

    Returns ``(xn [n, L], mean [n, 1], std [n, 1])`` with ``x = xn * std + mean``. Mean and
    std are computed on power-of-two rescaled values, so they neither overflow near the
    float64 maximum nor lose precision near its minimum. Constant reference rows (see
    :func:`is_constant`) get ``std = 1`` and ``xn = x - mean`` (zeros). Raises
    SeqFusionError when a row's spread is not representable (``x - mean`` overflows).
    """
    x = np.ascontiguousarray(x, dtype=np.float64)  # rows contiguous: numpy's sums depend on the memory order
    ref = x if ref is None else np.ascontiguousarray(ref, dtype=np.float64)
    s1 = pow2_scale(ref)
    mean = np.mean(ref / s1, axis=-1, keepdims=True) * s1
    with np.errstate(over="ignore", invalid="ignore"):
        dref = ref - mean
        d = x - mean
    if not (np.isfinite(dref).all() and np.isfinite(d).all()):
        raise SeqFusionError("a series' spread is too large for float64 (values near +-1.8e308 "
                             "of both signs); rescale it")
    s2 = pow2_scale(dref)
    std = np.sqrt(np.mean(np.square(dref / s2), axis=-1, keepdims=True)) * s2
    const = is_constant(ref)[..., None] | ~(std > 0)
    std = np.where(const, 1.0, std)
    xn = np.where(const, 0.0, d / std)
    return xn, mean, std


def znorm_pairs(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Inputs ``x [n, T]`` normalised by :func:`znorm` and what follows them ``y [n, h]`` in
    the same units, ``yn = (y - mean) / std`` with the inputs' ``mean`` and ``std`` (1 for
    a constant input): ``(xn, yn, mean, std)``. The forecaster normalises a context so and
    maps its forecast back by ``yn * std + mean``; training normalises its (input, target)
    windows so."""
    xn, mean, std = znorm(x)
    yn = (np.asarray(y, dtype=np.float64) - mean) / std
    return xn, yn, mean, std


def standardize_observed(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows ``x [n, L]`` standardised over their finite points (NaN marks a point before a
    history's start): ``(z, mean [n, 1], std [n, 1], constant [n])``, ``z = (x - mean) /
    std`` with NaN kept; a row with no spread gets ``std = 1`` and ``constant``. The long-
    context members' input (they are affine-equivariant and mask NaN themselves): their
    float32 input, and so the forecast, is then the same at any scale of the series."""
    mean = np.nanmean(x, axis=1)[:, None]
    std = np.nanstd(x, axis=1)[:, None]
    constant = ~(std[:, 0] > 0)
    std = np.where(constant[:, None], 1.0, std)
    return (x - mean) / std, mean, std, constant


def fill_gaps(x: np.ndarray) -> np.ndarray:
    """Fill NaN in rows ``[n, L]``: linear interpolation inside, nearest value at the ends.

    Rows without any finite value are returned unchanged (all NaN)."""
    x = np.array(x, dtype=np.float64)
    finite = np.isfinite(x)
    pos = np.arange(x.shape[1])
    for i in np.nonzero(~finite.all(axis=1) & finite.any(axis=1))[0]:
        x[i] = np.interp(pos, pos[finite[i]], x[i, finite[i]])
    return x


def pad_left(x: np.ndarray, length: int) -> np.ndarray:
    """Left-pad rows ``[n, L]`` with their first value to ``[n, max(L, length)]``: the one
    padding rule of short histories (inference) and short contexts (training)."""
    if x.shape[1] >= length:
        return x
    return np.concatenate([np.repeat(x[:, :1], length - x.shape[1], axis=1), x], axis=1)


def keep_last(x: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Rows ``[n, T]`` with only the last ``keep[i]`` points of row ``i`` kept and the row
    left-padded back to ``T`` (:func:`pad_left`): a context of ``keep[i]`` points, as
    inference sees a history that short."""
    out = np.array(x, dtype=np.float64)
    T = out.shape[1]
    for length in np.unique(keep):
        if length < T:
            rows = np.flatnonzero(keep == length)
            out[rows] = pad_left(out[rows, T - length:], T)
    return out


def right_aligned(histories: Sequence[np.ndarray], cap: int) -> tuple[np.ndarray, np.ndarray]:
    """The last ``cap`` points of each history, right-aligned and left-padded with their
    first value (:func:`pad_left`'s rule): (``[n, width]``, lengths ``[n]`` before padding)."""
    tails = [np.asarray(h, dtype=np.float64)[-cap:] for h in histories]
    lengths = np.fromiter((len(t) for t in tails), dtype=np.int64, count=len(tails))
    width = int(lengths.max())
    if (lengths == width).all():
        return np.stack(tails), lengths
    y = np.empty((len(tails), width))
    for row, t in zip(y, tails):
        row[:] = pad_left(t[None, :], width)[0]
    return y, lengths


def contexts(series: list[np.ndarray] | np.ndarray, length: int, min_length: int,
             names: list[Any] | None = None) -> np.ndarray:
    """Model contexts ``[n, length]`` from histories (a list of 1-D arrays, or ``[n, L]``).

    Each history keeps its last ``length`` points; NaN is filled by :func:`fill_gaps`;
    histories shorter than ``length`` are left-padded with their first value. Raises
    SeqFusionError (naming the series) for inf or fewer than ``min_length`` finite points.
    """
    if len(series) == 0:
        raise SeqFusionError("the input is empty")
    names = names if names is not None else list(range(len(series)))
    if isinstance(series, np.ndarray) and series.ndim == 2:
        x = np.array(series[:, -length:], dtype=np.float64)
    else:
        tails = [np.asarray(s, dtype=np.float64).reshape(-1)[-length:] for s in series]
        width = max(len(t) for t in tails)
        x = np.full((len(tails), width), np.nan)
        for row, t in zip(x, tails):  # ragged input: right-align, NaN before the start
            if len(t):
                row[width - len(t):] = t
    check(names, np.isfinite(x).sum(axis=1), np.asarray(np.isinf(x).any(axis=1)), min_length, last=length)
    return pad_left(fill_gaps(x), length)


def histories(series: Sequence[np.ndarray], min_length: int, names: Sequence[Any]) -> list[np.ndarray]:
    """Whole histories as float64 without NaN: leading NaN dropped (a history starts at its
    first finite point; :func:`contexts` fills them with that point, the same context),
    the others filled as :func:`fill_gaps` does (so the forecast still starts after the
    last point). The checks of :func:`check` apply to the whole history."""
    xs = [np.asarray(s, dtype=np.float64).reshape(-1) for s in series]
    check(names, np.array([np.isfinite(x).sum() for x in xs], dtype=np.int64),
          np.array([bool(np.isinf(x).any()) for x in xs], dtype=bool), min_length)
    out = []
    for x in xs:
        finite = np.flatnonzero(np.isfinite(x))
        x = x[finite[0]:]  # leading NaN dropped; inner NaN interpolated, trailing NaN: the last value
        if len(finite) < len(x):
            x = fill_gaps(x[None, :])[0]
        out.append(x)
    return out


def series_label(name: Any) -> str:
    """A series name as the user wrote it: ``'007'``, ``7`` (not ``np.int64(7)``)."""
    return repr(name.item() if isinstance(name, np.generic) else name)


def unusable(name: Any, n_finite: int, has_inf: bool, min_length: int, last: int | None = None) -> str | None:
    """Why a history cannot be forecast for its values alone (inf, fewer than
    ``min_length`` finite points; ``last``: only its last ``last`` points are read), or
    None when it can. The one input check of every path (windows, whole histories, the
    streaming reader's screen)."""
    if has_inf:
        return f"series {series_label(name)} contains inf"
    if n_finite < min_length:
        where = "" if last is None else f" in its last {last}"
        return f"series {series_label(name)} has {n_finite} usable points{where}; at least {min_length} are needed"
    return None


def unusable_rows(n_finite: np.ndarray, has_inf: np.ndarray, min_length: int) -> np.ndarray:
    """Which series :func:`unusable` rejects, from their finite-point counts and inf flags."""
    return np.asarray(has_inf, dtype=bool) | (np.asarray(n_finite) < min_length)


def check(names: Sequence[Any], n_finite: np.ndarray, has_inf: np.ndarray, min_length: int,
          last: int | None = None) -> None:
    """SeqFusionError naming the first unusable series (see :func:`unusable`), if any."""
    bad = unusable_rows(n_finite, has_inf, min_length)
    if bad.any():
        i = int(np.argmax(bad))
        raise SeqFusionError(str(unusable(names[i], int(n_finite[i]), bool(has_inf[i]), min_length, last)))

