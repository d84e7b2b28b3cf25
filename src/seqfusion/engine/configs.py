"""Configurations of the engine's architectures: one frozen dataclass each, holding the
torch modules' defaults, built from a manifest's mapping by ``from_dict``."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any, ClassVar, Self

from seqfusion.errors import ZooError

_CAST: dict[str, Callable[[Any], Any]] = {"int": int, "float": float}


@dataclass(frozen=True)
class Config:
    """Base of the configurations; ``kind`` names the architecture in error messages."""

    kind: ClassVar[str] = ""

    @classmethod
    def from_dict(cls, config: Mapping[str, Any] | Config, where: str = "") -> Self:
        """The configuration a mapping describes: its values cast to the fields' types, the
        fields it does not name at their defaults. An unknown or missing key, or a bad
        value, is a one-line :class:`~seqfusion.errors.ZooError` (prefixed by ``where``)."""
        if isinstance(config, cls):
            return config
        if isinstance(config, Config):
            config = asdict(config)
        prefix = f"{where}: " if where else ""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(str(k) for k in config if k not in known)
        if unknown:
            raise ZooError(f"{prefix}unknown {cls.kind} config key(s): {', '.join(unknown)} "
                           f"(known: {', '.join(known)})")
        missing = [k for k, f in known.items() if f.default is MISSING and k not in config]
        if missing:
            raise ZooError(f"{prefix}{cls.kind} config lacks {', '.join(missing)}")
        values = {}
        for k, v in config.items():
            try:
                values[k] = _CAST[str(known[k].type)](v)
            except (TypeError, ValueError):
                raise ZooError(f"{prefix}{cls.kind} config: {k} must be a number, got {v!r}") from None
        try:
            return cls(**values)
        except ValueError as exc:
            raise ZooError(f"{prefix}{cls.kind} config: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """The configuration as a plain mapping (every field)."""
        return asdict(self)


@dataclass(frozen=True)
class MemberConfig(Config):
    """What every member takes: contexts of ``input_length`` points, forecasts of ``horizon``."""

    input_length: int = 36
    horizon: int = 12


@dataclass(frozen=True)
class PatchTSTConfig(MemberConfig):
    """:class:`~seqfusion.engine.patchtst.PatchTST` (``dropout``: training only)."""

    kind: ClassVar[str] = "patchtst"
    patch_len: int = 16
    stride: int = 8
    d_model: int = 64
    n_heads: int = 8
    d_ff: int = 128
    n_layers: int = 1
    dropout: float = 0.05

    @property
    def n_patches(self) -> int:
        """Patches of a context (the last value repeated ``stride`` times at the end)."""
        return (self.input_length + self.stride - self.patch_len) // self.stride + 1


@dataclass(frozen=True)
class PatchQuantileConfig(MemberConfig):
    """:class:`~seqfusion.engine.patch_quantile.PatchQuantile`: a long-context member with
    ``n_quantiles`` evenly spaced quantile levels (``dropout``: training only)."""

    kind: ClassVar[str] = "patch_quantile"
    input_length: int = 512
    horizon: int = 64
    patch_len: int = 32
    d_model: int = 128
    n_heads: int = 8
    d_ff: int = 256
    n_layers: int = 3
    n_quantiles: int = 9
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if self.input_length % self.patch_len:
            raise ValueError("input_length must be a multiple of patch_len")
        if self.d_model % self.n_heads:
            raise ValueError("d_model must be a multiple of n_heads")
        if self.n_quantiles < 1 or self.n_quantiles % 2 == 0:
            raise ValueError(f"n_quantiles must be odd (the median is one of them), got {self.n_quantiles}")

    @property
    def n_patches(self) -> int:
        return self.input_length // self.patch_len

    @property
    def levels(self) -> tuple[float, ...]:
        """The quantile levels: ``1/(Q+1) ... Q/(Q+1)``."""
        return tuple((i + 1) / (self.n_quantiles + 1) for i in range(self.n_quantiles))


@dataclass(frozen=True)
class DLinearConfig(MemberConfig):
    """:class:`~seqfusion.engine.affine.DLinear`: ``kernel`` of the moving average."""

    kind: ClassVar[str] = "dlinear"
    kernel: int = 13


@dataclass(frozen=True)
class NaiveConfig(MemberConfig):
    """:class:`~seqfusion.engine.affine.Naive`."""

    kind: ClassVar[str] = "naive"


@dataclass(frozen=True)
class SeasonalNaiveConfig(MemberConfig):
    """:class:`~seqfusion.engine.affine.SeasonalNaive`: ``period`` in ``[1, input_length]``."""

    kind: ClassVar[str] = "seasonal_naive"
    period: int = 7

    def __post_init__(self) -> None:
        if not 1 <= self.period <= self.input_length:
            raise ValueError(f"period must be in [1, {self.input_length}], got {self.period}")


@dataclass(frozen=True)
class WindowMeanConfig(MemberConfig):
    """:class:`~seqfusion.engine.affine.WindowMean`."""

    kind: ClassVar[str] = "window_mean"


@dataclass(frozen=True)
class DriftConfig(MemberConfig):
    """:class:`~seqfusion.engine.affine.Drift`: ``damping`` in ``(0, 1]``."""

    kind: ClassVar[str] = "drift"
    damping: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 < self.damping <= 1.0:
            raise ValueError(f"damping must be in (0, 1], got {self.damping}")


@dataclass(frozen=True)
class ExtractorConfig(Config):
    """:class:`~seqfusion.engine.extractor.Extractor` (``dropout``: training only)."""

    kind: ClassVar[str] = "extractor"
    input_length: int = 36
    patch_len: int = 4
    d_model: int = 64
    n_heads: int = 4
    d_ff: int = 128
    n_layers: int = 2
    dim: int = 128
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if self.input_length % self.patch_len:
            raise ValueError("input_length must be a multiple of patch_len")

    @property
    def n_patches(self) -> int:
        return self.input_length // self.patch_len


@dataclass(frozen=True)
class RouterConfig(Config):
    """:class:`~seqfusion.engine.router.Router` and, with ``ensemble`` above 1,
    :class:`~seqfusion.engine.router.RouterEnsemble` (``dropout``: training only)."""

    kind: ClassVar[str] = "router"
    n_members: int
    input_length: int = 36
    embed_dim: int = 128
    hidden: int = 128
    acf_lags: int = 0
    frequencies: int = 0
    ensemble: int = 1
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if not 0 <= self.acf_lags <= self.input_length - 3:
            raise ValueError(f"acf_lags must be in [0, {self.input_length - 3}]")

    @property
    def n_features(self) -> int:
        """Inputs of the network: context, two difference statistics, autocorrelations,
        representation and frequency one-hot."""
        return self.input_length + 2 + self.acf_lags + self.embed_dim + self.frequencies
