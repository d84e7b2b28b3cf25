"""Registry of named PTM architectures (each maps ``[batch, T] -> [batch, h]``)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register(name: str) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator adding an architecture to the registry under ``name``."""

    def deco(cls: type[nn.Module]) -> type[nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"architecture {name!r} registered twice")
        _REGISTRY[name] = cls
        return cls

    return deco


def list_architectures() -> list[str]:
    """Names of all registered architectures, sorted."""
    return sorted(_REGISTRY)


def build_model(architecture: str, **config: Any) -> nn.Module:
    """Instantiate a registered architecture with ``config`` (keyword arguments)."""
    try:
        cls = _REGISTRY[architecture]
    except KeyError:
        raise ValueError(
            f"unknown architecture {architecture!r}; known: {', '.join(list_architectures())}"
        ) from None
    return cls(**config)


# Import for registration side effects.
from seqfusion.training.models import classical, dlinear, patch_quantile, patchtst  # noqa: E402,F401

__all__ = ["register", "build_model", "list_architectures"]
