"""Univariate PatchTST: instance normalization, patching, a Transformer encoder, flat head."""
from __future__ import annotations

import torch
from torch import nn

from seqfusion.training.models import register


@register("patchtst")
class PatchTST(nn.Module):
    """``[batch, input_length] -> [batch, horizon]``.

    The input is split into patches of ``patch_len`` points every ``stride`` points, after
    repeating the last value ``stride`` times at the end; each patch is embedded linearly,
    plus a learned position embedding, passed through ``n_layers`` encoder layers and
    flattened into a linear head. Instance normalization (input mean and std) wraps it all.
    """

    def __init__(
        self,
        input_length: int = 36,
        horizon: int = 12,
        patch_len: int = 16,
        stride: int = 8,
        d_model: int = 64,
        n_heads: int = 8,
        d_ff: int = 128,
        n_layers: int = 1,
        dropout: float = 0.05,
    ) -> None:
        super().__init__()
        self.input_length = input_length
        self.horizon = horizon
        self.patch_len = patch_len
        self.stride = stride
        self.n_patches = (input_length + stride - patch_len) // stride + 1
        self.embed = nn.Linear(patch_len, d_model)
        self.position = nn.Parameter(torch.zeros(1, self.n_patches, d_model))
        nn.init.normal_(self.position, std=0.02)
        layer = nn.TransformerEncoderLayer(
            d_model, n_heads, d_ff, dropout, batch_first=True, norm_first=False
        )
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.head = nn.Linear(self.n_patches * d_model, horizon)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=1, keepdim=True)
        std = (x.var(dim=1, keepdim=True, unbiased=False) + 1e-5).sqrt()
        z = (x - mean) / std
        z = torch.cat([z, z[:, -1:].expand(-1, self.stride)], dim=1)
        patches = z.unfold(1, self.patch_len, self.stride)  # [B, P, patch_len]
        h = self.dropout(self.embed(patches) + self.position)
        h = self.encoder(h)
        out = self.head(h.flatten(1))
        return out * std + mean
