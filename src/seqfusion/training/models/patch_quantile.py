"""Long-context PatchTST with quantile outputs: the zoo's members that read whole histories.

Differences from :class:`~seqfusion.training.models.patchtst.PatchTST`: the context may hold
missing points (NaN, e.g. left padding of a short history), which are masked out of the
instance normalization and fed as a second channel of every patch; patches do not overlap;
the head forecasts ``n_quantiles`` evenly spaced quantile levels (0.1 ... 0.9 for nine) of
every step at once.
"""
from __future__ import annotations

import torch
from torch import nn

from seqfusion.training.models import register

#: the smallest instance-normalization scale, relative to max(1, |mean|)
SCALE_FLOOR = 1e-5


def quantile_levels(n: int) -> torch.Tensor:
    """``n`` evenly spaced levels in (0, 1): ``1/(n+1) ... n/(n+1)``."""
    return torch.arange(1, n + 1, dtype=torch.float32) / (n + 1)


@register("patch_quantile")
class PatchQuantile(nn.Module):
    """``[batch, input_length]`` (NaN = missing) ``-> [batch, n_quantiles, horizon]``."""

    def __init__(
        self,
        input_length: int = 512,
        horizon: int = 64,
        patch_len: int = 32,
        d_model: int = 128,
        n_heads: int = 8,
        d_ff: int = 256,
        n_layers: int = 3,
        n_quantiles: int = 9,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if input_length % patch_len:
            raise ValueError("input_length must be a multiple of patch_len")
        self.input_length = input_length
        self.horizon = horizon
        self.patch_len = patch_len
        self.n_patches = input_length // patch_len
        self.n_quantiles = n_quantiles
        self.embed = nn.Linear(2 * patch_len, d_model)
        self.position = nn.Parameter(torch.zeros(1, self.n_patches, d_model))
        nn.init.normal_(self.position, std=0.02)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, d_ff, dropout, batch_first=True, norm_first=False)
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.head = nn.Linear(self.n_patches * d_model, n_quantiles * horizon)
        self.dropout = nn.Dropout(dropout)

    def normalize(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(z, mask, mean, scale)``: the context standardized over its observed points
        (zero where missing), the mask (1 observed) and the statistics ``[batch, 1]``."""
        mask = torch.isfinite(x)
        m = mask.to(x.dtype)
        count = m.sum(dim=1, keepdim=True).clamp(min=1.0)
        xz = torch.where(mask, x, torch.zeros_like(x))
        mean = xz.sum(dim=1, keepdim=True) / count
        dev = torch.where(mask, x - mean, torch.zeros_like(x))
        var = (dev * dev).sum(dim=1, keepdim=True) / count
        scale = torch.sqrt(var) + SCALE_FLOOR * torch.clamp(mean.abs(), min=1.0)
        return dev / scale, m, mean, scale

    def forward_normalized(self, z: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """Quantiles ``[batch, Q, h]`` on the normalized scale."""
        B = z.shape[0]
        P, L = self.n_patches, self.patch_len
        tokens = torch.cat([z.reshape(B, P, L), m.reshape(B, P, L)], dim=2)
        h = self.dropout(self.embed(tokens) + self.position)
        h = self.encoder(h)
        return self.head(h.flatten(1)).reshape(B, self.n_quantiles, self.horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z, m, mean, scale = self.normalize(x)
        return self.forward_normalized(z, m) * scale[:, :, None] + mean[:, :, None]
