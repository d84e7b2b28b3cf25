"""Transformer kernels in the feature-major layout: encoder-layer weights from torch
tensors, token projections, LayerNorm, multi-head attention and the encoder loop.

Activations are feature-major: ``[..., d, P * c]`` = features x (patch, series) with the
series innermost, so that per-token work is elementwise over long contiguous rows and
every linear layer is one (batched) matrix product. A leading axis, when present,
stacks members of the same configuration. Inputs of linear layers carry one more row of
ones and the weights one more column holding the bias, so that biases cost nothing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqfusion.engine.matmul import matmul_cols, sum_features, view
from seqfusion.engine.threads import Workspace
from seqfusion.engine.weights import State, col, f32, with_bias

LAYER_NORM_EPS = 1e-5


@dataclass
class Layer:
    """One post-norm Transformer encoder layer (ReLU feed-forward), feature-major.

    Weights are ``[..., out, in + 1]`` with the bias as last column; ``in_w`` (the
    attention input projection) has its query rows pre-scaled by ``1/sqrt(head_dim)``.
    LayerNorm parameters are column vectors ``[..., d, 1]``; ``n2_w``/``n2_b`` is None when
    the second LayerNorm's affine part is folded into what reads the layer's output.
    """

    in_w: np.ndarray
    out_w: np.ndarray
    l1_w: np.ndarray
    l2_w: np.ndarray
    n1_w: np.ndarray
    n1_b: np.ndarray
    n2_w: np.ndarray | None
    n2_b: np.ndarray | None


def _attention_projection(state: State, prefix: str, d: int, n_heads: int) -> tuple[np.ndarray, np.ndarray]:
    """Attention input projection ``(W [3d, d], b [3d])`` in float64, queries pre-scaled."""
    scale = np.ones(3 * d)
    scale[:d] = 1.0 / math.sqrt(d // n_heads)
    w = state[prefix + "self_attn.in_proj_weight"].astype(np.float64) * scale[:, None]
    return w, state[prefix + "self_attn.in_proj_bias"].astype(np.float64) * scale


def encoder_layer(state: State, prefix: str, d: int, n_heads: int, keep_norm2: bool) -> Layer:
    """A :class:`Layer` from the torch ``nn.TransformerEncoderLayer`` tensors under ``prefix``."""
    in_w, in_b = _attention_projection(state, prefix, d, n_heads)
    return Layer(
        in_w=with_bias(in_w, in_b),
        out_w=with_bias(state[prefix + "self_attn.out_proj.weight"], state[prefix + "self_attn.out_proj.bias"]),
        l1_w=with_bias(state[prefix + "linear1.weight"], state[prefix + "linear1.bias"]),
        l2_w=with_bias(state[prefix + "linear2.weight"], state[prefix + "linear2.bias"]),
        n1_w=col(state[prefix + "norm1.weight"]), n1_b=col(state[prefix + "norm1.bias"]),
        n2_w=col(state[prefix + "norm2.weight"]) if keep_norm2 else None,
        n2_b=col(state[prefix + "norm2.bias"]) if keep_norm2 else None,
    )


def encoder_layer_shapes(prefix: str, d: int, d_ff: int) -> dict[str, tuple[int, ...]]:
    """Names and shapes of one ``nn.TransformerEncoderLayer``'s tensors under ``prefix``."""
    return {
        prefix + "self_attn.in_proj_weight": (3 * d, d), prefix + "self_attn.in_proj_bias": (3 * d,),
        prefix + "self_attn.out_proj.weight": (d, d), prefix + "self_attn.out_proj.bias": (d,),
        prefix + "linear1.weight": (d_ff, d), prefix + "linear1.bias": (d_ff,),
        prefix + "linear2.weight": (d, d_ff), prefix + "linear2.bias": (d,),
        prefix + "norm1.weight": (d,), prefix + "norm1.bias": (d,),
        prefix + "norm2.weight": (d,), prefix + "norm2.bias": (d,),
    }


def token_weights(state: State, emb_w: np.ndarray, emb_b: np.ndarray, d: int, n_heads: int) -> np.ndarray:
    """Weights ``[4d + 1, L + P]`` (float64) mapping a token's patch (``L`` values) and its
    one-hot position (``P`` values) to the first layer's ``q, k, v`` (``3d`` rows), the
    token state (``d`` rows) and a constant one (last row); ``emb_w [d, L]`` embeds a patch,
    ``emb_b [P, d]`` is each token's embedding bias plus position."""
    in_w, in_b = _attention_projection(state, "encoder.layers.0.", d, n_heads)
    L, P = emb_w.shape[1], emb_b.shape[0]
    out = np.zeros((4 * d + 1, L + P))
    out[: 3 * d, :L] = in_w @ emb_w
    out[: 3 * d, L:] = (emb_b @ in_w.T + in_b).T
    out[3 * d : 4 * d, :L] = emb_w
    out[3 * d : 4 * d, L:] = emb_b.T
    out[4 * d, L:] = 1.0
    return out


def one_hot_tokens(patches: np.ndarray) -> None:
    """Fill rows ``L..L+P`` of ``patches [..., L + P, P, c]`` with each token's one-hot position."""
    P = patches.shape[-2]
    patches[..., -P:, :, :] = np.eye(P, dtype=np.float32)[:, :, None]


