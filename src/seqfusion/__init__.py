"""seqfusion: zero-shot time-series forecasting by sequential fusion of pre-trained models.

``SeqFusion``, ``Options``, ``Zoo`` and ``Member`` are imported on first access, so that importing a
torch-free submodule (``seqfusion.engine``, ``seqfusion.errors``) does not load torch.
"""
from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from seqfusion.errors import SeqFusionError, ZooError

if TYPE_CHECKING:
    from seqfusion.forecaster import SeqFusion
    from seqfusion.options import Options
    from seqfusion.zoo import Member, Zoo

__version__ = "0.1.0"
__all__ = ["Member", "Options", "SeqFusion", "SeqFusionError", "Zoo", "ZooError", "__version__"]

_LAZY = {"SeqFusion": "seqfusion.forecaster", "Options": "seqfusion.options", "Zoo": "seqfusion.zoo",
         "Member": "seqfusion.zoo"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if importlib.util.find_spec(f"{__name__}.{name}") is not None:  # a submodule not imported yet
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
