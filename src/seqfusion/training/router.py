"""Learned fusion weights: a small network mapping a context to weights over the zoo's members.

The router sees what the forecaster sees -- a z-normalized context ``[n, T]`` and its
extractor embedding ``[n, d]`` -- and returns logits over the zoo's members; the forecast
is the softmax-weighted mean of the members' roll-outs. It is trained once per zoo, after
the members are fixed, on windows that no member was trained on (held-out parts of the
sources, see :func:`seqfusion.training.split_series`): every member's roll-out to
``horizon`` steps is computed once per window, and the weights are fitted to minimize the
squared error of the weighted forecast, steps weighted as in the mean over the
benchmark's horizons {6, 8, 14, 18, 24, 36, 48}. Part of the windows get a left-padded
context (as the forecaster pads short histories), so the router also learns what to trust
when only a few points are known.

Compared with similarity routing (the paper's top-k by cosine similarity) the router is
trained on forecast error directly; see ``benchmarks/results/ablations.md``.

With ``ensemble = N`` the build fits N routers (seeds ``seed .. seed + N - 1``, each on its
own windows) and the forecaster averages their weights (:class:`RouterEnsemble`): one
router's seed alone moves the benchmark's validation score by more than most design
choices do.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from seqfusion.training.rollout import rollout

PROTOCOL_HORIZONS = (6, 8, 14, 18, 24, 36, 48)
#: the frequency whose natural season a period is (synthetic seasonal groups' labels)
SEASON_FREQUENCY = {4: "quarterly", 7: "daily", 12: "monthly", 24: "hourly", 52: "weekly"}
STD_FLOOR = 1e-8


@dataclass
class RouterConfig:
    """Architecture and training settings of a router."""

    hidden: int = 128
    dropout: float = 0.1
    acf_lags: int = 0  # autocorrelations of the differenced context fed to the router
    epochs: int = 20
    lr: float = 2e-3
    batch_size: int = 512
    weight_decay: float = 1e-4
    seed: int = 0
    horizon: int = 48
    n_windows: int = 3000  # per window group (sub-dataset or source)
    min_windows: int = 100
    pad_fraction: float = 0.25  # share of windows whose context is left-padded
    min_context: int = 8
    random_walks: int = 3000  # synthetic random-walk windows per random-walk group
    random_walk_groups: int = 1  # 1: Gaussian steps; 2: + heavy-tailed; 3: + wandering volatility
    seasonal: int = 0  # synthetic seasonal windows (periods below) added as one more group
    seasonal_periods: tuple[int, ...] = (4, 7, 12, 24)
    frequency: bool = False  # feed the sampling-frequency class (one-hot) to the router
    frequency_dropout: float = 0.3  # share of training windows shown as frequency "unknown"
    scale_weight: bool = True  # weight windows by (context std / group median)^2
    clip: float = 10.0
    ensemble: int = 1  # routers fitted with seeds seed .. seed + ensemble - 1, weights averaged

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RouterConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown router key(s): {', '.join(sorted(unknown))}")
        d = dict(d)
        if "seasonal_periods" in d:
            d["seasonal_periods"] = tuple(int(p) for p in d["seasonal_periods"])
        if "ensemble" in d and (not isinstance(d["ensemble"], int) or isinstance(d["ensemble"], bool)
                                or d["ensemble"] < 1):
            raise ValueError(f"router ensemble must be an integer >= 1, got {d['ensemble']!r}")
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if out["ensemble"] == 1:  # (one router: the cache keys of such configs stay as they were)
            del out["ensemble"]
        return out


def step_weights(horizon: int, horizons: Sequence[int] = PROTOCOL_HORIZONS) -> np.ndarray:
    """Weight of each step ``1..horizon`` in the mean over ``horizons`` of per-horizon MSEs.

    Step ``t`` enters every horizon ``H >= t`` with weight ``1/H``; steps beyond the
    largest horizon get the weight of the last one. Returns ``[horizon]`` summing to 1.
    """
    hs = sorted(h for h in horizons if h > 0)
    w = np.array([sum(1.0 / h for h in hs if h >= t) for t in range(1, horizon + 1)], dtype=np.float64)
    if (w == 0).any():
        w[w == 0] = w[w > 0][-1] if (w > 0).any() else 1.0
    return w / w.sum()


class Router(nn.Module):
    """``(normalized context [n, T], embedding [n, d]) -> logits [n, n_members]``.

    Features: the context, the std and mean absolute value of its first differences, the
    autocorrelations of the differences at lags ``1..acf_lags`` (0: none), the
    unit-length embedding and, when ``frequencies`` > 0, the one-hot sampling-frequency
    class (:data:`seqfusion.frequency.CLASSES`, the last one meaning unknown).
    """

    def __init__(self, n_members: int, input_length: int = 36, embed_dim: int = 128,
                 hidden: int = 128, dropout: float = 0.1, acf_lags: int = 0,
                 frequencies: int = 0) -> None:
        super().__init__()
        if not 0 <= acf_lags <= input_length - 3:
            raise ValueError(f"acf_lags must be in [0, {input_length - 3}]")
        self.n_members = n_members
        self.input_length = input_length
        self.embed_dim = embed_dim
        self.acf_lags = acf_lags
        self.frequencies = frequencies
        n_in = input_length + 2 + acf_lags + embed_dim + frequencies
        self.net = nn.Sequential(
            nn.Linear(n_in, hidden), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden, n_members),
        )

    def features(self, x: torch.Tensor, emb: torch.Tensor, freq: torch.Tensor | None = None
                 ) -> torch.Tensor:
        """Feature matrix ``[n, T + 2 + acf_lags + d (+ F)]`` (see the class docstring);
        ``freq``: class indices ``[n]`` (None: unknown), used when the router has
        frequency inputs."""
        d1 = x[:, 1:] - x[:, :-1]
        parts = [x, d1.std(dim=1, keepdim=True), d1.abs().mean(dim=1, keepdim=True)]
        if self.acf_lags:
            dc = d1 - d1.mean(dim=1, keepdim=True)
            denom = (dc * dc).sum(dim=1, keepdim=True).clamp_min(1e-12)
            parts.append(torch.cat([(dc[:, lag:] * dc[:, :-lag]).sum(dim=1, keepdim=True)
                                    for lag in range(1, self.acf_lags + 1)], dim=1) / denom)
        parts.append(emb / emb.norm(dim=1, keepdim=True).clamp_min(1e-12))
        if self.frequencies:
            if freq is None:
                freq = torch.full((len(x),), self.frequencies - 1, dtype=torch.int64)
            parts.append(nn.functional.one_hot(torch.as_tensor(freq, dtype=torch.int64),
                                               self.frequencies).to(x.dtype))
        return torch.cat(parts, dim=1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor, freq: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(self.features(x, emb, freq))

    @torch.inference_mode()
    def weights(self, x: np.ndarray, emb: np.ndarray, temperature: float = 1.0,
                freq: np.ndarray | None = None) -> np.ndarray:
        """Softmax weights ``[n, n_members]`` for normalized contexts and embeddings
        (``freq``: frequency class indices ``[n]``, or None for unknown)."""
        self.eval()
        f = None if freq is None else torch.as_tensor(np.asarray(freq, dtype=np.int64))
        logits = self(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(emb, dtype=torch.float32), f)
        return torch.softmax(logits.double() / temperature, dim=1).numpy()


class RouterEnsemble(nn.Module):
    """Several :class:`Router` networks fitted to the same members with different seeds;
    the fused weights are the mean of their softmax weights."""

    def __init__(self, routers: Sequence[Router]) -> None:
        super().__init__()
        if not routers:
            raise ValueError("an ensemble needs at least one router")
        self.routers = nn.ModuleList(routers)
        first = routers[0]
        self.n_members, self.input_length = first.n_members, first.input_length
        self.embed_dim, self.acf_lags, self.frequencies = first.embed_dim, first.acf_lags, first.frequencies

    def router_list(self) -> list[Router]:
        """The ensemble's routers, typed (``nn.ModuleList`` yields plain modules)."""
        out: list[Router] = []
        for r in self.routers:
            if not isinstance(r, Router):
                raise TypeError(f"a router ensemble holds Router modules, not {type(r).__name__}")
            out.append(r)
        return out

    @torch.inference_mode()
    def weights(self, x: np.ndarray, emb: np.ndarray, temperature: float = 1.0,
                freq: np.ndarray | None = None) -> np.ndarray:
        """Mean of the routers' :meth:`Router.weights`: ``[n, n_members]``."""
        return np.mean([r.weights(x, emb, temperature, freq) for r in self.router_list()], axis=0)


