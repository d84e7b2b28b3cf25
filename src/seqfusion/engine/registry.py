"""The member registry: the :class:`Model` interface, architectures registered by name (as
:mod:`seqfusion.training.models` registers the torch modules) and :func:`build_model`."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np

from seqfusion.engine.configs import MemberConfig
from seqfusion.engine.weights import State, check_state


class Model:
    """A numpy forecaster ``[n, input_length] -> [n, horizon]`` (float32 in, float32 out).

    ``Config`` is the architecture's configuration class; ``affine`` marks models whose
    forecast is an affine map of the context, so that a roll-out to any horizon is one
    matrix (see :func:`~seqfusion.engine.rollout.affine_rollout`).
    """

    architecture = ""
    affine = False
    Config: ClassVar[type[MemberConfig]] = MemberConfig

    def __init__(self, config: Mapping[str, Any] | MemberConfig, state: State | None = None) -> None:
        self.config = self.Config.from_dict(config)
        self.input_length = self.config.input_length
        self.horizon = self.config.horizon

    @classmethod
    def state_shapes(cls, config: Mapping[str, Any] | MemberConfig) -> dict[str, tuple[int, ...]]:
        """Names and shapes of the tensors the model reads (empty: weight-free)."""
        return {}

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Forecast ``[n, horizon]`` from contexts ``x [n, input_length]`` (x's float dtype)."""
        raise NotImplementedError

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)


_REGISTRY: dict[str, type[Model]] = {}


def register(name: str) -> Callable[[type[Model]], type[Model]]:
    """Class decorator adding a numpy architecture to the registry under ``name``."""

    def deco(cls: type[Model]) -> type[Model]:
        if name in _REGISTRY:
            raise ValueError(f"architecture {name!r} registered twice")
        cls.architecture = name
        _REGISTRY[name] = cls
        return cls

    return deco


def list_architectures() -> list[str]:
    """Names of all registered numpy architectures, sorted."""
    return sorted(_REGISTRY)


def model_class(architecture: str) -> type[Model]:
    """The class registered under ``architecture`` (ValueError naming the known ones if none)."""
    try:
        return _REGISTRY[architecture]
    except KeyError:
        raise ValueError(
            f"unknown architecture {architecture!r}; known: {', '.join(list_architectures())}"
        ) from None


def build_model(architecture: str, config: Mapping[str, Any], state: State | None = None,
                where: str = "") -> Model:
    """A registered architecture with ``config`` (a mapping, see
    :meth:`~seqfusion.engine.configs.Config.from_dict`) and weights ``state`` (checked
    against the architecture's names and shapes; ``where`` names the file in error messages)."""
    cls = model_class(architecture)
    cfg = cls.Config.from_dict(config, where)
    check_state(state or {}, cls.state_shapes(cfg), where or architecture)
    return cls(cfg, state)
