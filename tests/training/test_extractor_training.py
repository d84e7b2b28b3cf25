"""Extractor training (paper Eq. 4): the three losses and the training loop."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from seqfusion.training.extractor import Extractor
from seqfusion.training.extractor_training import (
    ExtractorTrainConfig,
    contrastive_loss,
    masked_views,
    pair_cosines,
    reconstruction_loss,
    similarity_matrix,
    summarize_history,
    train_extractor,
    transfer_loss,
)

SMALL = {"input_length": 36, "patch_len": 4, "d_model": 32, "n_heads": 4, "d_ff": 64,
         "n_layers": 1, "dim": 32, "dropout": 0.0}


def _groups_data(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(36)
    sine = np.sin(2 * np.pi * t / 7 + rng.uniform(0, 7, (n, 1))) + 0.1 * rng.normal(size=(n, 36))
    walk = rng.normal(size=(n, 36)).cumsum(axis=1)
    noise = rng.normal(size=(n, 36))
    return np.concatenate([sine, walk, noise]), np.repeat([0, 1, 2], n)


def _cfg(**kw) -> ExtractorTrainConfig:
    base = dict(steps=120, batch_size=16, n_views=3, transfer_pairs=32, lr=2e-3, seed=0)
    return ExtractorTrainConfig(**{**base, **kw})


G = np.array([[0.9, -0.6, 0.0], [-0.6, 0.8, 0.1], [0.0, 0.1, 0.3]])


def test_masked_views_mask_points_to_zero() -> None:
    x = torch.ones(5, 36)
    v = masked_views(x, 3, 0.5, torch.Generator().manual_seed(0))
    assert v.shape == (15, 36)
    assert set(v.unique().tolist()) <= {0.0, 1.0}
    assert 0.35 < float((v == 0).float().mean()) < 0.65
    assert torch.equal(masked_views(x, 2, 0.0), torch.ones(10, 36))
    with pytest.raises(ValueError):
        masked_views(x, 1, 1.0)


def test_reconstruction_excludes_the_item_itself() -> None:
    torch.manual_seed(0)
    ext = Extractor(**SMALL).eval()
    x = torch.randn(4, 36)
    tokens = ext.tokens(x)
    sim = similarity_matrix(ext.represent(tokens), 0.2)
    assert torch.isinf(sim.diagonal()).all()
    # With only two items each original is rebuilt from the other one alone.
    t2, s2 = tokens[:2], sim[:2, :2]
    loss = reconstruction_loss(ext, t2, s2, x[:1])
    expected = torch.mean((ext.decode(t2[1:2]) - x[:1]) ** 2)
    assert torch.allclose(loss, expected, atol=1e-6)


def test_contrastive_loss_prefers_matching_groups() -> None:
    groups = torch.tensor([0, 1, 0, 1])
    good = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1], [0.1, 1.0]])
    bad = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    lg = contrastive_loss(similarity_matrix(good, 0.2), groups)
    lb = contrastive_loss(similarity_matrix(bad, 0.2), groups)
    assert lg < 0.1 < lb


def test_transfer_loss_is_zero_when_cosine_matches_g() -> None:
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    b = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert float(transfer_loss(a, b, torch.tensor([1.0, 0.0]))) == pytest.approx(0.0, abs=1e-7)
    # g beyond [-1, 1] is clipped: g = 3 acts like 1.
    assert float(transfer_loss(a[:1], b[:1], torch.tensor([3.0]))) == pytest.approx(0.0, abs=1e-7)
    assert float(transfer_loss(a[:1], b[:1], torch.tensor([0.0]))) == pytest.approx(1.0)


def test_losses_decrease_and_transfer_pulls_cosine_toward_g() -> None:
    torch.set_num_threads(1)
    x, grp = _groups_data()
    before = pair_cosines(Extractor(**SMALL), x, grp, 3)  # untrained (seeded below anyway)
    ext, hist = train_extractor(x, grp, G, _cfg(), extractor_config=SMALL, progress=False)
    assert set(hist) >= {"loss", "recon", "contrastive", "transfer"}
    assert len(hist["loss"]) == 120
    for key in ("recon", "transfer", "loss"):
        assert np.mean(hist[key][-25:]) < np.mean(hist[key][:25]), key
    after = pair_cosines(ext, x, grp, 3)
    ext0, hist0 = train_extractor(x, grp, G, _cfg(use_transfer=False), extractor_config=SMALL,
                                  progress=False)
    without = pair_cosines(ext0, x, grp, 3)
    err = lambda c: float(np.abs(c - G).mean())  # noqa: E731
    assert err(after) < err(before)
    assert err(after) < err(without)
    assert np.corrcoef(after.ravel(), G.ravel())[0, 1] > 0.8
    assert all(v == 0.0 for v in hist0["transfer"])
    assert np.mean(hist0["recon"][-25:]) < np.mean(hist0["recon"][:25])
    s = summarize_history(hist, tail=10)
    assert s["steps"] == 120 and s["recon"]["last"] < s["recon"]["first"]


def test_use_transfer_needs_groups_and_g_and_training_is_deterministic() -> None:
    x, grp = _groups_data(60)
    with pytest.raises(ValueError, match="use_transfer"):
        train_extractor(x, None, None, _cfg(steps=2), extractor_config=SMALL, progress=False)
    with pytest.raises(ValueError, match="group ids"):
        train_extractor(x, grp + 5, G, _cfg(steps=2), extractor_config=SMALL, progress=False)
    with pytest.raises(ValueError, match="NaN"):
        bad = x.copy()
        bad[0, 0] = np.nan
        train_extractor(bad, grp, G, _cfg(steps=2), extractor_config=SMALL, progress=False)
    # NaN entries of g are never sampled.
    g = G.copy()
    g[0, 1] = g[1, 0] = np.nan
    e1, h1 = train_extractor(x, grp, g, _cfg(steps=15), extractor_config=SMALL, progress=False)
    e2, h2 = train_extractor(x, grp, g, _cfg(steps=15), extractor_config=SMALL, progress=False)
    assert h1["loss"] == h2["loss"]
    for (k, a), (_, b) in zip(e1.state_dict().items(), e2.state_dict().items()):
        assert torch.equal(a, b), k
    assert not e1.training


def test_config_from_dict_rejects_unknown_keys() -> None:
    assert ExtractorTrainConfig.from_dict({"steps": 3}).steps == 3
    with pytest.raises(ValueError, match="unknown"):
        ExtractorTrainConfig.from_dict({"stepz": 3})
