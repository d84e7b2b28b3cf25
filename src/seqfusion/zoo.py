"""The model zoo on disk: ``zoo.json`` manifest plus safetensors weight files.

Layout of a zoo folder::

    zoo.json                  manifest (format version, extractor, PTM entries)
    extractor.safetensors     general extractor weights
    ptms/<name>.safetensors   one file per trained PTM (weight-free members have none)
    router.safetensors        optional learned fusion weights
    long/<name>.safetensors   optional long-context members (``long_members`` entries)

The PTMs read the zoo's input length (36 points) and are chosen per context by the
extractor and router; the long-context members read whole histories (hundreds of points)
and forecast quantiles, and join the whole-history layer's candidates
(:mod:`seqfusion.history`).

Every weight file is listed with its SHA-256 and must lie inside the zoo folder; loading
verifies format version, checksums, tensor shapes and that every weight is finite (no NaN
or inf), and names the offending file (and tensor) on failure. Weights are held as numpy
arrays and run by :mod:`seqfusion.engine` (no torch); no pickle is used.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file

from seqfusion import engine
from seqfusion.engine import sha256_file
from seqfusion.errors import UnknownMemberError, ZooError

FORMAT = "seqfusion-zoo"
FORMAT_VERSION = 1
MANIFEST = "zoo.json"
DEFAULT_ZOO = Path(__file__).resolve().parent / "default_zoo"
ROUTER_KEYS = ("n_members", "input_length", "embed_dim", "hidden", "acf_lags", "frequencies", "ensemble")

State = dict[str, np.ndarray]

__all__ = ["Zoo", "Member", "sha256_file", "state_arrays", "DEFAULT_ZOO"]


def state_arrays(state: Any) -> State:
    """Weights as ``{name: float32 numpy array}``: from a mapping of arrays, or from
    anything with a ``state_dict()`` of tensors (a training module)."""
    if hasattr(state, "state_dict"):
        state = state.state_dict()
    out: State = {}
    for k, v in dict(state).items():
        if hasattr(v, "detach"):
            v = v.detach().cpu().float().numpy()
        a = np.asarray(v)
        out[k] = np.ascontiguousarray(a.astype(np.float32) if np.issubdtype(a.dtype, np.floating) else a)
    return out


@dataclass
class Member:
    """One PTM of the zoo: an architecture, its config and weights (``state``; empty for
    weight-free members), its representation and metadata. ``model`` runs it:
    ``[batch, T] -> [batch, h]``."""

    name: str
    architecture: str
    config: dict[str, Any]
    state: State
    representation: np.ndarray  # [dim]
    source: str = ""
    frequency: str = ""
    domain: str = ""
    training: dict[str, Any] = field(default_factory=dict)
    _model: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.state = state_arrays(self.state)

    @property
    def model(self) -> engine.Model:
        """The numpy model (built on first use)."""
        if self._model is None:
            try:
                self._model = engine.build_model(self.architecture, self.config, self.state, f"PTM {self.name!r}")
            except ValueError as exc:
                if isinstance(exc, ZooError):
                    raise
                raise ZooError(f"PTM {self.name!r}: {exc}") from None
        return self._model

    @property
    def input_length(self) -> int:
        return int(self.config.get("input_length", 36))

    @property
    def horizon(self) -> int:
        return int(self.config.get("horizon", 12))

    @property
    def n_parameters(self) -> int:
        return int(sum(v.size for v in self.state.values()))


class Zoo:
    """A general extractor plus a list of members, loadable from and savable to a folder.

    ``extractor_state`` / router states are weight mappings (numpy arrays, or a training
    module whose ``state_dict()`` is read)."""

    def __init__(
        self,
        extractor_config: dict[str, Any],
        extractor_state: Any,
        members: list[Member] | None = None,
        info: dict[str, Any] | None = None,
        path: Path | None = None,
        long_members: list[Member] | None = None,
    ) -> None:
        self.extractor_config = dict(extractor_config)
        self.extractor_state = check_finite(state_arrays(extractor_state), "extractor")
        self.extractor = engine.Extractor(self.extractor_config, self.extractor_state)
        self.router: engine.Router | engine.RouterEnsemble | None = None  # fitted to exactly these members
        self.router_config: dict[str, Any] = {}
        self.router_state: State = {}
        self.router_info: dict[str, Any] = {}
        self.members: list[Member] = []
        self.info: dict[str, Any] = dict(info or {})
        self.path = path
        self._bank: engine.MemberBank | None = None
        self.long_members: list[Member] = []
        for m in members or []:
            self.add(m)
        for m in long_members or []:
            self.add_long(m)

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return len(self.members)

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.members]

    def __getitem__(self, name: str) -> Member:
        for m in self.members:
            if m.name == name:
                return m
        raise UnknownMemberError(f"no PTM named {name!r} in the zoo (have: {', '.join(self.names)})")

    @property
    def input_length(self) -> int:
        return int(self.extractor_config.get("input_length", 36))

    @property
    def dim(self) -> int:
        """Length of a representation."""
        return int(self.extractor.dim)

    @property
    def bank(self) -> engine.MemberBank:
        """The members prepared for batched roll-outs (built on first use)."""
        if self._bank is None:
            self._bank = engine.MemberBank([m.model for m in self.members])
        return self._bank

    def representations(self) -> np.ndarray:
        """Member representations stacked: ``[n_members, dim]``."""
        return np.stack([m.representation for m in self.members]).astype(np.float32)

    def table(self) -> Any:
        """A pandas DataFrame with one row per member (``role``: ``routed`` for the PTMs the
        router weighs, ``long-context`` for the long-context members)."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "name": m.name,
                    "role": role,
                    "architecture": m.architecture,
                    "source": m.source,
                    "frequency": m.frequency,
                    "domain": m.domain,
                    "parameters": m.n_parameters,
                    "input_length": m.input_length,
                    "horizon": m.horizon,
                }
                for role, members in (("routed", self.members), ("long-context", self.long_members))
                for m in members
            ]
        )

    # ------------------------------------------------------------------ router
    def set_router(self, config: dict[str, Any], state: Any, info: dict[str, Any] | None = None) -> None:
        """Attach a router (config with :data:`ROUTER_KEYS`, weights) fitted to the current
        members in their current order."""
        config = {k: config[k] for k in ROUTER_KEYS if k in config}
        if int(config.get("n_members", -1)) != len(self.members):
            raise ZooError(f"the router weighs {config.get('n_members')} members, the zoo has {len(self.members)}")
        state = state_arrays(state)
        count = config.get("ensemble", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ZooError(f"the router's ensemble size must be an integer >= 1, got {count!r}")
        engine.check_state(state, engine.router_state_shapes(config), "router")
        check_finite(state, "router")
        self.router = engine.make_router(config, state)
        self.router_config, self.router_state = config, state
        self.router_info = {**(info or {}), "members": self.names}

    def _drop_router(self) -> None:
        """Forget the router (the member set changed); a manifest default of router
        fusion falls back to the plain mean of the most similar members."""
        self._bank = None
        if self.router is None:
            return
        self.router, self.router_config, self.router_state, self.router_info = None, {}, {}, {}
        self.info = _without_router_defaults(self.info)

    # ------------------------------------------------------------------ editing
    def add(self, member: Member) -> None:
        """Add a member; its name must be new and its representation match the extractor."""
        _check_name(member.name)
        if member.name in self.names or member.name in [m.name for m in self.long_members]:
            raise ZooError(f"a PTM named {member.name!r} is already in the zoo")
        rep = np.asarray(member.representation, dtype=np.float32).reshape(-1)
        if rep.shape != (self.dim,) or not np.isfinite(rep).all():
            raise ZooError(f"PTM {member.name!r}: representation must be {self.dim} finite numbers")
        if member.input_length != self.input_length:
            raise ZooError(
                f"PTM {member.name!r} takes {member.input_length} points, the zoo {self.input_length}"
            )
        member.representation = rep
        check_finite(member.state, f"PTM {member.name!r}")
        member.model  # noqa: B018  (checks names and shapes of the weights now)
        self.members.append(member)
        self._drop_router()  # fitted to the old member set

    def add_long(self, member: Member) -> None:
        """Add a long-context member (an architecture forecasting quantiles of whole
        histories, such as ``patch_quantile``); its name must be new."""
        _check_name(member.name)
        if member.name in self.names or member.name in [m.name for m in self.long_members]:
            raise ZooError(f"a PTM named {member.name!r} is already in the zoo")
        check_finite(member.state, f"long-context member {member.name!r}")
        if not isinstance(member.model, engine.PatchQuantile):
            raise ZooError(f"long-context member {member.name!r}: architecture {member.architecture!r} "
                           "does not forecast quantiles")
        member.representation = np.zeros(0, dtype=np.float32)
        self.long_members.append(member)

    def remove(self, name: str) -> None:
        """Remove the member called ``name`` (a router, fitted to all members, is dropped)."""
        self.members.remove(self[name])
        self._drop_router()

    def subset(self, names: list[str]) -> Zoo:
        """A new zoo holding only the named members, in that order.

        The router is kept only when ``names`` are all members in their order."""
        keep = self.router is not None and list(names) == self.names
        zoo = Zoo(self.extractor_config, self.extractor_state, [self[n] for n in names],
                  self.info if keep else _without_router_defaults(self.info), self.path, self.long_members)
        if keep:
            zoo.set_router(self.router_config, self.router_state, self.router_info)
        return zoo

    # ------------------------------------------------------------------ disk
    def save(self, path: str | Path, half: bool = True) -> Path:
        """Write the zoo to folder ``path`` (weights in float16 when ``half``)."""
        path = Path(path)
        (path / "ptms").mkdir(parents=True, exist_ok=True)
        dtype = "float16" if half else "float32"
        ext_file = path / "extractor.safetensors"
        _save_state(self.extractor_state, ext_file, half)
        entries = []
        long_entries = []
        for m in self.long_members:
            rel = f"long/{m.name}.safetensors"
            (path / "long").mkdir(exist_ok=True)
            _save_state(m.state, path / rel, half)
            long_entries.append({"name": m.name, "architecture": m.architecture, "config": m.config,
                                 "source": m.source, "frequency": m.frequency, "domain": m.domain,
                                 "training": m.training, "file": rel, "sha256": sha256_file(path / rel)})
        for m in self.members:
            entry: dict[str, Any] = {
                "name": m.name,
                "architecture": m.architecture,
                "config": m.config,
                "input_length": m.input_length,
                "horizon": m.horizon,
                "source": m.source,
                "frequency": m.frequency,
                "domain": m.domain,
                "representation": [round(float(v), 6) for v in m.representation],
                "training": m.training,
                "file": None,
                "sha256": None,
            }
            if m.state:
                rel = f"ptms/{m.name}.safetensors"
                _save_state(m.state, path / rel, half)
                entry["file"], entry["sha256"] = rel, sha256_file(path / rel)
            entries.append(entry)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "dtype": dtype,
            "info": self.info,
            "extractor": {
                "architecture": "masked-encoder-decoder",
                "config": self.extractor_config,
                "file": "extractor.safetensors",
                "sha256": sha256_file(ext_file),
            },
            "ptms": entries,
        }
        if long_entries:
            manifest["long_members"] = long_entries
        router_file = path / "router.safetensors"
        if self.router is not None:
            _save_state(self.router_state, router_file, half)
            manifest["router"] = {
                "config": self.router_config,
                "file": router_file.name,
                "sha256": sha256_file(router_file),
                "members": self.names,
                "info": {k: v for k, v in self.router_info.items() if k != "members"},
            }
        elif router_file.is_file():
            router_file.unlink()
        (path / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        self.path = path
        return path

    @classmethod
    def load(cls, path: str | Path | None = None) -> Zoo:
        """Load and verify a zoo folder (``None``: the shipped default zoo)."""
        path = Path(path) if path is not None else DEFAULT_ZOO
        mpath = path / MANIFEST
        if not mpath.is_file():
            hint = " (the default zoo is not built; see README)" if path == DEFAULT_ZOO else ""
            raise ZooError(f"{mpath}: zoo manifest not found{hint}")
        try:
            manifest = json.loads(mpath.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ZooError(f"{mpath}: not valid JSON ({exc})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise ZooError(f"{mpath}: not a seqfusion zoo manifest")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise ZooError(
                f"{mpath}: format version {manifest.get('format_version')!r} is not supported "
                f"(this seqfusion reads version {FORMAT_VERSION})"
            )
        try:
            ext = manifest["extractor"]
            file = member_file(path, ext["file"])
            state = load_weights(file, ext["sha256"])
            engine.check_state(state, engine.Extractor.state_shapes(ext["config"]), str(file))
            zoo = cls(ext["config"], state, info=manifest.get("info", {}), path=path)
            for e in manifest["ptms"]:
                wfile = member_file(path, e["file"]) if e.get("file") else None
                state = load_weights(wfile, e["sha256"]) if wfile is not None else {}
                model = engine.build_model(e["architecture"], e["config"], state,
                                           str(wfile) if wfile is not None else f"{mpath}: PTM {e['name']!r}")
                zoo.add(
                    Member(
                        name=e["name"],
                        architecture=e["architecture"],
                        config=e["config"],
                        state=state,
                        representation=np.asarray(e["representation"], dtype=np.float32),
                        source=e.get("source", ""),
                        frequency=e.get("frequency", ""),
                        domain=e.get("domain", ""),
                        training=e.get("training", {}),
                        _model=model,
                    )
                )
            for e in manifest.get("long_members", []):
                wfile = member_file(path, e["file"])
                state = load_weights(wfile, e["sha256"])
                model = engine.build_model(e["architecture"], e["config"], state, str(wfile))
                zoo.add_long(Member(name=e["name"], architecture=e["architecture"], config=e["config"], state=state,
                                    representation=np.zeros(0, dtype=np.float32), source=e.get("source", ""),
                                    frequency=e.get("frequency", ""), domain=e.get("domain", ""),
                                    training=e.get("training", {}), _model=model))
            if manifest.get("router"):
                r = manifest["router"]
                if list(r["members"]) != zoo.names:
                    raise ZooError(f"{mpath}: the router was fitted to other members than the zoo's")
                file = member_file(path, r["file"])
                zoo.set_router(r["config"], load_weights(file, r["sha256"]), dict(r.get("info", {})))
        except (KeyError, TypeError) as exc:
            raise ZooError(f"{mpath}: malformed manifest (missing or bad field {exc})") from None
        except ValueError as exc:
            if isinstance(exc, ZooError):
                raise
            raise ZooError(f"{mpath}: {exc}") from None
        return zoo


def _without_router_defaults(info: dict[str, Any]) -> dict[str, Any]:
    """``info`` (copied) whose forecaster defaults no longer ask for router fusion."""
    fc = dict(info.get("forecaster", {}))
    if fc.get("fusion") != "router":
        return info
    fc = {k: v for k, v in fc.items() if k not in ("fusion", "router_temperature")}
    return {**info, "forecaster": fc}


def _check_name(name: str) -> None:
    if not name or any(c in name for c in "/\\ ") or name.startswith("."):
        raise ZooError(f"invalid PTM name {name!r} (no spaces or slashes)")


def member_file(folder: Path, rel: Any) -> Path:
    """The weight file ``rel`` of a manifest, which must lie inside the zoo ``folder``."""
    if not isinstance(rel, str) or not rel:
        raise ZooError(f"{folder / MANIFEST}: bad weight file entry {rel!r}")
    file = (folder / rel).resolve()
    if not file.is_relative_to(folder.resolve()):
        raise ZooError(f"{folder / MANIFEST}: weight file {rel!r} lies outside the zoo folder")
    return file


def check_finite(state: State, where: str) -> State:
    """``state`` unchanged if every floating-point weight is finite; else a :class:`ZooError`
    naming ``where`` (the file, or the PTM) and the first tensor holding NaN or inf."""
    for k, v in state.items():
        if np.issubdtype(v.dtype, np.floating) and not np.isfinite(v).all():
            nan, inf = int(np.isnan(v).sum()), int(np.isinf(v).sum())
            raise ZooError(f"{where}: tensor {k!r} holds non-finite weights ({nan} NaN, {inf} inf)")
    return state


def load_weights(file: Path, sha256: str | None) -> State:
    """:func:`seqfusion.engine.load_weights` (existence, checksum, format), then
    :func:`check_finite`: weights with NaN or inf are a :class:`ZooError` naming the file."""
    return check_finite(engine.load_weights(file, sha256), str(file))


def _save_state(state: State, file: Path, half: bool) -> None:
    with np.errstate(over="ignore"):
        out = {k: np.ascontiguousarray(v.astype(np.float16) if half and np.issubdtype(v.dtype, np.floating) else v)
               for k, v in state.items()}
    for k, v in out.items():  # weights are finite (checked on adding); inf here is float16 overflow
        if half and np.issubdtype(v.dtype, np.floating) and not np.isfinite(v).all():
            raise ZooError(f"{file}: tensor {k!r} exceeds float16's range (65504); save with half=False")
    save_file(out, str(file), metadata={"format": FORMAT})
