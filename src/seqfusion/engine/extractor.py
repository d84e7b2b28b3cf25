"""The general extractor: z-normalized series -> representations, through the Transformer
kernels in the feature-major layout."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqfusion.engine.configs import Config, ExtractorConfig
from seqfusion.engine.gelu import gelu
from seqfusion.engine.matmul import matmul_cols, sum_features, view
from seqfusion.engine.threads import parallel_map, workspace
from seqfusion.engine.transformer import (
    Layer,
    encode,
    encoder_layer,
    encoder_layer_shapes,
    one_hot_tokens,
    token_weights,
)
from seqfusion.engine.weights import State, col, f32

#: the extractor's input layer floors each row's std at this times ``max(|mean|, 1)`` (a
#: fixed part of the architecture, not tuned: it only keeps constant rows finite, as the
#: rows it reads are already z-normalized by :func:`seqfusion.preprocess.znorm`)
EXTRACTOR_STD_FLOOR = 1e-3


@dataclass
class _ExtractorParams:
    tok_w: np.ndarray  # [4d + 1, L + P]: patch (+ one-hot position) -> q, k, v, token state, one
    layers: list[Layer]
    proj1_w: np.ndarray  # [d, d] (last LayerNorm's scale folded in)
    proj1_b: np.ndarray  # [d, 1]
    proj2_w: np.ndarray  # [dim, d]
    proj2_b: np.ndarray  # [dim, 1]


def znorm_rows(x: np.ndarray, std_floor: float = EXTRACTOR_STD_FLOOR) -> np.ndarray:
    """The extractor's input layer: each row of ``x [n, T]`` z-normalized with its std floored
    at ``std_floor * max(|mean|, 1)`` (as :func:`seqfusion.training.extractor.znorm_rows` in
    torch); float32 unless x is float64."""
    x = np.ascontiguousarray(x, dtype=np.float64 if np.asarray(x).dtype == np.float64 else np.float32)
    mean = x.mean(axis=1, keepdims=True)  # row layout: numpy's sums depend on the memory order
    std = x.std(axis=1, keepdims=True)
    std = np.maximum(std, std_floor * np.maximum(np.abs(mean), 1.0).astype(x.dtype))
    return (x - mean) / std


class Extractor:
    """The general extractor (see :class:`seqfusion.training.extractor.Extractor`): series
    ``[n, input_length]`` -> representations ``[n, dim]``."""

    def __init__(self, config: Mapping[str, Any] | ExtractorConfig, state: State) -> None:
        c = self.config = ExtractorConfig.from_dict(config)
        self.input_length = c.input_length
        self.patch_len = c.patch_len
        self.d_model = c.d_model
        self.n_heads = c.n_heads
        self.d_ff = c.d_ff
        self.n_layers = c.n_layers
        self.dim = c.dim
        self.n_patches = c.n_patches
        self.params = self._params(state)

    @classmethod
    def state_shapes(cls, config: Mapping[str, Any] | Config) -> dict[str, tuple[int, ...]]:
        """Names and shapes of the torch extractor's tensors (the decoder's included)."""
        c = ExtractorConfig.from_dict(config)
        L, d, dim = c.patch_len, c.d_model, c.dim
        out = {"embed_patch.weight": (d, L), "embed_patch.bias": (d,), "position": (1, c.n_patches, d),
               "project.0.weight": (d, d), "project.0.bias": (d,), "project.2.weight": (dim, d),
               "project.2.bias": (dim,), "decoder.weight": (L, d), "decoder.bias": (L,)}
        for i in range(c.n_layers):
            out |= encoder_layer_shapes(f"encoder.layers.{i}.", d, c.d_ff)
        return out

    def _params(self, state: State) -> _ExtractorParams:
        d, last = self.d_model, self.n_layers - 1
        layers = [encoder_layer(state, f"encoder.layers.{i}.", d, self.n_heads, i < last)
                  for i in range(self.n_layers)]
        emb_b = state["embed_patch.bias"].astype(np.float64)[None, :] + state["position"][0].astype(np.float64)
        tok_w = token_weights(state, state["embed_patch.weight"].astype(np.float64), emb_b, d, self.n_heads)
        g = state[f"encoder.layers.{last}.norm2.weight"].astype(np.float64)
        b = state[f"encoder.layers.{last}.norm2.bias"].astype(np.float64)
        p1 = state["project.0.weight"].astype(np.float64)
        return _ExtractorParams(
            tok_w=f32(tok_w), layers=layers,
            proj1_w=f32(p1 * g[None, :]), proj1_b=col(state["project.0.bias"].astype(np.float64) + p1 @ b),
            proj2_w=f32(state["project.2.weight"]), proj2_b=col(state["project.2.bias"]),
        )

    def represent_fm(self, zt: np.ndarray) -> np.ndarray:
        """Normalized series, feature-major ``[T, c]`` -> representations ``[dim, c]``."""
        p, P, d = self.params, self.n_patches, self.d_model
        ws = workspace()
        L, c = self.patch_len, zt.shape[-1]
        patches = ws.get("patches", (L + P, P, c), init=one_hot_tokens)
        np.positive(zt.reshape(P, L, c).transpose(1, 0, 2), out=patches[:L])
        tokens = ws.get("tokens", (4 * d + 1, P * c))
        matmul_cols(p.tok_w, view(patches, (L + P, P * c)), out=tokens)
        h = encode(p, tokens, self.n_heads, P, ws)
        pooled = np.empty((d, c), dtype=np.float32)
        sum_features(h.reshape(d, P, c), pooled)
        pooled /= P
        u = matmul_cols(p.proj1_w, pooled)
        u += p.proj1_b
        r = matmul_cols(p.proj2_w, gelu(u))
        r += p.proj2_b
        return r

    def embed(self, x: np.ndarray, batch_size: int | None = None, threads: int | None = None) -> np.ndarray:
        """Representations ``[n, dim]`` float32 of raw series ``x [n, T]`` (z-normalized per
        row inside, as the torch extractor's ``embed``); rows in chunks of ``batch_size``
        (default 256) over ``threads`` threads (None: all usable CPUs)."""
        batch_size = batch_size or 256
        z = znorm_rows(np.asarray(x, dtype=np.float32))
        n = len(z)
        out = np.empty((n, self.dim), dtype=np.float32)
        zt = np.ascontiguousarray(z.T)

        def run(lo: int) -> None:
            out[lo : lo + batch_size] = self.represent_fm(np.ascontiguousarray(zt[:, lo : lo + batch_size])).T

        for _ in parallel_map(run, range(0, n, batch_size), threads):
            pass
        return out

    __call__ = embed
