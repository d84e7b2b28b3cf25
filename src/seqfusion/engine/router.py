"""The learned fusion weights: :class:`Router` (features and MLP -> weights over the
members), :class:`RouterEnsemble` and the builders a zoo manifest uses."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from seqfusion.engine.configs import Config, RouterConfig
from seqfusion.engine.gelu import gelu
from seqfusion.engine.matmul import matmul_rows
from seqfusion.engine.threads import parallel_map
from seqfusion.engine.weights import State, f32


class Router:
    """The learned fusion weights (see :class:`seqfusion.training.router.Router`):
    ``(normalized context [n, T], embedding [n, d], frequency [n]) -> weights [n, M]``."""

    def __init__(self, config: Mapping[str, Any] | RouterConfig, state: State) -> None:
        c = self.config = RouterConfig.from_dict(config)
        self.n_members = c.n_members
        self.input_length = c.input_length
        self.embed_dim = c.embed_dim
        self.hidden = c.hidden
        self.acf_lags = c.acf_lags
        self.frequencies = c.frequencies
        self.w = [f32(state[f"net.{i}.weight"].T) for i in (0, 3, 6)]  # [in, out]
        self.b = [f32(state[f"net.{i}.bias"]) for i in (0, 3, 6)]

    @classmethod
    def state_shapes(cls, config: Mapping[str, Any] | Config) -> dict[str, tuple[int, ...]]:
        """Names and shapes of the torch router's tensors."""
        c = RouterConfig.from_dict(config)
        hidden, m = c.hidden, c.n_members
        return {"net.0.weight": (hidden, c.n_features), "net.0.bias": (hidden,), "net.3.weight": (hidden, hidden),
                "net.3.bias": (hidden,), "net.6.weight": (m, hidden), "net.6.bias": (m,)}

    def features(self, x: np.ndarray, emb: np.ndarray, freq: np.ndarray | None = None) -> np.ndarray:
        """Feature matrix ``[n, T + 2 + acf_lags + d (+ F)]`` float32 from contexts ``x [n, T]``,
        embeddings ``emb [n, d]`` and frequency class indices ``freq [n]`` (None: unknown)."""
        x = np.asarray(x, dtype=np.float32)
        emb = np.asarray(emb, dtype=np.float32)
        d1 = x[:, 1:] - x[:, :-1]
        parts = [x, d1.std(axis=1, ddof=1, keepdims=True), np.abs(d1).mean(axis=1, keepdims=True)]
        if self.acf_lags:
            dc = d1 - d1.mean(axis=1, keepdims=True)
            denom = np.maximum((dc * dc).sum(axis=1, keepdims=True), np.float32(1e-12))
            parts.append(np.stack([(dc[:, lag:] * dc[:, :-lag]).sum(axis=1) for lag in range(1, self.acf_lags + 1)],
                                  axis=1) / denom)
        norm = np.sqrt(np.einsum("nd,nd->n", emb, emb))[:, None]
        parts.append(emb / np.maximum(norm, np.float32(1e-12)))
        if self.frequencies:
            f = (np.full(len(x), self.frequencies - 1, dtype=np.int64) if freq is None
                 else np.asarray(freq, dtype=np.int64).reshape(-1))
            if f.shape != (len(x),) or f.min(initial=0) < 0 or f.max(initial=0) >= self.frequencies:
                raise ValueError(f"freq must be {len(x)} class indices in [0, {self.frequencies})")
            onehot = np.zeros((len(x), self.frequencies), dtype=np.float32)
            onehot[np.arange(len(x)), f] = 1.0
            parts.append(onehot)
        return np.concatenate(parts, axis=1)

    def logits(self, x: np.ndarray, emb: np.ndarray, freq: np.ndarray | None = None,
               threads: int | None = None, chunk: int = 1024) -> np.ndarray:
        """Logits ``[n, n_members]`` float32: the MLP (exact GELU) on :meth:`features`, rows in
        chunks of ``chunk`` over ``threads`` threads (None: usable CPUs)."""
        return self.mlp(self.features(x, emb, freq), threads, chunk)

    def mlp(self, feats: np.ndarray, threads: int | None = None, chunk: int = 1024) -> np.ndarray:
        """The MLP's logits ``[n, n_members]`` float32 on a feature matrix from :meth:`features`."""
        out = np.empty((len(feats), self.n_members), dtype=np.float32)

        def run(lo: int) -> None:
            h = feats[lo : lo + chunk]
            for i in range(3):
                h = matmul_rows(h, self.w[i])
                h += self.b[i]
                if i < 2:
                    h = gelu(h)
            out[lo : lo + chunk] = h

        for _ in parallel_map(run, range(0, len(feats), chunk), threads):
            pass
        return out

    def weights(self, x: np.ndarray, emb: np.ndarray, temperature: float = 1.0,
                freq: np.ndarray | None = None, threads: int | None = None) -> np.ndarray:
        """Softmax of ``logits / temperature`` in float64: ``[n, n_members]`` for normalized
        contexts ``x [n, T]``, embeddings ``emb [n, d]`` and frequency class indices
        ``freq [n]`` (None: unknown)."""
        return self.softmax(self.logits(x, emb, freq, threads), temperature)

    @staticmethod
    def softmax(logits: np.ndarray, temperature: float) -> np.ndarray:
        """Softmax of ``logits / temperature`` over members, in float64."""
        z = logits.astype(np.float64) / temperature
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z