@dataclass
class RouterData:
    """Training windows with every member's forecast (normalized by the context)."""

    x: np.ndarray  # [N, T] normalized contexts
    emb: np.ndarray  # [N, d]
    target: np.ndarray  # [N, H], NaN beyond a group's horizon
    preds: np.ndarray  # [N, M, H]
    group: np.ndarray  # [N] group index
    scale: np.ndarray  # [N] window weight
    groups: list[str]
    freq: np.ndarray | None = None  # [N] frequency class index (seqfusion.frequency.CLASSES)

    def __len__(self) -> int:
        return len(self.x)


def random_walks(n: int, length: int, rng: np.random.Generator, kind: int = 0) -> list[np.ndarray]:
    """``n`` random walks with random drift and volatility (a persistence-favouring group).

    ``kind`` 0: Gaussian steps; 1: Student-t steps (3 degrees of freedom, heavy tails);
    2: volatility that wanders over time (a GARCH-like clustering of large steps).
    """
    if kind == 1:
        steps = rng.standard_t(3, size=(n, length)) / np.sqrt(3.0) + rng.normal(0, 0.05, size=(n, 1))
    elif kind == 2:
        vol = np.exp(np.cumsum(rng.normal(0, 0.1, size=(n, length)), axis=1))
        steps = rng.normal(rng.normal(0, 0.05, size=(n, 1)), 1.0, size=(n, length)) * vol
    else:
        steps = rng.normal(rng.normal(0, 0.05, size=(n, 1)), 1.0, size=(n, length))
    return list(100.0 + np.cumsum(steps * rng.uniform(0.2, 3.0, size=(n, 1)), axis=1))


