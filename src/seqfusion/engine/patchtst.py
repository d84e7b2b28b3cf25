"""The PatchTST member: weights folded for the feature-major forward, one-step forecasts
and roll-outs (optionally of several members stacked)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqfusion.engine.configs import MemberConfig, PatchTSTConfig
from seqfusion.engine.matmul import matmul_cols, sum_features, view
from seqfusion.engine.registry import Model, register
from seqfusion.engine.threads import workspace
from seqfusion.engine.transformer import (
    Layer,
    encode,
    encoder_layer_shapes,
    one_hot_tokens,
    patch_encoder,
)
from seqfusion.engine.weights import State


@dataclass
class _PatchTSTParams:
    """PatchTST weights for the feature-major forward (optionally stacked over members)."""

    tok_w: np.ndarray  # [4d + 1, L + P]: patch (+ one-hot position) -> q, k, v, token state, one
    layers: list[Layer]  # layers[0].in_w is unused (folded into tok_w)
    head_w: np.ndarray  # [h, (d + 1) * P]: feature-major columns, last LayerNorm's affine folded in


@register("patchtst")
class PatchTST(Model):
    """Univariate PatchTST (see :class:`seqfusion.training.models.patchtst.PatchTST`).

    The patch and position embeddings and the first attention projection are one matrix
    product of the patches (with the last value repeated ``stride`` times).
    """

    Config = PatchTSTConfig
    config: PatchTSTConfig

    def __init__(self, config: Mapping[str, Any] | PatchTSTConfig, state: State | None = None) -> None:
        super().__init__(config, state)
        c = self.config
        self.patch_len = c.patch_len
        self.stride = c.stride
        self.d_model = c.d_model
        self.n_heads = c.n_heads
        self.d_ff = c.d_ff
        self.n_layers = c.n_layers
        self.n_patches = c.n_patches
        if state is None:
            raise ValueError("PatchTST needs its weights")
        self.params = self._params(state)

    @classmethod
    def state_shapes(cls, config: Mapping[str, Any] | MemberConfig) -> dict[str, tuple[int, ...]]:
        c = PatchTSTConfig.from_dict(config)
        L, d, P, h = c.patch_len, c.d_model, c.n_patches, c.horizon
        out = {"embed.weight": (d, L), "embed.bias": (d,), "position": (1, P, d),
               "head.weight": (h, P * d), "head.bias": (h,)}
        for i in range(c.n_layers):
            out |= encoder_layer_shapes(f"encoder.layers.{i}.", d, c.d_ff)
        return out

    def _params(self, state: State) -> _PatchTSTParams:
        tok_w, layers, head_w = patch_encoder(state, self.d_model, self.n_heads, self.n_layers, self.n_patches,
                                              self.horizon)
        return _PatchTSTParams(tok_w=tok_w, layers=layers, head_w=head_w)

    def forward_fm(self, ctx: np.ndarray, out: np.ndarray, params: _PatchTSTParams | None = None) -> None:
        """Feature-major forward: contexts ``ctx [..., T, c]`` -> forecasts written to
        ``out [..., h, c]``.

        ``params`` (default: this model's) may be stacked over members (leading axis
        ``M``), with ``ctx`` and ``out`` carrying the same leading axis.
        """
        p = self.params if params is None else params
        ws = workspace()
        d, P = self.d_model, self.n_patches
        lead, (T, c) = ctx.shape[:-2], ctx.shape[-2:]
        mean = ws.get("mean", lead + (1, c))
        sum_features(ctx, mean[..., 0, :])
        mean /= T
        z = ws.get("z", lead + (T, c))
        np.subtract(ctx, mean, out=z)
        std = ws.get("std", lead + (1, c))
        sum_features(z, std[..., 0, :], square=True)
        std *= 1.0 / T
        std += 1e-5
        np.sqrt(std, out=std)
        z /= std
        L, s = self.patch_len, self.stride
        patches = ws.get("patches", lead + (L + P, P, c), init=one_hot_tokens)
        for i in range(P):  # patch i: z[i * stride:], padded with the last value (ufunc copies)
            n_in = max(0, min(L, T - i * s))
            np.positive(z[..., i * s : i * s + n_in, :], out=patches[..., :n_in, i, :])
            if n_in < L:
                np.positive(z[..., T - 1 : T, :], out=patches[..., n_in:L, i, :])
        tokens = ws.get("tokens", lead + (4 * d + 1, P * c))
        matmul_cols(p.tok_w, view(patches, lead + (L + P, P * c)), out=tokens)
        encode(p, tokens, self.n_heads, P, ws)
        matmul_cols(p.head_w, view(tokens[..., 3 * d :, :], lead + ((d + 1) * P, c)), out=out)
        out *= std
        out += mean

    def rollout_fm(self, x: np.ndarray, horizon: int, clip: float | None = 10.0,
                   params: _PatchTSTParams | None = None) -> np.ndarray:
        """:func:`~seqfusion.engine.rollout.rollout` in the feature-major layout: contexts
        ``x [..., T, c]`` -> roll-outs ``[..., horizon, c]`` (``params`` as in
        :meth:`forward_fm`; a shared ``[T, c]`` context is broadcast over stacked members)."""
        p = self.params if params is None else params
        T, h = self.input_length, self.horizon
        lead = p.head_w.shape[:-2]
        steps = -(-horizon // h)
        seq = np.empty(lead + (T + steps * h, x.shape[-1]), dtype=np.float32)  # context, then forecasts
        seq[..., :T, :] = x
        with np.errstate(all="ignore"):  # non-finite inputs spread silently, as in torch
            for i in range(steps):
                ctx = seq[..., i * h : i * h + T, :]
                out = seq[..., T + i * h : T + (i + 1) * h, :]
                self.forward_fm(ctx, out, p)
                if clip is not None:
                    _guard(out, ctx[..., -1:, :], clip)
        return seq[..., T : T + horizon, :]

    def forward(self, x: np.ndarray, chunk: int | None = None) -> np.ndarray:
        """``[n, T] -> [n, h]`` float32 (rows in chunks of ``chunk``, default 256)."""
        chunk = chunk or 256
        xt = np.ascontiguousarray(np.asarray(x, dtype=np.float32).T)
        out = np.empty((self.horizon, xt.shape[1]), dtype=np.float32)
        with np.errstate(all="ignore"):
            for lo in range(0, xt.shape[1], chunk):
                self.forward_fm(np.ascontiguousarray(xt[:, lo : lo + chunk]), out[:, lo : lo + chunk])
        return np.ascontiguousarray(out.T)


def _guard(out: np.ndarray, last: np.ndarray, clip: float) -> None:
    """In place: non-finite values of ``out`` become ``last`` (broadcast), then clip to
    ``[-clip, clip]`` (the roll-out's guard against a diverging member)."""
    bad = ~np.isfinite(out)
    if bad.any():
        np.copyto(out, np.broadcast_to(last, out.shape), where=bad)
    np.clip(out, -clip, clip, out=out)
