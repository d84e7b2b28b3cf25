"""Inference on numpy alone: the zoo's members, extractor and router without torch.

The torch modules (:mod:`seqfusion.training.models`, :mod:`seqfusion.training.extractor`,
:mod:`seqfusion.training.router`) train the zoo; this package runs it, reading the same
safetensors files (state-dict key names as the torch modules use) and computing the same
functions in float32 (eval mode: no dropout). Only numpy, ``safetensors.numpy`` and the
standard library are imported (not torch). Modules:

* :mod:`~seqfusion.engine.weights`: weight files read and checked, float32 layouts;
* :mod:`~seqfusion.engine.configs`: one frozen configuration class per architecture;
* :mod:`~seqfusion.engine.gelu`: erf and the exact GELU;
* :mod:`~seqfusion.engine.threads`: per-thread workspaces, OpenBLAS on one thread,
  :class:`settings`, worker pools;
* :mod:`~seqfusion.engine.matmul`: batch-invariant products and feature sums;
* :mod:`~seqfusion.engine.transformer`: feature-major Transformer kernels;
* :mod:`~seqfusion.engine.registry`: :class:`Model` and :func:`build_model`;
* :mod:`~seqfusion.engine.patchtst`, :mod:`~seqfusion.engine.affine`: the members
  (PatchTST; DLinear, Naive, SeasonalNaive, WindowMean, Drift);
* :mod:`~seqfusion.engine.patch_quantile`: the long-context members (quantile forecasts);
* :mod:`~seqfusion.engine.rollout`: recursive and precomposed roll-outs of one member;
* :mod:`~seqfusion.engine.extractor`, :mod:`~seqfusion.engine.router`: representations
  and fusion weights;
* :mod:`~seqfusion.engine.bank`: :class:`MemberBank`, :func:`fused_rollout`,
  :func:`member_rollouts` (many (series, member) pairs at once).
"""
from __future__ import annotations

from seqfusion.engine.affine import DLinear, Drift, Naive, SeasonalNaive, WindowMean
from seqfusion.engine.bank import MemberBank, fused_rollout, member_rollouts
from seqfusion.engine.configs import (
    Config,
    DLinearConfig,
    DriftConfig,
    ExtractorConfig,
    MemberConfig,
    NaiveConfig,
    PatchQuantileConfig,
    PatchTSTConfig,
    RouterConfig,
    SeasonalNaiveConfig,
    WindowMeanConfig,
)
from seqfusion.engine.extractor import EXTRACTOR_STD_FLOOR, Extractor, znorm_rows
from seqfusion.engine.gelu import erf, gelu
from seqfusion.engine.matmul import matmul_cols, matmul_rows
from seqfusion.engine.patch_quantile import PatchQuantile
from seqfusion.engine.patchtst import PatchTST
from seqfusion.engine.registry import Model, build_model, list_architectures, model_class, register
from seqfusion.engine.rollout import affine_rollout, rollout
from seqfusion.engine.router import Router, RouterEnsemble, make_router, router_state_shapes
from seqfusion.engine.threads import settings, usable_cpus
from seqfusion.engine.transformer import LAYER_NORM_EPS
from seqfusion.engine.weights import State, check_state, load_weights, sha256_file

__all__ = [
    "EXTRACTOR_STD_FLOOR", "LAYER_NORM_EPS", "Config", "DLinear", "DLinearConfig", "Drift", "DriftConfig",
    "Extractor", "ExtractorConfig", "MemberBank", "MemberConfig", "Model", "Naive", "NaiveConfig", "PatchQuantile",
    "PatchQuantileConfig", "PatchTST",
    "PatchTSTConfig", "Router", "RouterConfig", "RouterEnsemble", "SeasonalNaive", "SeasonalNaiveConfig",
    "State", "WindowMean", "WindowMeanConfig", "affine_rollout", "build_model", "check_state", "erf",
    "fused_rollout", "gelu", "list_architectures", "load_weights", "make_router", "matmul_cols", "matmul_rows",
    "member_rollouts", "model_class", "register", "rollout", "router_state_shapes", "settings", "sha256_file",
    "usable_cpus", "znorm_rows",
]
