"""GELU with the exact error function; erf by piecewise Chebyshev interpolants of
:func:`math.erf`, evaluated block by block."""
from __future__ import annotations

import math

import numpy as np


def _erf_table(width: float = 0.125, upper: float = 5.0, degree: int = 7) -> tuple[np.ndarray, float, float]:
    """Piecewise polynomials for erf on ``[0, upper]``: on each interval of ``width``, the
    polynomial of ``degree`` interpolating :func:`math.erf` at the Chebyshev nodes, in the
    power basis of the local variable ``t`` in [-1, 1]; returns
    ``(coefficients [degree + 1, n_intervals], width, upper)``."""
    m = degree + 1
    theta = np.pi * (np.arange(m) + 0.5) / m
    nodes = np.cos(theta)
    cheb_at_nodes = np.cos(np.outer(np.arange(m), theta))  # T_j(node_k)
    power = np.zeros((m, m))  # power[j] = coefficients of T_j (T_0 = 1, T_1 = t, T_j+1 = 2t T_j - T_j-1)
    power[0, 0] = 1.0
    if m > 1:
        power[1, 1] = 1.0
    for j in range(2, m):
        power[j, 1:] = 2.0 * power[j - 1, :-1]
        power[j] -= power[j - 2]
    n = round(upper / width)
    cols = []
    for i in range(n):
        centre = (i + 0.5) * width
        values = np.array([math.erf(centre + 0.5 * width * t) for t in nodes])
        cheb = cheb_at_nodes @ values * (2.0 / m)
        cheb[0] *= 0.5
        cols.append(cheb @ power)
    return np.ascontiguousarray(np.array(cols).T), width, upper


_ERF_COEF, _ERF_WIDTH, _ERF_UPPER = _erf_table()
_ERF_COEF32 = _ERF_COEF.astype(np.float32)
_BLOCK = 16384  # elements per block of elementwise work (cache-sized)


def _erf_block(x: np.ndarray, out: np.ndarray) -> None:
    """erf of a 1-D block ``x`` into ``out`` (same float dtype)."""
    coef = _ERF_COEF32 if x.dtype == np.float32 else _ERF_COEF
    a = np.abs(x)
    np.minimum(a, _ERF_UPPER, out=a)
    idx = (a * (1.0 / _ERF_WIDTH)).astype(np.intp)
    np.minimum(idx, coef.shape[1] - 1, out=idx)
    t = a * (2.0 / _ERF_WIDTH)
    t -= 2 * idx + 1
    np.take(coef[-1], idx, out=out)
    for row in coef[-2::-1]:
        out *= t
        out += row.take(idx)
    np.copysign(out, x, out=out)


def _float(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    return np.ascontiguousarray(x, dtype=np.float64 if x.dtype == np.float64 else np.float32)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, elementwise: piecewise polynomials (Chebyshev interpolants of
    :func:`math.erf`); absolute error below 2e-12 in float64 and about one unit in the
    last place in float32. ``x``: any shape; float64 stays float64, else float32."""
    x = _float(x)
    out = np.empty_like(x)
    xf, of = x.reshape(-1), out.reshape(-1)
    for lo in range(0, xf.size, _BLOCK):
        _erf_block(xf[lo : lo + _BLOCK], of[lo : lo + _BLOCK])
    return out


def gelu(x: np.ndarray) -> np.ndarray:
    """GELU with the exact error function, ``x * (1 + erf(x / sqrt 2)) / 2``, as
    ``torch.nn.GELU()``; any shape, float64 stays float64, else float32."""
    x = _float(x)
    out = np.empty_like(x)
    xf, of = x.reshape(-1), out.reshape(-1)
    for lo in range(0, xf.size, _BLOCK):
        xb, ob = xf[lo : lo + _BLOCK], of[lo : lo + _BLOCK]
        _erf_block(xb * (1.0 / math.sqrt(2.0)), ob)
        ob += 1.0
        ob *= xb
        ob *= 0.5
    return out
