import numpy as np
import torch
from torch import nn

from seqfusion.training.rollout import rollout


class AffineLast(nn.Module):
    """Predicts h steps: each equals 0.5 * (last value) + the mean of the last 3."""

    def __init__(self, h: int = 4) -> None:
        super().__init__()
        self.h = h

    def forward(self, x):
        v = 0.5 * x[:, -1:] + x[:, -3:].mean(dim=1, keepdim=True)
        return v.expand(-1, self.h)


def hand_rollout(x: np.ndarray, horizon: int, h: int = 4) -> np.ndarray:
    ctx = list(x)
    out = []
    while len(out) < horizon:
        v = 0.5 * ctx[-1] + np.mean(ctx[-3:])
        block = [v] * h
        out += block
        ctx = (ctx + block)[-len(x):]
    return np.array(out[:horizon])


def test_rollout_matches_hand_computation():
    x = np.linspace(-1, 1, 10)
    got = rollout(AffineLast(), torch.tensor(x[None], dtype=torch.float64), 10, clip=None)
    np.testing.assert_allclose(got.numpy()[0], hand_rollout(x, 10), rtol=1e-12)


def test_rollout_keeps_last_T_points():
    class Echo(nn.Module):  # returns the first h points of its context
        def forward(self, x):
            return x[:, :3]

    x = torch.arange(6, dtype=torch.float32)[None]
    # block 1: [0,1,2]; ctx -> [3,4,5,0,1,2]; block 2: [3,4,5]; ctx -> [0,1,2,3,4,5]
    assert rollout(Echo(), x, 8, clip=None)[0].tolist() == [0, 1, 2, 3, 4, 5, 0, 1]


def test_rollout_guards_divergence():
    class Blow(nn.Module):
        def forward(self, x):
            out = x[:, -2:] * 1e6
            out[:, 0] = float("nan")
            return out

    got = rollout(Blow(), torch.ones(2, 5), 6, clip=10.0)
    assert torch.isfinite(got).all() and got.abs().max() <= 10.0