class RouterEnsemble:
    """Routers fitted with different seeds (and training windows) to the same members
    (:class:`seqfusion.training.router.RouterEnsemble`): their softmax weights averaged.
    ``config["ensemble"]`` routers; router ``j``'s tensors are named ``routers.{j}.net.*``."""

    def __init__(self, config: Mapping[str, Any] | RouterConfig, state: State) -> None:
        self.config = RouterConfig.from_dict(config)
        self.routers = [Router(self.config, {k[len(p):]: v for k, v in state.items() if k.startswith(p)})
                        for p in self.prefixes(self.config)]
        self.n_members = self.routers[0].n_members
        self.frequencies = self.routers[0].frequencies

    @staticmethod
    def prefixes(config: Mapping[str, Any] | Config) -> list[str]:
        return [f"routers.{j}." for j in range(RouterConfig.from_dict(config).ensemble)]

    @classmethod
    def state_shapes(cls, config: Mapping[str, Any] | Config) -> dict[str, tuple[int, ...]]:
        """Names and shapes of the torch ensemble's tensors."""
        one = Router.state_shapes(config)
        return {p + k: v for p in cls.prefixes(config) for k, v in one.items()}

    def weights(self, x: np.ndarray, emb: np.ndarray, temperature: float = 1.0,
                freq: np.ndarray | None = None, threads: int | None = None) -> np.ndarray:
        """Mean over the routers of :meth:`Router.weights`: ``[n, n_members]`` float64
        (added in router order, so a row's weights never depend on the other rows). The
        routers share their inputs, so the features are computed once."""
        feats = self.routers[0].features(x, emb, freq)
        out = Router.softmax(self.routers[0].mlp(feats, threads), temperature)
        for r in self.routers[1:]:
            out += Router.softmax(r.mlp(feats, threads), temperature)
        out /= len(self.routers)
        return out


def make_router(config: Mapping[str, Any] | RouterConfig, state: State) -> Router | RouterEnsemble:
    """The router a zoo manifest describes: one network, or an ensemble when
    ``config["ensemble"]`` is above 1."""
    c = RouterConfig.from_dict(config)
    return RouterEnsemble(c, state) if c.ensemble > 1 else Router(c, state)


def router_state_shapes(config: Mapping[str, Any] | RouterConfig) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes of the router ``config`` describes."""
    c = RouterConfig.from_dict(config)
    return RouterEnsemble.state_shapes(c) if c.ensemble > 1 else Router.state_shapes(c)