def _layer_norm(x: np.ndarray, w: np.ndarray | None, b: np.ndarray | None, ws: Workspace) -> None:
    """LayerNorm over the feature axis ``-2`` of ``x [..., d, cols]``, in place."""
    stat = ws.get("ln", x.shape[:-2] + (1, x.shape[-1]))
    sum_features(x, stat[..., 0, :])
    stat /= x.shape[-2]
    x -= stat
    sum_features(x, stat[..., 0, :], square=True)
    stat *= 1.0 / x.shape[-2]
    stat += LAYER_NORM_EPS
    np.sqrt(stat, out=stat)
    x /= stat
    if w is not None:
        x *= w
        x += b


def _attention(qkv: np.ndarray, n_heads: int, n_tokens: int, out: np.ndarray, ws: Workspace) -> None:
    """Multi-head self-attention of ``qkv [..., 3d, P * c]`` (queries pre-scaled) into
    ``out [..., d, P * c]``: the concatenated head outputs, before the output projection."""
    lead = qkv.shape[:-2]
    d = qkv.shape[-2] // 3
    c = qkv.shape[-1] // n_tokens
    split = (*lead, n_heads, d // n_heads, n_tokens, c)
    q = view(qkv[..., :d, :], split)
    k = view(qkv[..., d : 2 * d, :], split)
    v = view(qkv[..., 2 * d :, :], split)
    s = ws.get("scores", (*lead, n_heads, n_tokens, n_tokens, c))  # [..., head, query, key, c]
    np.einsum("...hdin,...hdjn->...hijn", q, k, out=s)
    stat = ws.get("softmax", (*lead, n_heads, n_tokens, 1, c))
    np.max(s, axis=-2, keepdims=True, out=stat)
    s -= stat
    np.exp(s, out=s)
    sum_features(s, stat[..., 0, :])
    s /= stat
    o = view(out, split)
    if c > 1:
        np.einsum("...hijn,...hdjn->...hdin", s, v, out=o)
    else:  # keys added in order, as the einsum does for more than one series
        np.multiply(s[..., None, :, 0, :], v[..., :, None, 0, :], out=o)
        for j in range(1, n_tokens):
            o += s[..., None, :, j, :] * v[..., :, None, j, :]


def encode(p: Any, tokens: np.ndarray, n_heads: int, n_tokens: int, ws: Workspace) -> np.ndarray:
    """The encoder ``p.layers`` over first-layer token projections ``tokens [..., 4d + 1, P * c]``
    (rows: ``q, k, v``, token state, ones; see :func:`token_weights`), in place; returns the
    last layer's token states ``[..., d, P * c]`` (a view of ``tokens``)."""
    lead, cols = tokens.shape[:-2], tokens.shape[-1]
    d = (tokens.shape[-2] - 1) // 4
    qkv, h, h1 = tokens[..., : 3 * d, :], tokens[..., 3 * d : 4 * d, :], tokens[..., 3 * d :, :]
    a = ws.get("attn", lead + (d + 1, cols), ones=True)
    r = ws.get("resid", lead + (d + 1, cols), ones=True)
    for i, layer in enumerate(p.layers):
        if i:
            matmul_cols(layer.in_w, h1, out=qkv)
        _attention(qkv, n_heads, n_tokens, a[..., :d, :], ws)
        matmul_cols(layer.out_w, a, out=r[..., :d, :])
        r[..., :d, :] += h
        _layer_norm(r[..., :d, :], layer.n1_w, layer.n1_b, ws)
        f = ws.get("ffn", lead + (layer.l1_w.shape[-2] + 1, cols), ones=True)
        matmul_cols(layer.l1_w, r, out=f[..., :-1, :])
        np.maximum(f, 0.0, out=f)
        matmul_cols(layer.l2_w, f, out=h)
        h += r[..., :d, :]
        _layer_norm(h, layer.n2_w, layer.n2_b, ws)
    return h


def patch_encoder(state: State, d: int, n_heads: int, n_layers: int, n_patches: int, out: int
                  ) -> tuple[np.ndarray, list[Layer], np.ndarray]:
    """The weights of a patch encoder with a flat head (PatchTST and its relatives), from
    torch tensors ``embed``, ``position``, ``encoder.layers.*`` and ``head``: the first
    layer's token projections (see :func:`token_weights`), the layers (the last one's second
    LayerNorm folded into the head) and the head ``[out, (d + 1) * P]`` over feature-major
    token states (float32)."""
    last = n_layers - 1
    layers = [encoder_layer(state, f"encoder.layers.{i}.", d, n_heads, i < last) for i in range(n_layers)]
    emb_b = state["embed.bias"].astype(np.float64)[None, :] + state["position"][0].astype(np.float64)
    tok_w = token_weights(state, state["embed.weight"].astype(np.float64), emb_b, d, n_heads)
    P = n_patches
    head = state["head.weight"].astype(np.float64).reshape(out, P, d).transpose(0, 2, 1)  # [out, d, P]
    g = state[f"encoder.layers.{last}.norm2.weight"].astype(np.float64)
    b = state[f"encoder.layers.{last}.norm2.bias"].astype(np.float64)
    head_w = np.zeros((out, d + 1, P))
    head_w[:, :d] = head * g[None, :, None]
    head_w[:, d, 0] = state["head.bias"].astype(np.float64) + np.einsum("hdp,d->h", head, b)
    return f32(tok_w), layers, f32(head_w.reshape(out, (d + 1) * P))
