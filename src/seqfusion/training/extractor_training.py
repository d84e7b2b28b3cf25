"""Training the general extractor with the paper's objective (Eq. 4).

    L = L_rec + L_trans + lambda * L_con

* ``L_rec`` (masked modelling, SimMTM-style): every original series of a batch gets
  ``n_views`` randomly point-masked copies (masked points set to 0, the mean of a
  z-normalized series). Originals and views are encoded together; series-level
  representations give a cosine-similarity matrix over the whole batch. Each original is
  reconstructed by the decoder from a softmax(cos / tau)-weighted sum of the token states
  of all *other* items of the batch (itself excluded), so it must rely on its own masked
  views being judged most similar. The loss is the MSE to the original.
* ``L_con`` (series-wise contrastive, Eq. 2): InfoNCE over the same similarity matrix;
  for every item the other items of its own series (original and views) are positives,
  the items of other series are negatives.
* ``L_trans`` (transferability, Eq. 3): for random pairs of sub-datasets ``(i, j)`` one
  clean window of each is embedded and ``(g_ij - cos(E(x_i), E(x_j)))^2`` is minimised,
  where ``g_ij = 1 - MSE_ij`` (clipped to [-1, 1]) is how well PTMs trained on ``i``
  forecast ``j`` (see :mod:`seqfusion.training.transfer`).

The functions for the three losses are public so they can be tested on their own.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from seqfusion.training.extractor import Extractor, embed_windows, extractor_input


@dataclass
class ExtractorTrainConfig:
    """Optimisation settings of the extractor (see module docstring)."""

    steps: int = 2000
    batch_size: int = 64
    n_views: int = 3
    mask_ratio: float = 0.5
    temperature: float = 0.2
    lambda_contrastive: float = 0.1
    use_transfer: bool = True
    transfer_weight: float = 1.0
    transfer_pairs: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    clip: float = 1.0
    seed: int = 0

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ExtractorTrainConfig:
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown extractor training option(s): {', '.join(sorted(unknown))}")
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------- pieces
def masked_views(x: torch.Tensor, n_views: int, ratio: float, generator: torch.Generator | None = None
                 ) -> torch.Tensor:
    """``n_views`` point-masked copies of ``x [B, T]``: ``[n_views * B, T]`` (view-major).

    Each point is masked independently with probability ``ratio``; masked points are 0.
    """
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"mask ratio must be in [0, 1), got {ratio}")
    keep = torch.rand((n_views, *x.shape), generator=generator) >= ratio
    return (x.unsqueeze(0) * keep).reshape(n_views * x.shape[0], x.shape[1])


def similarity_matrix(reps: torch.Tensor, temperature: float) -> torch.Tensor:
    """Cosine similarities / temperature ``[N, N]`` with ``-inf`` on the diagonal."""
    z = F.normalize(reps, dim=1)
    sim = z @ z.T / temperature
    eye = torch.eye(len(z), dtype=torch.bool, device=z.device)
    return sim.masked_fill(eye, float("-inf"))


def reconstruction_loss(extractor: Extractor, tokens: torch.Tensor, sim: torch.Tensor,
                        originals: torch.Tensor) -> torch.Tensor:
    """MSE of originals rebuilt from the similarity-weighted tokens of the other items.

    ``tokens [N, P, d]`` and ``sim [N, N]`` (diagonal ``-inf``) cover the whole batch; the
    first ``B = len(originals)`` items are the originals.
    """
    b = len(originals)
    weights = torch.softmax(sim[:b], dim=1)  # [B, N], own entry is exactly 0
    agg = torch.einsum("bn,npd->bpd", weights, tokens)
    return F.mse_loss(extractor.decode(agg), originals)


def contrastive_loss(sim: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """Series-wise InfoNCE: positives are the other items of the same group.

    ``sim [N, N]`` holds cosine/tau with ``-inf`` on the diagonal; ``groups [N]`` the series
    id of each item. Anchors without any positive are skipped.
    """
    same = groups[:, None] == groups[None, :]
    same.fill_diagonal_(False)
    has_pos = same.any(dim=1)
    if not bool(has_pos.any()):
        return sim.new_zeros(())
    sim, same = sim[has_pos], same[has_pos]
    pos = torch.logsumexp(sim.masked_fill(~same, float("-inf")), dim=1)
    return (torch.logsumexp(sim, dim=1) - pos).mean()


def transfer_loss(rep_a: torch.Tensor, rep_b: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Eq. 3: mean of ``(g - cos(rep_a, rep_b))^2`` over pairs (``g`` clipped to [-1, 1])."""
    cos = F.cosine_similarity(rep_a, rep_b, dim=1)
    return ((g.clamp(-1.0, 1.0) - cos) ** 2).mean()


