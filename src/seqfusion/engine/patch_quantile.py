"""The long-context member (see :class:`seqfusion.training.models.patch_quantile.PatchQuantile`):
contexts with missing points, quantile forecasts, roll-outs past its horizon on the median."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqfusion.engine.configs import MemberConfig, PatchQuantileConfig
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

#: the smallest normalization scale, relative to max(1, |mean|) (as in training)
SCALE_FLOOR = 1e-5
#: contexts per feature-major chunk
CHUNK = 256


@dataclass
class _Params:
    tok_w: np.ndarray  # [4d + 1, 2L + P]: (values, mask, one-hot position) -> q, k, v, token state, one
    layers: list[Layer]
    head_w: np.ndarray  # [Q * h, (d + 1) * P], last LayerNorm's affine folded in


@register("patch_quantile")
class PatchQuantile(Model):
    """Quantiles of the next ``horizon`` steps from up to ``input_length`` points."""

    Config = PatchQuantileConfig
    config: PatchQuantileConfig

    def __init__(self, config: Mapping[str, Any] | PatchQuantileConfig, state: State | None = None) -> None:
        super().__init__(config, state)
        if state is None:
            raise ValueError("PatchQuantile needs its weights")
        self.params = self._params(state)

    @property
    def levels(self) -> np.ndarray:
        return np.array(self.config.levels)

    @classmethod
    def state_shapes(cls, config: Mapping[str, Any] | MemberConfig) -> dict[str, tuple[int, ...]]:
        c = PatchQuantileConfig.from_dict(config)
        L, d, P = c.patch_len, c.d_model, c.n_patches
        out = {"embed.weight": (d, 2 * L), "embed.bias": (d,), "position": (1, P, d),
               "head.weight": (c.n_quantiles * c.horizon, P * d), "head.bias": (c.n_quantiles * c.horizon,)}
        for i in range(c.n_layers):
            out |= encoder_layer_shapes(f"encoder.layers.{i}.", d, c.d_ff)
        return out

    def _params(self, state: State) -> _Params:
        c = self.config
        tok_w, layers, head_w = patch_encoder(state, c.d_model, c.n_heads, c.n_layers, c.n_patches,
                                              c.n_quantiles * c.horizon)
        return _Params(tok_w=tok_w, layers=layers, head_w=head_w)

    def _forward_fm(self, ctx: np.ndarray, out: np.ndarray) -> None:
        """Contexts ``ctx [T, c]`` (NaN: missing) -> quantiles ``out [Q * h, c]``."""
        c = self.config
        ws = workspace()
        d, P, L = c.d_model, c.n_patches, c.patch_len
        n = ctx.shape[1]
        mask = np.isfinite(ctx)
        m = mask.astype(np.float32)
        x = np.where(mask, ctx, np.float32(0.0))
        count = np.maximum(m.sum(axis=0, keepdims=True), 1.0)
        mean = np.empty((1, n), dtype=np.float32)
        sum_features(x, mean[0])
        mean /= count
        dev = np.where(mask, ctx - mean, np.float32(0.0))
        var = np.empty((1, n), dtype=np.float32)
        sum_features(dev, var[0], square=True)
        var /= count
        scale = np.sqrt(var) + np.float32(SCALE_FLOOR) * np.maximum(np.abs(mean), 1.0)
        dev /= scale
        patches = ws.get("pq_patches", (2 * L + P, P, n), init=one_hot_tokens)
        patches[:L] = dev.reshape(P, L, n).transpose(1, 0, 2)
        patches[L : 2 * L] = m.reshape(P, L, n).transpose(1, 0, 2)
        tokens = ws.get("pq_tokens", (4 * d + 1, P * n))
        matmul_cols(self.params.tok_w, view(patches, (2 * L + P, P * n)), out=tokens)
        encode(self.params, tokens, c.n_heads, P, ws)
        matmul_cols(self.params.head_w, view(tokens[3 * d :, :], ((d + 1) * P, n)), out=out)
        out *= scale
        out += mean

    def quantiles(self, x: np.ndarray) -> np.ndarray:
        """``[n, T] -> [n, Q, horizon]`` float32 quantiles, sorted over ``Q`` (``T`` up to
        ``input_length``: shorter contexts are left-padded with NaN, longer ones cut)."""
        c = self.config
        x = _fit(np.asarray(x, dtype=np.float32), c.input_length)
        xt = np.ascontiguousarray(x.T)
        out = np.empty((c.n_quantiles * c.horizon, xt.shape[1]), dtype=np.float32)
        with np.errstate(all="ignore"):
            for lo in range(0, xt.shape[1], CHUNK):
                self._forward_fm(np.ascontiguousarray(xt[:, lo : lo + CHUNK]), out[:, lo : lo + CHUNK])
        q = out.T.reshape(len(x), c.n_quantiles, c.horizon)
        return np.sort(q, axis=1)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The median forecast ``[n, horizon]``."""
        return self.quantiles(x)[:, self.config.n_quantiles // 2]

    def forecast(self, x: np.ndarray, horizon: int) -> np.ndarray:
        """Quantiles ``[n, Q, horizon]`` of any horizon: past the member's own, the context
        is extended by the median forecast and the member runs again."""
        c = self.config
        seq = _fit(np.asarray(x, dtype=np.float32), c.input_length)
        parts = []
        done = 0
        while done < horizon:
            q = self.quantiles(seq)
            parts.append(q)
            done += c.horizon
            if done < horizon:
                seq = np.concatenate([seq, q[:, c.n_quantiles // 2]], axis=1)[:, -c.input_length :]
        return np.concatenate(parts, axis=2)[:, :, :horizon]


def _fit(x: np.ndarray, T: int) -> np.ndarray:
    """``x [n, t]`` as ``[n, T]``: its last ``T`` points, left-padded with NaN."""
    if x.ndim != 2:
        raise ValueError(f"contexts must be [n, t], got shape {x.shape}")
    if x.shape[1] >= T:
        return np.ascontiguousarray(x[:, x.shape[1] - T :])
    out = np.full((x.shape[0], T), np.nan, dtype=np.float32)
    out[:, T - x.shape[1] :] = x
    return out