def seasonal_series(n: int, length: int, periods: Sequence[int], rng: np.random.Generator
                    ) -> list[np.ndarray]:
    """``n`` series with a fixed seasonal profile of a random period from ``periods``, a
    trend, a slowly wandering level and noise (a seasonal-member-favouring group)."""
    out = []
    t = np.arange(length)
    for _ in range(n):
        p = int(rng.choice(periods))
        profile = rng.normal(size=p)
        level = 50.0 + rng.normal(0, 0.3, size=length).cumsum() * rng.uniform(0, 1)
        trend = rng.normal(0, 0.05) * t
        noise = rng.normal(0, rng.uniform(0.05, 0.5), size=length)
        out.append(level + trend + rng.uniform(1, 5) * profile[t % p] + noise)
    return out


def router_data(
    modules: Sequence[nn.Module],
    embed: Callable[[np.ndarray], np.ndarray],
    groups: Mapping[str, Sequence[np.ndarray]],
    config: RouterConfig,
    input_length: int = 36,
    progress: bool = False,
    frequencies: Mapping[str, str] | None = None,
) -> RouterData:
    """Sample windows from each group of series and compute every member's roll-out.

    Per group, windows of ``T + h`` points are drawn (:func:`seqfusion.training.data.windows.sample_windows`)
    with the longest ``h`` in (horizon, 36, 24, 12) that yields ``min_windows``; targets
    beyond ``h`` are NaN. ``pad_fraction`` of the windows keep only ``U{min_context..T-1}``
    points of their context (left-padded with the first kept value).

    ``frequencies`` maps group names to frequency classes (``seqfusion.frequency``); the
    windows of groups without one (the random walks) get a random known class each, as
    such series can be sampled at any frequency. With frequency inputs the synthetic
    seasonal series form one group per period, labelled by :data:`SEASON_FREQUENCY`.
    """
    from seqfusion.frequency import CLASSES, UNKNOWN, frequency_index
    from seqfusion.preprocess import keep_last, znorm
    from seqfusion.training.data.windows import sample_windows

    T, H = input_length, config.horizon
    rng = np.random.default_rng(config.seed)
    items = dict(groups)
    if config.random_walks:
        for kind in range(max(1, min(3, config.random_walk_groups))):
            name = "synthetic_random_walk" + ("" if kind == 0 else f"_{kind + 1}")
            items[name] = random_walks(config.random_walks // 20 + 1, 200, rng, kind)
    frequencies = dict(frequencies or {})
    if config.seasonal and config.frequency:
        # one group per period, labelled with the frequency whose natural season it is
        for p in config.seasonal_periods:
            name = f"synthetic_seasonal_{p}"
            items[name] = seasonal_series(config.seasonal // 20 + 1, 200, (p,), rng)
            if p in SEASON_FREQUENCY:
                frequencies.setdefault(name, SEASON_FREQUENCY[p])
    elif config.seasonal:
        items["synthetic_seasonal"] = seasonal_series(config.seasonal // 20 + 1, 200,
                                                      config.seasonal_periods, rng)
    frng = np.random.default_rng([config.seed, 7])  # apart from ``rng``: same windows either way
    xs: list[np.ndarray] = []  # normalized contexts
    ts: list[np.ndarray] = []  # targets
    ps: list[np.ndarray] = []  # members' roll-outs
    gs: list[np.ndarray] = []  # group indices
    ss: list[np.ndarray] = []  # window weights
    fs: list[np.ndarray] = []  # frequency classes
    names: list[str] = []
    bar = tqdm(list(items.items()), desc="router data", disable=not progress, leave=False)
    for _gi, (name, series) in enumerate(bar):
        w, h = np.empty((0, T + 1)), 0
        for h in sorted({H, 36, 24, 12}, reverse=True):
            if h > H:
                continue
            w = sample_windows(series, T + h, config.n_windows, rng)
            if len(w) >= config.min_windows:
                break
        if len(w) < config.min_windows:
            continue
        ctx = w[:, :T]
        if config.pad_fraction > 0:
            padded = rng.random(len(w)) < config.pad_fraction
            keep = np.where(padded, rng.integers(config.min_context, T, size=len(w)), T)
            ctx = keep_last(ctx, keep)
        xn, mean, std = znorm(ctx)  # as the forecaster normalizes contexts
        target = np.full((len(w), H), np.nan)
        target[:, :h] = (w[:, T:] - mean) / std
        xt = torch.as_tensor(xn, dtype=torch.float32)
        preds = np.stack([rollout(m, xt, H, config.clip).numpy() for m in modules], axis=1)
        sd = std[:, 0]
        scale = (sd / max(float(np.median(sd)), STD_FLOOR)) ** 2 if config.scale_weight else np.ones(len(w))
        xs.append(xn)
        ts.append(target)
        ps.append(preds)
        gs.append(np.full(len(w), len(names)))
        ss.append(np.clip(scale, 0.1, 10.0))
        f = frequency_index(frequencies.get(name))
        fs.append(frng.integers(0, len(CLASSES) - 1, len(w)) if CLASSES[f] == UNKNOWN
                  else np.full(len(w), f))
        names.append(name)
    if not xs:
        raise ValueError("no group yielded enough windows to train a router")
    x = np.concatenate(xs)
    return RouterData(x=x.astype(np.float32), emb=embed(x).astype(np.float32),
                      target=np.concatenate(ts).astype(np.float32),
                      preds=np.concatenate(ps).astype(np.float32),
                      group=np.concatenate(gs), scale=np.concatenate(ss).astype(np.float32), groups=names,
                      freq=np.concatenate(fs).astype(np.int64))


def fused_loss(logits: torch.Tensor, preds: torch.Tensor, target: torch.Tensor, step_w: torch.Tensor,
               window_w: torch.Tensor) -> torch.Tensor:
    """Weighted squared error of the softmax-weighted forecast (NaN targets ignored)."""
    w = torch.softmax(logits, dim=1)
    fused = (w[:, :, None] * preds).sum(dim=1)
    valid = torch.isfinite(target)
    sw = step_w[None] * valid
    sw = sw / sw.sum(dim=1, keepdim=True).clamp_min(1e-12)
    err = ((fused - torch.where(valid, target, fused.detach())) ** 2 * sw).sum(dim=1)
    return (err * window_w).sum() / window_w.sum()


def subset(data: RouterData, rows: np.ndarray) -> RouterData:
    """The windows ``rows`` of ``data`` (group ids renumbered)."""
    kept, group = np.unique(data.group[rows], return_inverse=True)
    return RouterData(data.x[rows], data.emb[rows], data.target[rows], data.preds[rows], group,
                      data.scale[rows], [data.groups[g] for g in kept],
                      None if data.freq is None else data.freq[rows])


def _loss_terms(data: RouterData, config: RouterConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Clipped targets, step weights and window weights (groups count equally) of ``data``."""
    target = torch.as_tensor(data.target).clamp(-config.clip, config.clip)
    sw = torch.as_tensor(step_weights(config.horizon), dtype=torch.float32)
    ww = torch.as_tensor(data.scale / np.bincount(data.group)[data.group], dtype=torch.float32)
    return target, sw, ww


def held_out_loss(router: Router, data: RouterData, config: RouterConfig, temperature: float) -> float:
    """Loss of the router's weights at ``temperature`` on ``data`` (groups count equally)."""
    target, sw, ww = _loss_terms(data, config)
    with torch.no_grad():
        logits = router(torch.as_tensor(data.x), torch.as_tensor(data.emb), _freq(data, config)) / temperature
        return float(fused_loss(logits, torch.as_tensor(data.preds), target, sw, ww))


def calibrate_temperature(data: RouterData, config: RouterConfig, folds: int = 5,
                          temperatures: Sequence[float] = (1.0, 1.5, 2.0, 3.0, 5.0, 8.0),
                          progress: bool = False) -> tuple[float, dict[str, float]]:
    """Choose the softmax temperature for sources the router has never seen.

    Groups are split into ``folds`` (seeded); a router trained on the other folds weighs
    each held-out fold's windows at every temperature. Returns the temperature with the
    lowest mean held-out loss and the mean loss per temperature (plain mean of the
    members, i.e. an infinite temperature, under ``"inf"``).
    """
    rng = np.random.default_rng(config.seed + 1)
    order = rng.permutation(len(data.groups))
    fold_of = np.empty(len(data.groups), dtype=np.int64)
    fold_of[order] = np.arange(len(order)) % max(2, min(folds, len(order)))
    losses: dict[str, list[float]] = {str(t): [] for t in temperatures}
    losses["inf"] = []
    for f in tqdm(range(int(fold_of.max()) + 1), desc="router folds", disable=not progress, leave=False):
        test = fold_of[data.group] == f
        router, _ = train_router(subset(data, np.nonzero(~test)[0]), config)
        held = subset(data, np.nonzero(test)[0])
        for t in temperatures:
            losses[str(t)].append(held_out_loss(router, held, config, t))
        losses["inf"].append(held_out_loss(router, held, config, 1e9))
    mean = {k: round(float(np.mean(v)), 4) for k, v in losses.items()}
    best = min(temperatures, key=lambda t: mean[str(t)])
    return float(best), mean


def router_config(router: Router | RouterEnsemble) -> dict[str, Any]:
    """The architecture of ``router`` as the zoo manifest stores it."""
    if isinstance(router, RouterEnsemble):
        routers = router.router_list()
        return {**router_config(routers[0]), "ensemble": len(routers)}
    return {"n_members": router.n_members, "input_length": router.input_length, "embed_dim": router.embed_dim,
            "hidden": router.net[0].out_features, "acf_lags": router.acf_lags, "frequencies": router.frequencies}


def router_module(config: Mapping[str, Any]) -> Router | RouterEnsemble:
    """An untrained torch router (or ensemble) with the architecture a zoo manifest states
    (:func:`router_config`), e.g. to load a zoo's router weights into."""
    c = dict(config)
    count = int(c.pop("ensemble", 1))
    routers = [Router(**c) for _ in range(count)]
    return routers[0] if count == 1 else RouterEnsemble(routers)


def attach_router(zoo: Any, router: Router | RouterEnsemble, info: dict[str, Any] | None = None) -> None:
    """Put a trained router (its config and weights) into ``zoo``."""
    zoo.set_router(router_config(router), router, info)


def new_router(config: RouterConfig, n_members: int, input_length: int, embed_dim: int
               ) -> Router | RouterEnsemble:
    """An untrained :class:`Router` (a :class:`RouterEnsemble` of ``config.ensemble`` when
    above 1) with the architecture ``config`` describes."""
    from seqfusion.frequency import CLASSES

    routers = [Router(n_members, input_length, embed_dim, config.hidden, config.dropout, config.acf_lags,
                      len(CLASSES) if config.frequency else 0) for _ in range(config.ensemble)]
    return routers[0] if config.ensemble == 1 else RouterEnsemble(routers)


def _freq(data: RouterData, config: RouterConfig) -> torch.Tensor | None:
    """The windows' frequency classes for a router with frequency inputs, else None."""
    if not config.frequency:
        return None
    if data.freq is None:
        raise ValueError("a router with frequency inputs needs the windows' frequencies")
    return torch.as_tensor(data.freq, dtype=torch.int64)


def train_router(data: RouterData, config: RouterConfig, progress: bool = False
                 ) -> tuple[Router, dict[str, Any]]:
    """Fit a :class:`Router` on ``data``; groups count equally (times the scale weight)."""
    torch.manual_seed(config.seed)
    M = data.preds.shape[1]
    router = new_router(replace(config, ensemble=1), M, data.x.shape[1], data.emb.shape[1])
    assert isinstance(router, Router)
    x, emb = torch.as_tensor(data.x), torch.as_tensor(data.emb)
    freq = _freq(data, config)
    if freq is not None and config.frequency_dropout > 0:  # also learn to route without it
        drop = np.random.default_rng([config.seed, 11]).random(len(data)) < config.frequency_dropout
        freq = torch.where(torch.as_tensor(drop), router.frequencies - 1, freq)
    preds = torch.as_tensor(data.preds)
    target, sw, ww = _loss_terms(data, config)
    counts = np.bincount(data.group)
    n = len(data)
    bs = min(config.batch_size, n)
    steps_per_epoch = max(1, n // bs)
    opt = torch.optim.AdamW(router.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, config.lr, total_steps=config.epochs * steps_per_epoch)
    gen = torch.Generator().manual_seed(config.seed)
    with torch.no_grad():
        uniform = float(fused_loss(torch.zeros(n, M), preds, target, sw, ww))
    start = time.perf_counter()
    history = []
    router.train()
    for _ in tqdm(range(config.epochs), desc="router", disable=not progress, leave=False):
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for b in range(steps_per_epoch):
            idx = perm[b * bs:(b + 1) * bs]
            loss = fused_loss(router(x[idx], emb[idx], None if freq is None else freq[idx]),
                              preds[idx], target[idx], sw, ww[idx])
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]  # torch's Tensor.backward is unannotated
            opt.step()
            sched.step()
            total += float(loss.detach())
        history.append(total / steps_per_epoch)
    router.eval()
    with torch.no_grad():
        final = float(fused_loss(router(x, emb, freq), preds, target, sw, ww))
    meta = {"n_windows": n, "groups": {g: int(c) for g, c in zip(data.groups, counts)},
            "loss_uniform_weights": round(uniform, 4), "loss_router": round(final, 4),
            "loss_history": [round(v, 4) for v in history],
            "seconds": round(time.perf_counter() - start, 1)}
    return router, meta
