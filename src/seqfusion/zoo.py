"""The model zoo on disk: ``zoo.json`` manifest plus safetensors weight files.

Layout of a zoo folder::

    zoo.json                  manifest (format version, extractor, PTM entries)
    extractor.safetensors     general extractor weights
    ptms/<name>.safetensors   one file per trained PTM (weight-free members have none)
    router.safetensors        optional learned fusion weights (:mod:`seqfusion.router`)

Every weight file is listed with its SHA-256; loading verifies format version,
checksums and tensor shapes and names the offending file on failure. No pickle is used.
"""
from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from seqfusion.errors import ZooError
from seqfusion.extractor import Extractor
from seqfusion.models import build_model

FORMAT = "seqfusion-zoo"
FORMAT_VERSION = 1
MANIFEST = "zoo.json"
DEFAULT_ZOO = Path(__file__).resolve().parent / "default_zoo"


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class Member:
    """One PTM of the zoo: a module ``[batch, T] -> [batch, h]`` and its metadata."""

    name: str
    architecture: str
    config: dict[str, Any]
    module: nn.Module
    representation: np.ndarray  # [dim]
    source: str = ""
    frequency: str = ""
    domain: str = ""
    training: dict[str, Any] = field(default_factory=dict)

    @property
    def input_length(self) -> int:
        return int(self.config.get("input_length", 36))

    @property
    def horizon(self) -> int:
        return int(self.config.get("horizon", 12))

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.module.parameters())


