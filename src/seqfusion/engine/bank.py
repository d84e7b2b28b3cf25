"""The member bank: roll-outs of many (series, member) pairs at once, each pair computed
only when a series uses that member; :func:`fused_rollout` and :func:`member_rollouts`."""
from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import fields, replace
from typing import Any

import numpy as np

from seqfusion.engine.configs import MemberConfig
from seqfusion.engine.matmul import matmul_rows
from seqfusion.engine.patchtst import PatchTST
from seqfusion.engine.registry import Model
from seqfusion.engine.rollout import affine_rollout, rollout
from seqfusion.engine.threads import parallel_map
from seqfusion.engine.weights import f32


def _stack(items: Sequence[Any]) -> Any:
    """Stack dataclasses of arrays field by field along a new leading (member) axis."""
    first = items[0]
    values: dict[str, Any] = {}
    for f in fields(first):
        parts = [getattr(it, f.name) for it in items]
        if isinstance(parts[0], np.ndarray):
            values[f.name] = np.ascontiguousarray(np.stack(parts))
        elif isinstance(parts[0], list):
            values[f.name] = [_stack([p[i] for p in parts]) for i in range(len(parts[0]))]
        elif parts[0] is not None and hasattr(parts[0], "__dataclass_fields__"):
            values[f.name] = _stack(parts)
        else:
            values[f.name] = parts[0]
    return replace(first, **values)