def pair_cosines(extractor: Extractor, windows: np.ndarray, groups: np.ndarray, n_groups: int,
                 per_group: int = 64, seed: int = 0) -> np.ndarray:
    """Mean cosine ``[S, S]`` between embeddings of windows of groups i and j (diagnostic).

    Uses up to ``per_group`` windows per group and averages over all cross pairs.
    """
    rng = np.random.default_rng(seed)
    reps: list[np.ndarray | None] = []  # unit embeddings per group (None: no window)
    for s in range(n_groups):
        idx = np.flatnonzero(groups == s)
        if len(idx) == 0:
            reps.append(None)
            continue
        pick = rng.choice(idx, size=min(per_group, len(idx)), replace=False)
        e = embed_windows(extractor, windows[pick])
        reps.append(e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12))
    out = np.full((n_groups, n_groups), np.nan)
    for i in range(n_groups):
        for j in range(n_groups):
            ri, rj = reps[i], reps[j]
            if ri is not None and rj is not None:
                out[i, j] = float((ri @ rj.T).mean())
    return out


# ---------------------------------------------------------------------- training
def train_extractor(
    windows: np.ndarray,
    groups: np.ndarray | None = None,
    g: np.ndarray | None = None,
    config: ExtractorTrainConfig | None = None,
    extractor: Extractor | None = None,
    extractor_config: dict[str, Any] | None = None,
    progress: bool = True,
    desc: str = "extractor",
) -> tuple[Extractor, dict[str, list[float]]]:
    """Train an extractor on sub-series ``windows [N, T]`` (raw; z-normalized here).

    ``groups [N]``: sub-dataset index of each window (0..S-1) and ``g [S, S]``: target
    similarities (``1 - MSE``; NaN entries are never sampled), both needed when
    ``config.use_transfer``. ``extractor``: a model to continue training (else a new one
    from ``extractor_config``). Returns the extractor (eval mode) and the per-step loss
    history ``{"loss", "recon", "contrastive", "transfer"}`` plus ``"seconds"``.
    """
    cfg = config or ExtractorTrainConfig()
    x_all = np.asarray(windows, dtype=np.float64)
    if x_all.ndim != 2 or len(x_all) < 2:
        raise ValueError(f"need at least 2 windows [N, T], got shape {x_all.shape}")
    if not np.isfinite(x_all).all():
        raise ValueError("extractor windows contain NaN or inf")
    if cfg.batch_size < 2 or cfg.n_views < 1 or cfg.steps < 0:
        raise ValueError("need batch_size >= 2, n_views >= 1 and steps >= 0")
    torch.manual_seed(cfg.seed)
    if extractor is None:
        extractor = Extractor(**(extractor_config or {"input_length": x_all.shape[1]}))
    if x_all.shape[1] != extractor.input_length:
        raise ValueError(f"windows have {x_all.shape[1]} points, the extractor takes {extractor.input_length}")
    xt = extractor_input(x_all)  # as the forecaster embeds a context

    # (pairs_i, pairs_j, pair_g): the usable sub-dataset pairs and their target similarity
    transfer: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    members_of: list[np.ndarray] = []
    if cfg.use_transfer:
        if groups is None or g is None:
            raise ValueError("use_transfer needs groups and the transferability matrix g")
        groups = np.asarray(groups, dtype=np.int64)
        g = np.asarray(g, dtype=np.float64)
        if groups.shape != (len(x_all),) or g.ndim != 2 or g.shape[0] != g.shape[1]:
            raise ValueError("groups must be [N] and g [S, S]")
        if groups.min() < 0 or groups.max() >= len(g):
            raise ValueError(f"group ids must lie in [0, {len(g)})")
        members_of = [np.flatnonzero(groups == s) for s in range(len(g))]
        ok = np.isfinite(g) & np.array([[len(members_of[i]) > 0 and len(members_of[j]) > 0
                                         for j in range(len(g))] for i in range(len(g))])
        pairs_i, pairs_j = np.nonzero(ok)
        if len(pairs_i) == 0:
            raise ValueError("no usable sub-dataset pair (g all NaN or groups empty)")
        transfer = (pairs_i, pairs_j, np.clip(g[pairs_i, pairs_j], -1.0, 1.0))

    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.AdamW(extractor.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    b = min(cfg.batch_size, len(xt))
    group_ids = torch.arange(b).repeat(cfg.n_views + 1)
    history: dict[str, list[float]] = {"loss": [], "recon": [], "contrastive": [], "transfer": []}
    perm = rng.permutation(len(xt))
    pos = 0
    start = time.perf_counter()
    extractor.train()
    bar = tqdm(range(cfg.steps), desc=desc, disable=not progress, leave=False, mininterval=2.0)
    for _ in bar:
        if pos + b > len(perm):
            perm, pos = rng.permutation(len(xt)), 0
        orig = xt[torch.as_tensor(perm[pos:pos + b])]
        pos += b
        items = torch.cat([orig, masked_views(orig, cfg.n_views, cfg.mask_ratio, gen)])
        tokens = extractor.tokens(items)
        sim = similarity_matrix(extractor.represent(tokens), cfg.temperature)
        l_rec = reconstruction_loss(extractor, tokens, sim, orig)
        l_con = contrastive_loss(sim, group_ids)
        loss = l_rec + cfg.lambda_contrastive * l_con
        l_tr = torch.zeros(())
        if transfer is not None:  # (set exactly when cfg.use_transfer)
            pairs_i, pairs_j, pair_g = transfer
            k = rng.integers(0, len(pairs_i), size=cfg.transfer_pairs)
            ia = np.array([rng.choice(members_of[s]) for s in pairs_i[k]])
            ib = np.array([rng.choice(members_of[s]) for s in pairs_j[k]])
            reps = extractor.represent(extractor.tokens(xt[torch.as_tensor(np.concatenate([ia, ib]))]))
            l_tr = transfer_loss(reps[: len(k)], reps[len(k):],
                                 torch.as_tensor(pair_g[k], dtype=torch.float32))
            loss = loss + cfg.transfer_weight * l_tr
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]  # torch's Tensor.backward is unannotated
        if cfg.clip:
            torch.nn.utils.clip_grad_norm_(extractor.parameters(), cfg.clip)
        opt.step()
        for key, val in (("loss", loss), ("recon", l_rec), ("contrastive", l_con), ("transfer", l_tr)):
            history[key].append(val.item())
        bar.set_postfix(rec=f"{history['recon'][-1]:.3f}", con=f"{history['contrastive'][-1]:.3f}",
                        tr=f"{history['transfer'][-1]:.3f}", refresh=False)
    extractor.eval()
    history["seconds"] = [round(time.perf_counter() - start, 2)]
    return extractor, history


def summarize_history(history: dict[str, list[float]], tail: int = 100) -> dict[str, Any]:
    """First/last (mean over ``tail`` steps) of every loss in a history, for manifests."""
    out: dict[str, Any] = {}
    for k, v in history.items():
        if k == "seconds" or not v:
            continue
        n = min(tail, len(v))
        out[k] = {"first": round(float(np.mean(v[:n])), 5), "last": round(float(np.mean(v[-n:])), 5)}
    if history.get("seconds"):
        out["seconds"] = history["seconds"][0]
    out["steps"] = len(history.get("loss", []))
    return out