class Zoo:
    """A general extractor plus a list of members, loadable from and savable to a folder."""

    def __init__(
        self,
        extractor: Extractor,
        extractor_config: dict[str, Any],
        members: list[Member] | None = None,
        info: dict[str, Any] | None = None,
        path: Path | None = None,
    ) -> None:
        self.router: Any = None  # a seqfusion.router.Router fitted to exactly these members
        self.router_info: dict[str, Any] = {}
        self.extractor = extractor.eval()
        self.extractor_config = dict(extractor_config)
        self.members: list[Member] = []
        self.info: dict[str, Any] = dict(info or {})
        self.path = path
        for m in members or []:
            self.add(m)

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
        raise KeyError(f"no PTM named {name!r} in the zoo (have: {', '.join(self.names)})")

    @property
    def input_length(self) -> int:
        return int(self.extractor_config.get("input_length", 36))

    def representations(self) -> np.ndarray:
        """Member representations stacked: ``[n_members, dim]``."""
        return np.stack([m.representation for m in self.members]).astype(np.float32)

    def sources(self) -> list[str]:
        """Source names of all members (for leakage checks)."""
        return [m.source for m in self.members]

    def table(self) -> Any:
        """A pandas DataFrame with one row per member."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "name": m.name,
                    "architecture": m.architecture,
                    "source": m.source,
                    "frequency": m.frequency,
                    "domain": m.domain,
                    "parameters": m.n_parameters,
                    "input_length": m.input_length,
                    "horizon": m.horizon,
                }
                for m in self.members
            ]
        )

    # ------------------------------------------------------------------ router
    def set_router(self, router: Any, info: dict[str, Any] | None = None) -> None:
        """Attach a router fitted to the current members (in their current order)."""
        if router.n_members != len(self.members):
            raise ZooError(f"the router weighs {router.n_members} members, the zoo has {len(self.members)}")
        self.router = router.eval()
        self.router_info = {**(info or {}), "members": self.names}

    def _drop_router(self) -> None:
        """Forget the router (the member set changed); a manifest default of router
        fusion falls back to the plain mean of the most similar members."""
        if self.router is None:
            return
        self.router, self.router_info = None, {}
        self.info = _without_router_defaults(self.info)

    # ------------------------------------------------------------------ editing
    def add(self, member: Member) -> None:
        """Add a member; its name must be new and its representation match the extractor."""
        if not member.name or any(c in member.name for c in "/\\ ") or member.name.startswith("."):
            raise ZooError(f"invalid PTM name {member.name!r} (no spaces or slashes)")
        if member.name in self.names:
            raise ZooError(f"a PTM named {member.name!r} is already in the zoo")
        dim = self.extractor.project[-1].out_features
        rep = np.asarray(member.representation, dtype=np.float32).reshape(-1)
        if rep.shape != (dim,) or not np.isfinite(rep).all():
            raise ZooError(f"PTM {member.name!r}: representation must be {dim} finite numbers")
        if member.input_length != self.input_length:
            raise ZooError(
                f"PTM {member.name!r} takes {member.input_length} points, the zoo {self.input_length}"
            )
        member.representation = rep
        member.module.eval()
        self.members.append(member)
        self._drop_router()  # fitted to the old member set

    def remove(self, name: str) -> None:
        """Remove the member called ``name`` (a router, fitted to all members, is dropped)."""
        self.members.remove(self[name])
        self._drop_router()

    def subset(self, names: list[str]) -> Zoo:
        """A new zoo (sharing modules) holding only the named members, in that order.

        The router is kept only when ``names`` are all members in their order."""
        keep = self.router is not None and list(names) == self.names
        zoo = Zoo(self.extractor, self.extractor_config, [copy.copy(self[n]) for n in names],
                  self.info if keep else _without_router_defaults(self.info), self.path)
        if keep:
            zoo.set_router(self.router, self.router_info)
        return zoo

    # ------------------------------------------------------------------ disk
    def save(self, path: str | Path, half: bool = True) -> Path:
        """Write the zoo to folder ``path`` (weights in float16 when ``half``)."""
        path = Path(path)
        (path / "ptms").mkdir(parents=True, exist_ok=True)
        dtype = "float16" if half else "float32"
        ext_file = path / "extractor.safetensors"
        _save_module(self.extractor, ext_file, half)
        entries = []
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
            if _has_state(m.module):
                rel = f"ptms/{m.name}.safetensors"
                _save_module(m.module, path / rel, half)
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
        router_file = path / "router.safetensors"
        if self.router is not None:
            _save_module(self.router, router_file, half)
            manifest["router"] = {
                "config": {"n_members": self.router.n_members, "input_length": self.router.input_length,
                           "embed_dim": self.router.embed_dim, "hidden": self.router.net[0].out_features,
                           "acf_lags": self.router.acf_lags, "frequencies": self.router.frequencies},
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
            extractor = Extractor(**ext["config"])
            _load_module(extractor, member_file(path, ext["file"]), ext["sha256"])
            zoo = cls(extractor, ext["config"], info=manifest.get("info", {}), path=path)
            for e in manifest["ptms"]:
                module = build_model(e["architecture"], **e["config"])
                if e.get("file"):
                    _load_module(module, member_file(path, e["file"]), e["sha256"])
                elif _has_state(module):
                    raise ZooError(f"{mpath}: PTM {e['name']!r} has weights but no file entry")
                zoo.add(
                    Member(
                        name=e["name"],
                        architecture=e["architecture"],
                        config=e["config"],
                        module=module,
                        representation=np.asarray(e["representation"], dtype=np.float32),
                        source=e.get("source", ""),
                        frequency=e.get("frequency", ""),
                        domain=e.get("domain", ""),
                        training=e.get("training", {}),
                    )
                )
            if manifest.get("router"):
                _load_router(zoo, manifest["router"], path)
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


def _load_router(zoo: Zoo, entry: dict[str, Any], path: Path) -> None:
    from seqfusion.router import Router

    if list(entry["members"]) != zoo.names:
        raise ZooError(f"{path / MANIFEST}: the router was fitted to other members than the zoo's")
    router = Router(**entry["config"])
    _load_module(router, member_file(path, entry["file"]), entry["sha256"])
    zoo.set_router(router, dict(entry.get("info", {})))


def _has_state(module: nn.Module) -> bool:
    return len(module.state_dict()) > 0


def _save_module(module: nn.Module, file: Path, half: bool) -> None:
    state = {
        k: (v.detach().to(torch.float16) if half and v.is_floating_point() else v.detach()).contiguous()
        for k, v in module.state_dict().items()
    }
    save_file(state, str(file), metadata={"format": FORMAT})


def member_file(folder: Path, rel: Any) -> Path:
    """The weight file ``rel`` of a manifest, which must lie inside the zoo ``folder``."""
    if not isinstance(rel, str) or not rel:
        raise ZooError(f"{folder / MANIFEST}: bad weight file entry {rel!r}")
    file = (folder / rel).resolve()
    if not file.is_relative_to(folder.resolve()):
        raise ZooError(f"{folder / MANIFEST}: weight file {rel!r} lies outside the zoo folder")
    return file


def _load_module(module: nn.Module, file: Path, expected_sha: str) -> None:
    if not file.is_file():
        raise ZooError(f"{file}: weight file missing")
    if sha256_file(file) != expected_sha:
        raise ZooError(f"{file}: checksum mismatch (file corrupt or changed)")
    try:
        state = load_file(str(file))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ZooError(f"{file}: unreadable safetensors file ({exc})") from None
    own = module.state_dict()
    if set(state) != set(own):
        raise ZooError(f"{file}: tensors do not match the architecture (keys differ)")
    for k, v in own.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise ZooError(f"{file}: tensor {k!r} has shape {tuple(state[k].shape)}, expected {tuple(v.shape)}")
        state[k] = state[k].to(v.dtype)
    module.load_state_dict(state)
    module.eval()
