"""General extractor: a masked-modelling encoder-decoder mapping a series to a vector.

The encoder embeds patches of a z-normalized series, runs a small Transformer and pools
the tokens into a representation; the decoder maps tokens back to the series. Training
(see :mod:`seqfusion.training.extractor_training`) combines reconstruction from masked views, a
series-wise contrastive loss and a transferability loss.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from seqfusion.engine import EXTRACTOR_STD_FLOOR
from seqfusion.preprocess import znorm


def znorm_rows(x: torch.Tensor, std_floor: float = EXTRACTOR_STD_FLOOR) -> torch.Tensor:
    """The extractor's input layer in torch: each row of ``[n, T]`` z-normalized with its std
    floored at ``std_floor * max(|mean|, 1)`` (a constant row maps to zeros). The same rule,
    written the same way, as :func:`seqfusion.engine.znorm_rows`, which the shipped extractor
    runs at inference (a test checks that the two agree). It is part of the model: the
    windows it reads are already normalized by :func:`seqfusion.preprocess.znorm`, in
    training (:func:`extractor_input`, :func:`embed_windows`) as at inference."""
    mean = x.mean(dim=1, keepdim=True)
    std = x.std(dim=1, keepdim=True, unbiased=False)
    std = torch.maximum(std, std_floor * torch.clamp(mean.abs(), min=1.0))
    return (x - mean) / std


def extractor_input(windows: np.ndarray) -> torch.Tensor:
    """What the extractor's encoder reads for raw windows ``[n, T]``: the forecaster's
    normalization (:func:`seqfusion.preprocess.znorm`, in float64), then the input layer
    (:func:`znorm_rows`) in float32, as the forecaster embeds its contexts."""
    return znorm_rows(torch.as_tensor(znorm(np.asarray(windows, dtype=np.float64))[0], dtype=torch.float32))


def embed_windows(extractor: Any, windows: np.ndarray) -> np.ndarray:
    """Embeddings ``[n, dim]`` of raw windows ``[n, T]`` by ``extractor`` (torch or the numpy
    engine's), normalized first as the forecaster normalizes contexts before embedding them."""
    return np.asarray(extractor.embed(znorm(np.asarray(windows, dtype=np.float64))[0]))


class Extractor(nn.Module):
    """``[n, input_length] -> tokens [n, P, d_model]`` and representation ``[n, dim]``."""

    def __init__(
        self,
        input_length: int = 36,
        patch_len: int = 4,
        d_model: int = 64,
        n_heads: int = 4,
        d_ff: int = 128,
        n_layers: int = 2,
        dim: int = 128,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if input_length % patch_len:
            raise ValueError("input_length must be a multiple of patch_len")
        self.input_length = input_length
        self.patch_len = patch_len
        self.n_patches = input_length // patch_len
        self.embed_patch = nn.Linear(patch_len, d_model)
        self.position = nn.Parameter(torch.zeros(1, self.n_patches, d_model))
        nn.init.normal_(self.position, std=0.02)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, d_ff, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.project = nn.Sequential(nn.Linear(d_model, d_model), nn.GELU(), nn.Linear(d_model, dim))
        self.decoder = nn.Linear(d_model, patch_len)

    @property
    def dim(self) -> int:
        """Size of the representation (the output width of ``project``)."""
        last = self.project[-1]
        if not isinstance(last, nn.Linear):
            raise TypeError(f"the extractor's projection must end in nn.Linear, not {type(last).__name__}")
        return last.out_features

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Normalized series ``[n, T]`` -> token states ``[n, P, d_model]``."""
        patches = x.reshape(x.shape[0], self.n_patches, self.patch_len)
        return self.encoder(self.embed_patch(patches) + self.position)

    def represent(self, tokens: torch.Tensor) -> torch.Tensor:
        """Token states ``[n, P, d_model]`` -> representation ``[n, dim]``."""
        return self.project(tokens.mean(dim=1))

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """Token states ``[n, P, d_model]`` -> reconstructed series ``[n, T]``."""
        return self.decoder(tokens).reshape(tokens.shape[0], -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw series ``[n, T]`` -> representation ``[n, dim]`` (normalizes internally)."""
        return self.represent(self.tokens(znorm_rows(x)))

    @torch.inference_mode()
    def embed(self, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """Embed series ``[n, T]`` (numpy) into ``[n, dim]`` float32 (eval mode, batched; the
        input layer normalizes each row, see :func:`embed_windows` for raw windows)."""
        was_training = self.training
        self.eval()
        xt = torch.as_tensor(np.asarray(x, dtype=np.float32))
        out = [self(xt[i : i + batch_size]) for i in range(0, len(xt), batch_size)]
        self.train(was_training)
        if not out:
            return np.zeros((0, self.dim), dtype=np.float32)
        return torch.cat(out).numpy()