class MemberBank:
    """The zoo's members prepared for batched roll-outs of many (series, member) pairs.

    Affine members are rolled out through precomposed matrices; members of another
    architecture that shares one configuration (the PatchTSTs) are stacked so that one
    batched matrix product runs them all when a series uses every one of them, and run
    one by one on the series that use them otherwise. ``chunk``: series per work item
    (cache-sized); ``threads``: worker threads (None: usable CPUs).
    """

    def __init__(self, models: Sequence[Model], threads: int | None = None, chunk: int | None = None,
                 stack: bool = True) -> None:
        if not models:
            raise ValueError("the bank needs at least one member")
        self.models = list(models)
        self.input_length = self.models[0].input_length
        if any(m.input_length != self.input_length for m in self.models):
            raise ValueError("all members must take the same input length")
        self.threads = threads
        self.chunk = int(chunk or 256)
        self.affine = [i for i, m in enumerate(self.models) if m.affine]
        groups: dict[tuple[str, MemberConfig], list[int]] = {}
        for i, m in enumerate(self.models):
            if not m.affine:
                groups.setdefault((m.architecture, m.config), []).append(i)
        self.groups = list(groups.values())
        self.stacked: dict[int, Any] = {}
        for gi, g in enumerate(self.groups):
            model = self.models[g[0]]
            if stack and len(g) > 1 and isinstance(model, PatchTST):
                self.stacked[gi] = _stack([self.models[i].params for i in g])  # type: ignore[attr-defined]
        self._maps: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.models)

    def affine_maps(self, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        """Roll-out maps of the affine members (in ``self.affine`` order), float32:
        ``A [T, n_affine * horizon]`` and ``b [n_affine * horizon]``."""
        with self._lock:
            if horizon not in self._maps:
                maps = [affine_rollout(self.models[i], horizon) for i in self.affine]
                a = np.concatenate([m[0] for m in maps], axis=0) if maps else np.zeros((0, self.input_length))
                b = np.concatenate([m[1] for m in maps]) if maps else np.zeros(0)
                self._maps[horizon] = (f32(a.T), f32(b))
            return self._maps[horizon]

    # -------------------------------------------------------------- pair iteration
    def _pairs(self, x: np.ndarray, used: np.ndarray, horizon: int, clip: float | None
               ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """Yield ``(member, rows, forecasts [len(rows), horizon] float32)`` covering every
        ``used[row, member]`` pair once."""
        n = len(x)
        finite_rows = np.isfinite(x).all(axis=1)
        if self.affine:
            yield from self._affine_pairs(x, used, finite_rows, horizon, clip)
        for gi, g in enumerate(self.groups):
            full = used[:, g].all(axis=1) if gi in self.stacked else np.zeros(n, dtype=bool)
            tasks: list[tuple[list[int], np.ndarray]] = []
            rows_full = np.flatnonzero(full)
            for lo in range(0, len(rows_full), self.chunk):
                tasks.append((g, rows_full[lo : lo + self.chunk]))
            for m in g:
                rows = np.flatnonzero(used[:, m] & ~full)
                for lo in range(0, len(rows), self.chunk):
                    tasks.append(([m], rows[lo : lo + self.chunk]))
            if not tasks:
                continue
            model = self.models[g[0]]
            stacked = self.stacked.get(gi)
            xt = np.ascontiguousarray(x.T)

            def run(task: tuple[list[int], np.ndarray], model: Model = model, stacked: Any = stacked,
                    xt: np.ndarray = xt) -> tuple[list[int], np.ndarray, np.ndarray]:
                members, rows = task
                ctx = xt[:, rows]
                if len(members) > 1:
                    out = model.rollout_fm(ctx, horizon, clip, stacked)  # type: ignore[attr-defined]
                else:
                    member = self.models[members[0]]
                    if isinstance(member, PatchTST):
                        out = member.rollout_fm(ctx, horizon, clip)[None]
                    else:
                        out = rollout(member, ctx.T, horizon, clip).T[None]
                return members, rows, out

            for members, rows, out in parallel_map(run, tasks, self.threads):
                for j, m in enumerate(members):
                    yield m, rows, out[j].T

    def _affine_pairs(self, x: np.ndarray, used: np.ndarray, finite_rows: np.ndarray, horizon: int,
                      clip: float | None) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """The affine members' pairs: one product with the precomposed roll-out maps; a
        roll-out that reaches the clip (a clipped block changes the later ones) and rows
        with non-finite values are recomputed step by step."""
        a, b = self.affine_maps(horizon)
        aff = np.asarray(self.affine)
        rows = np.flatnonzero(used[:, aff].any(axis=1) & finite_rows)
        if len(rows):
            xs = x if len(rows) == len(x) else x[rows]
            y = matmul_rows(xs, a).reshape(len(rows), len(aff), horizon)
            y += b.reshape(len(aff), horizon)
            over = None if clip is None else ~(np.abs(y) <= clip).all(axis=2)  # [rows, n_affine]
            for j, m in enumerate(aff):
                keep = used[rows, m]
                everywhere = bool(keep.all())
                r, pred = (rows, y[:, j]) if everywhere else (rows[keep], y[keep, j])
                if over is not None:
                    bad = over[:, j] if everywhere else over[keep, j]
                    if bad.any():
                        pred = pred.copy()
                        pred[bad] = rollout(self.models[m], x[r[bad]], horizon, clip)
                yield int(m), r, pred
        odd = np.flatnonzero(~finite_rows)
        for m in aff:  # rows with non-finite values: step by step, as torch does
            r = odd[used[odd, m]]
            if len(r):
                yield int(m), r, rollout(self.models[m], x[r], horizon, clip)


def _used_pairs(members_idx: np.ndarray, n: int, n_members: int) -> np.ndarray:
    idx = np.asarray(members_idx, dtype=np.int64).reshape(n, -1)
    if idx.size and (idx.min() < 0 or idx.max() >= n_members):
        raise ValueError("member indices out of range")
    used = np.zeros((n, n_members), dtype=bool)
    used[np.arange(n)[:, None], idx] = True
    return used


def fused_rollout(bank: MemberBank, x_norm: np.ndarray, members_idx: np.ndarray, weights: np.ndarray,
                  horizon: int, clip: float | None = 10.0) -> np.ndarray:
    """Weighted sum of member roll-outs: ``sum_j weights[i, j] * rollout(member members_idx[i, j])``.

    ``x_norm [n, T]``: normalized contexts; ``members_idx [n, k]``: member indices per row;
    ``weights [n, k]``; returns ``[n, horizon]`` float64 (roll-outs in float32, summed in
    float64). Each (row, member) pair is computed once, and only for the members the row
    uses, so a smaller ``k`` costs less.
    """
    x = np.ascontiguousarray(np.asarray(x_norm, dtype=np.float32))
    n = len(x)
    idx = np.asarray(members_idx, dtype=np.int64).reshape(n, -1)
    w = np.asarray(weights, dtype=np.float64).reshape(idx.shape)
    used = _used_pairs(idx, n, len(bank))
    dense = np.zeros((n, len(bank)))  # weight per (row, member); a repeated member's weights add up
    rows = np.arange(n)
    for j in range(idx.shape[1]):
        dense[rows, idx[:, j]] += w[:, j]
    fused = np.zeros((n, horizon))
    for m, rows, pred in bank._pairs(x, used, horizon, clip):
        if len(rows) == n:
            fused += dense[:, m : m + 1] * pred
        else:
            fused[rows] += dense[rows, m : m + 1] * pred
    return fused


def member_rollouts(bank: MemberBank, x_norm: np.ndarray, members_idx: np.ndarray, horizon: int,
                    clip: float | None = 10.0) -> np.ndarray:
    """Roll-outs of the chosen members: ``[n, k, horizon]`` float32 for ``members_idx [n, k]``
    (``x_norm [n, T]``: normalized contexts)."""
    x = np.ascontiguousarray(np.asarray(x_norm, dtype=np.float32))
    n = len(x)
    idx = np.asarray(members_idx, dtype=np.int64).reshape(n, -1)
    used = _used_pairs(idx, n, len(bank))
    slot = np.full((n, len(bank)), -1, dtype=np.int64)
    slot[np.arange(n)[:, None], idx] = np.arange(idx.shape[1])[None, :]
    out = np.empty((n, idx.shape[1], horizon), dtype=np.float32)
    for m, rows, pred in bank._pairs(x, used, horizon, clip):
        out[rows, slot[rows, m]] = pred
        dup = (idx[rows] == m).sum(axis=1) > 1  # the same member twice in a row
        for r in rows[dup]:
            out[r, idx[r] == m] = pred[np.searchsorted(rows, r)]
    return out
