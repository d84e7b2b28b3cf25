"""The forecaster's settings: one frozen, typed :class:`Options` with every default.

:class:`~seqfusion.forecaster.SeqFusion` holds one, the CLI's choice lists and the Dask
path read their names and choices from here, and a zoo's manifest may recommend values
(``info.forecaster``) that :meth:`Options.resolve` lays under the caller's. Checking
against a zoo (:meth:`Options.check`) happens once, when a forecaster is made.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from seqfusion.errors import SeqFusionError, ZooError

if TYPE_CHECKING:
    from seqfusion.zoo import Zoo

FUSIONS = ("mean", "median", "similarity", "inverse_error", "router")
SELECTIONS = ("similarity", "backtest")
NORMALIZATIONS = ("window", "last_h")
HISTORIES = ("whole", "last")


@dataclass(frozen=True)
class Options:
    """Settings of a forecaster (see :class:`~seqfusion.forecaster.SeqFusion` for each)."""

    # backtest, temperature, clip and min_length are varied alone on the 36-point protocol's
    # validation windows by benchmarks/sweeps/forecaster_defaults.py
    # (benchmarks/results/sweep_forecaster_defaults.md); each acts only where noted.
    k: int = 3
    fusion: str = "mean"
    normalization: str = "window"
    selection: str = "similarity"
    candidates: int | None = None
    #: (selection="backtest" only) 6 and 24 score 0.008 / 0.011 better than 12, 18 0.004:
    #: no trend, kept
    backtest: int = 12
    #: (fusion="similarity" only) sharper is worse: 0.2 scores 0.104 and 1.0 0.132 better
    #: (1.0 is about the plain mean); kept, as changing it changes those forecasts
    temperature: float = 0.05
    router_temperature: float = 1.0
    #: 5, 20 and None within 0.001 (the bound rarely binds on validation windows): kept
    clip: float | None = 10.0
    #: a limit, not tuned: on validation windows the fused forecast beats the last value
    #: repeated from 2 known points on (0.96 of its MSE at 2, 0.88 at 8, 0.85 at 12)
    min_length: int = 8
    history: str = "whole"
    exact: bool = True
    long_context: bool = True
    nonnegative: bool = True
    intermittent: bool = True

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The settings' names, in order."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def unknown(cls, names: Any) -> None:
        """A one-line error for any name that is not a setting."""
        bad = sorted(set(names) - set(cls.names()))
        if bad:
            raise SeqFusionError(f"unknown option(s): {', '.join(bad)} (known: {', '.join(cls.names())})")

    def with_(self, **changes: Any) -> Options:
        """A copy with ``changes`` (unchecked: see :meth:`check`)."""
        Options.unknown(changes)
        return replace(self, **changes)

    @classmethod
    def resolve(cls, zoo: Zoo, given: Mapping[str, Any]) -> Options:
        """The settings for ``zoo``: the defaults, under the zoo's recommendations
        (``info.forecaster``; ``k = "all"``: every member; a recommended ``k`` is capped
        at the zoo's size), under ``given`` (``None`` values ignored)."""
        cls.unknown(given)
        recommended = zoo.info.get("forecaster", {})
        if not isinstance(recommended, dict) or set(recommended) - set(cls.names()):
            bad = sorted(set(recommended) - set(cls.names())) if isinstance(recommended, dict) else recommended
            raise ZooError(f"{zoo.path}: unknown forecaster setting(s) in the manifest: {bad}")
        params = {**recommended, **{k: v for k, v in given.items() if v is not None}}
        if params.get("k") == "all":
            params["k"] = len(zoo)
        elif "k" in params and given.get("k") is None:
            params["k"] = min(int(params["k"]), len(zoo))
        return cls(**params)

    def check(self, zoo: Zoo) -> Options:
        """``self`` if every setting is valid for ``zoo``; else a one-line SeqFusionError."""
        if len(zoo) == 0:
            raise SeqFusionError("the zoo holds no PTMs")
        self.check_k(self.k, len(zoo))
        for name, choices in (("fusion", FUSIONS), ("normalization", NORMALIZATIONS), ("history", HISTORIES),
                              ("selection", SELECTIONS)):
            if getattr(self, name) not in choices:
                raise SeqFusionError(f"{name} must be one of {choices}, got {getattr(self, name)!r}")
        if self.fusion == "router" and zoo.router is None:
            raise SeqFusionError("fusion 'router' needs a zoo with a router (this zoo has none: "
                                 "build it with a [router] section, or use fusion='mean')")
        for name in ("router_temperature", "temperature"):
            if not _is_positive(getattr(self, name)):
                raise SeqFusionError(f"{name} must be a finite number > 0, got {getattr(self, name)!r}")
        if self.clip is not None and not _is_positive(self.clip):
            raise SeqFusionError(f"clip must be None or a finite number > 0, got {self.clip!r}")
        for name in ("exact", "long_context", "nonnegative", "intermittent"):
            if not isinstance(getattr(self, name), bool):
                raise SeqFusionError(f"{name} must be True or False, got {getattr(self, name)!r}")
        T = zoo.input_length
        if not is_int(self.min_length) or not 1 <= self.min_length <= T:
            raise SeqFusionError(f"min_length must be an integer in [1, {T}], got {self.min_length!r}")
        if self.candidates is not None and (not is_int(self.candidates) or self.candidates < 1):
            raise SeqFusionError(f"candidates must be None or a positive integer, got {self.candidates!r}")
        if not is_int(self.backtest) or not 1 <= self.backtest <= max(1, T - self.min_length):
            raise SeqFusionError(
                f"backtest must be an integer in [1, {max(1, T - self.min_length)}], got {self.backtest!r}")
        return self

    @staticmethod
    def check_k(k: Any, n_members: int) -> None:
        """A one-line error unless ``k`` is an integer in ``[1, n_members]``."""
        if not is_int(k) or not 1 <= k <= n_members:
            raise SeqFusionError(f"k must be an integer in [1, {n_members}], got {k!r}")


def is_int(v: Any) -> bool:
    """An integer, not a bool (numpy integers included)."""
    import numpy as np

    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _is_positive(v: Any) -> bool:
    import numpy as np

    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) \
        and math.isfinite(float(v)) and float(v) > 0
