"""Building a model zoo from a TOML configuration (``src/seqfusion/configs/*.toml``).

Pipeline of :func:`build_zoo`:

1. load every member's source (registry of :mod:`seqfusion.training.data.sources`, or in-memory
   series for tests) and split each *sub-dataset* (a source, optionally aggregated by
   ``aggregate`` points) into a TRAIN part and a HELD-OUT part: a series long enough keeps
   its last ``holdout_fraction`` (at least one horizon) for evaluation -- held-out windows
   have their targets in that unseen tail -- and a short series goes whole to one side
   (held-out with probability ``holdout_fraction``);
2. sample ``n_windows`` windows of ``context + horizon`` points per member from the train
   part (near-constant / intermittent windows are filtered by
   :func:`seqfusion.training.data.windows.sample_windows`); a member with ``context < input_length``
   (short yearly series) gets its inputs left-padded with their first value, as the
   forecaster pads short histories; a member may set its own native ``horizon`` (its
   windows then hold ``context + horizon`` points; with fewer than ``[training]
   min_horizon_windows`` of them, default ``min_windows``, it keeps the zoo's horizon);
3. train the PTMs (cached by configuration hash below ``cache_dir('build')``, so an
   interrupted build resumes);
4. evaluate every member on held-out windows of every sub-dataset (transferability
   matrix, :mod:`seqfusion.training.transfer`);
5. train the extractor on ``n_subseries`` input windows sampled across the sub-datasets
   with the transferability loss (:mod:`seqfusion.training.extractor_training`);
6. represent every member by the mean embedding of a demo sample of its training inputs
   (weight-free members: of demo windows of a stated kind), prune, and save the zoo with a
   manifest ``info`` recording config, sources, seeds, versions, timings and the matrix;
7. with a ``[router]`` section, fit the learned fusion weights (:mod:`seqfusion.training.router`)
   on held-out windows of the sub-datasets and of further registered sources.

Run ``seqfusion zoo build --config default --out DIR``.
"""
from __future__ import annotations

import copy
import fnmatch
import hashlib
import json
import math
import platform
import sys
import time
import tomllib
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from seqfusion.errors import SeqFusionError
from seqfusion.frequency import aggregated_class, frequency_class
from seqfusion.preprocess import pad_left
from seqfusion.training.corpus import SOURCES
from seqfusion.training.extractor import Extractor
from seqfusion.training.extractor_training import ExtractorTrainConfig, pair_cosines, summarize_history, train_extractor
from seqfusion.training.long_training import build_long_member, check_spec, corpus_sources
from seqfusion.training.members import classical_member, representation, torch_module
from seqfusion.training.models import build_model, list_architectures
from seqfusion.training.router import (
    RouterConfig,
    RouterEnsemble,
    attach_router,
    calibrate_temperature,
    new_router,
    router_data,
    train_router,
)
from seqfusion.training.training import TrainConfig, train_ptm
from seqfusion.training.transfer import (
    G_SCALES,
    NORMS,
    TransferResult,
    format_matrix,
    selection_quality,
    transfer_matrix,
)
from seqfusion.zoo import Member, Zoo, state_arrays

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
BUILD_FORMAT = 1  # bump to invalidate every cached PTM

#: Built-in defaults of a configuration; a TOML file overrides any of them.
DEFAULTS: dict[str, Any] = {
    "name": "zoo",
    "description": "",
    "input_length": 36,
    "horizon": 12,
    "seed": 0,
    "threads": 1,
    "exclude": [],
    "split": {"holdout_fraction": 0.2, "n_eval_windows": 512, "transfer_norm": "window"},
    "training": {"epochs": 10, "lr": 1e-3, "batch_size": 256, "n_windows": 4000, "min_windows": 32,
                 "demo_size": 256},
    "architectures": {
        "patchtst": {"patch_len": 16, "stride": 8, "d_model": 64, "n_heads": 8, "d_ff": 128,
                     "n_layers": 1, "dropout": 0.05},
        "dlinear": {"kernel": 13},
    },
    "extractor": {
        "n_subseries": 100_000,
        "g_scale": "none",
        "model": {"patch_len": 4, "d_model": 64, "n_heads": 4, "d_ff": 128, "n_layers": 2,
                  "dim": 128, "dropout": 0.1},
        "train": {},
    },
    "members": [],
    "classical": [],
    "long_members": [],
    "prune": {},
    "router": {"enabled": False, "extra_sources": []},
    "forecaster": {},
}

#: [router] keys read by the build itself; the others are RouterConfig fields.
ROUTER_BUILD_KEYS = ("enabled", "extra_sources", "calibrate_folds")
MEMBER_KEYS = {"name", "source", "architecture", "config", "n_windows", "seed", "context",
               "aggregate", "frequency", "domain", "epochs", "lr", "batch_size", "horizon"}
CLASSICAL_KEYS = {"name", "architecture", "config", "demo", "frequency", "domain"}
DEMO_KINDS = ("random_walk", "seasonal", "noise", "trend", "source")


def _log(progress: bool, msg: str) -> None:
    if progress:
        tqdm.write(msg, file=sys.stderr)


# ====================================================================== configuration
def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def resolve_config_path(config: str | Path) -> Path:
    """A TOML path, or the name of a shipped config (``default``, ``mini`` ...)."""
    p = Path(config)
    if p.is_file():
        return p
    shipped = CONFIG_DIR / f"{config}.toml"
    if p.suffix == "" and shipped.is_file():
        return shipped
    names = ", ".join(sorted(f.stem for f in CONFIG_DIR.glob("*.toml")))
    raise SeqFusionError(f"config {str(config)!r} not found (a TOML file or one of: {names})")


def load_config(config: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """Read and validate a build configuration (path, shipped name or dict), with defaults."""
    if isinstance(config, Mapping):
        raw = dict(config)
    else:
        path = resolve_config_path(config)
        try:
            raw = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise SeqFusionError(f"{path}: invalid TOML ({exc})") from None
    unknown = set(raw) - set(DEFAULTS)
    if unknown:
        raise SeqFusionError(f"unknown config key(s): {', '.join(sorted(unknown))}")
    cfg = _merge(DEFAULTS, raw)
    ext_unknown = set(cfg["extractor"]) - {"n_subseries", "g_scale", "model", "train"}
    if ext_unknown:
        raise SeqFusionError(f"unknown [extractor] key(s): {', '.join(sorted(ext_unknown))}")
    if cfg["extractor"]["g_scale"] not in G_SCALES:
        raise SeqFusionError(f"[extractor] g_scale must be one of {G_SCALES}")
    if cfg["split"].get("transfer_norm") not in NORMS:
        raise SeqFusionError(f"[split] transfer_norm must be one of {NORMS}")
    try:
        ExtractorTrainConfig.from_dict(cfg["extractor"]["train"])
    except (TypeError, ValueError) as exc:
        raise SeqFusionError(f"[extractor.train]: {exc}") from None
    router_cfg = {k: v for k, v in cfg["router"].items() if k not in ROUTER_BUILD_KEYS}
    try:
        RouterConfig.from_dict(router_cfg)
    except (TypeError, ValueError) as exc:
        raise SeqFusionError(f"[router]: {exc}") from None
    if not isinstance(cfg["router"].get("calibrate_folds", 0), int) or cfg["router"].get("calibrate_folds", 0) == 1:
        raise SeqFusionError("[router] calibrate_folds must be 0 (off) or an integer >= 2")
    extra = cfg["router"]["extra_sources"]
    if not (extra == "registry" or (isinstance(extra, list) and all(isinstance(e, str) for e in extra))):
        raise SeqFusionError("[router] extra_sources must be a list of source names or \"registry\"")
    if not cfg["members"] and not cfg["classical"]:
        raise SeqFusionError("the config lists no members")
    names: set[str] = set()
    archs = set(list_architectures())
    for m in cfg["members"]:
        bad = set(m) - MEMBER_KEYS
        if bad:
            raise SeqFusionError(f"member {m.get('name')!r}: unknown key(s) {', '.join(sorted(bad))}")
        for key in ("name", "source", "architecture"):
            if not m.get(key):
                raise SeqFusionError(f"member {m.get('name')!r}: missing {key!r}")
        if m["architecture"] not in archs:
            raise SeqFusionError(f"member {m['name']!r}: unknown architecture {m['architecture']!r}")
        ctx = int(m.get("context", cfg["input_length"]))
        if not 1 <= ctx <= cfg["input_length"]:
            raise SeqFusionError(f"member {m['name']!r}: context must be in [1, {cfg['input_length']}]")
        if int(m.get("aggregate", 1)) < 1:
            raise SeqFusionError(f"member {m['name']!r}: aggregate must be >= 1")
        if int(m.get("horizon", cfg["horizon"])) < 1:
            raise SeqFusionError(f"member {m['name']!r}: horizon must be >= 1")
        names_check(m["name"], names)
    for c in cfg["classical"]:
        bad = set(c) - CLASSICAL_KEYS
        if bad:
            raise SeqFusionError(f"classical member {c.get('name')!r}: unknown key(s) {', '.join(sorted(bad))}")
        if not c.get("name") or c.get("architecture") not in archs:
            raise SeqFusionError(f"classical member {c.get('name')!r}: needs a name and a known architecture")
        demo = c.get("demo", {"kind": "random_walk"})
        if demo.get("kind") not in DEMO_KINDS:
            raise SeqFusionError(f"classical member {c['name']!r}: demo kind must be one of {DEMO_KINDS}")
        if demo["kind"] == "source" and not demo.get("source"):
            raise SeqFusionError(f"classical member {c['name']!r}: demo kind 'source' needs 'source'")
        names_check(c["name"], names)
    for spec in cfg["long_members"]:
        try:
            check_spec(spec)
        except ValueError as exc:
            raise SeqFusionError(str(exc)) from None
        names_check(spec["name"], names)
    return cfg


def names_check(name: str, seen: set[str]) -> None:
    if name in seen:
        raise SeqFusionError(f"member name {name!r} appears twice in the config")
    seen.add(name)


def excluded_by(src: str, patterns: Sequence[str]) -> str | None:
    """The first ``exclude`` pattern matching source name ``src``, else None."""
    for p in patterns:
        if fnmatch.fnmatchcase(src, p):
            return p
    return None


def check_exclusions(cfg: Mapping[str, Any], info: Callable[[str], Mapping[str, Any]]) -> None:
    """Refuse members (or demo sources) using an excluded source or one related to it."""
    patterns = list(cfg.get("exclude", []))

    def excluded(src: str) -> str | None:
        return excluded_by(src, patterns)

    used = [(m["name"], m["source"]) for m in cfg["members"]]
    used += [(c["name"], c["demo"]["source"]) for c in cfg["classical"]
             if c.get("demo", {}).get("kind") == "source"]
    for spec in cfg.get("long_members", []):  # extra/<stem> datasets have no registry entry
        for src in corpus_sources(spec):
            hit = excluded(src)
            if hit:
                raise SeqFusionError(f"member {spec['name']!r} uses source {src!r}, excluded by {hit!r}")
        used += [(spec["name"], s) for s in spec.get("corpus", {}).get("sources", SOURCES)]
    for name, src in used:
        hit = excluded(src)
        if hit:
            raise SeqFusionError(f"member {name!r} uses source {src!r}, excluded by {hit!r}")
        for rel in info(src).get("related", []):
            hit = excluded(rel)
            if hit:
                raise SeqFusionError(
                    f"member {name!r} uses source {src!r}, related to excluded source {rel!r} ({hit!r})")


def config_hash(obj: Any) -> str:
    """Stable SHA-256 of a JSON-able object."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


# ====================================================================== data handling
def aggregate_series(x: np.ndarray, k: int) -> np.ndarray:
    """Means of non-overlapping blocks of ``k`` points, aligned at the series' end."""
    if k <= 1:
        return np.asarray(x, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    n = (len(x) // k) * k
    return x[len(x) - n:].reshape(-1, k).mean(axis=1)


def split_series(series: Sequence[np.ndarray], context: int, horizon: int, fraction: float,
                 rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Split series into train parts and held-out parts (see module docstring).

    A series of length ``n`` with ``n - tail >= context + horizon`` (``tail =
    max(horizon, ceil(fraction * n))``) gives train ``x[:n - tail]`` and held-out
    ``x[n - tail - context:]`` (every held-out window's target lies in the tail); a shorter
    one of at least ``context + horizon`` points goes whole to the held-out side with
    probability ``fraction``; shorter ones are dropped.
    """
    w = context + horizon
    train, held = [], []
    for x in series:
        n = len(x)
        tail = max(horizon, math.ceil(fraction * n))
        if n - tail >= w:
            train.append(x[: n - tail])
            held.append(x[n - tail - context:])
        elif n >= w:
            (held if rng.random() < fraction else train).append(x)
    return train, held


def pad_inputs(windows: np.ndarray, context: int, input_length: int) -> np.ndarray:
    """Left-pad the first ``context`` columns of windows to ``input_length`` with their first
    value, as inference pads short histories (:func:`seqfusion.preprocess.pad_left`)."""
    if context >= input_length:
        return windows
    return pad_left(windows, windows.shape[1] + input_length - context)


def sample_padded(series: Sequence[np.ndarray], context: int, horizon: int, input_length: int,
                  n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` informative windows of ``context + horizon`` points, inputs padded to ``input_length``."""
    from seqfusion.training.data.windows import sample_windows

    w = sample_windows(series, context + horizon, n, rng)
    return pad_inputs(w, context, input_length)


def synthetic_demo(kind: str, n: int, length: int, rng: np.random.Generator, period: int = 7) -> np.ndarray:
    """Demo windows ``[n, length]`` of a synthetic kind (for weight-free members)."""
    t = np.arange(length)
    if kind == "random_walk":
        return 100.0 + rng.normal(size=(n, length)).cumsum(axis=1)
    if kind == "seasonal":
        phase = rng.uniform(0, 2 * np.pi, size=(n, 1))
        amp = rng.uniform(0.5, 2.0, size=(n, 1))
        return 10.0 + amp * np.sin(2 * np.pi * t / period + phase) + 0.2 * rng.normal(size=(n, length))
    if kind == "noise":
        return 10.0 + rng.normal(size=(n, length))
    if kind == "trend":
        slope = rng.choice([-1.0, 1.0], size=(n, 1)) * rng.uniform(0.05, 0.3, size=(n, 1))
        return 10.0 + slope * t + 0.2 * rng.normal(size=(n, length))
    raise SeqFusionError(f"unknown demo kind {kind!r}")


@dataclass
class SubDataset:
    """A source (optionally aggregated) split into train / held-out parts."""

    key: str
    source: str
    aggregate: int
    context: int
    frequency: str
    domain: str
    train: list[np.ndarray] = field(default_factory=list)
    held: list[np.ndarray] = field(default_factory=list)
    fingerprint: str = ""


def _sub_key(source: str, aggregate: int) -> str:
    return source if aggregate == 1 else f"{source}@{aggregate}"


class SourceProvider:
    """Loads series by source name from the registry or from an in-memory mapping."""

    def __init__(self, sources: Mapping[str, Sequence[np.ndarray]] | None = None,
                 meta: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.memory = {k: [np.asarray(x, dtype=np.float64) for x in v] for k, v in (sources or {}).items()}
        self.meta = dict(meta or {})
        self._cache: dict[str, list[np.ndarray]] = {}
        self._file_sha: dict[str, str] = {}

    def info(self, name: str) -> dict[str, Any]:
        if name in self.memory:
            m = dict(self.meta.get(name, {}))
            m.setdefault("frequency", "")
            m.setdefault("domain", "")
            m.setdefault("related", [])
            return {"name": name, "file": None, **m}
        from seqfusion.training.data.sources import source_info

        try:
            return source_info(name)
        except KeyError as exc:
            raise SeqFusionError(str(exc.args[0])) from None

    def load(self, name: str) -> list[np.ndarray]:
        if name not in self._cache:
            if name in self.memory:
                self._cache[name] = self.memory[name]
            else:
                from seqfusion.training.data.sources import load_source

                try:
                    self._cache[name] = load_source(name)
                except FileNotFoundError as exc:
                    raise SeqFusionError(str(exc)) from None
        return self._cache[name]

    def fingerprint(self, name: str) -> str:
        """SHA-256 of the source's data (file bytes, or in-memory values)."""
        if name not in self._file_sha:
            if name in self.memory:
                h = hashlib.sha256()
                for x in self.memory[name]:
                    h.update(np.ascontiguousarray(x, dtype=np.float64).tobytes())
                    h.update(b"|")
                self._file_sha[name] = h.hexdigest()
            else:
                from seqfusion.training.data.sources import resolve_file
                from seqfusion.zoo import sha256_file

                self._file_sha[name] = sha256_file(resolve_file(name))
        return self._file_sha[name]


# ====================================================================== PTM cache
def _cache_paths(cache: Path, name: str, key: str) -> tuple[Path, Path]:
    stem = f"{name}-{key[:16]}"
    return cache / f"{stem}.safetensors", cache / f"{stem}.json"


def _load_cached(cache: Path | None, name: str, key: str, architecture: str
                 ) -> tuple[torch.nn.Module, dict[str, Any]] | None:
    if cache is None:
        return None
    wfile, mfile = _cache_paths(cache, name, key)
    if not (wfile.is_file() and mfile.is_file()):
        return None
    try:
        meta = json.loads(mfile.read_text())
        if meta.get("key") != key:
            return None
        module = build_model(architecture, **meta["config"])
        module.load_state_dict(load_file(str(wfile)))
    except Exception:  # a broken cache entry is simply retrained
        return None
    module.eval()
    return module, meta


def _save_cached(cache: Path | None, name: str, key: str, module: torch.nn.Module, meta: dict[str, Any]) -> None:
    if cache is None:
        return
    wfile, mfile = _cache_paths(cache, name, key)
    state = {k: v.detach().contiguous() for k, v in module.state_dict().items()}
    if state:
        save_file(state, str(wfile))
    else:
        save_file({"_empty": torch.zeros(1)}, str(wfile))
    tmp = mfile.with_suffix(".tmp")
    tmp.write_text(json.dumps({**meta, "key": key}, default=str))
    tmp.replace(mfile)


# ====================================================================== build
def _command_line() -> str:
    """The command that runs this build, as a user would type it (``python -m
    seqfusion.cli zoo build ...`` reads as ``seqfusion zoo build ...``)."""
    argv = list(sys.argv) or ["python"]
    prog = Path(argv[0]).name
    if Path(argv[0]).parent.name == "seqfusion" and prog in ("cli.py", "__main__.py"):
        prog = "seqfusion"
    return " ".join([prog, *argv[1:]])


def library_versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("seqfusion", "torch", "numpy", "pandas", "safetensors"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            if pkg == "seqfusion":
                import seqfusion

                out[pkg] = seqfusion.__version__
    return out


def build_zoo(
    config: str | Path | Mapping[str, Any],
    out_dir: str | Path | None,
    progress: bool = True,
    sources: Mapping[str, Sequence[np.ndarray]] | None = None,
    source_meta: Mapping[str, Mapping[str, Any]] | None = None,
    cache: str | Path | bool | None = True,
) -> Zoo:
    """Build (and, when ``out_dir`` is given, save) the zoo described by ``config``.

    ``sources``: in-memory series by source name, overriding the registry (tests);
    ``source_meta``: their frequency/domain. ``cache``: True for
    ``cache_dir('build')``, a folder, or False/None for no PTM cache.
    """
    t_start = time.perf_counter()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    cfg = load_config(config)
    provider = SourceProvider(sources, source_meta)
    check_exclusions(cfg, provider.info)
    if cache is True:
        from seqfusion.training.data.paths import cache_dir

        cache_path: Path | None = cache_dir("build")
    elif cache:
        cache_path = Path(cache)
        cache_path.mkdir(parents=True, exist_ok=True)
    else:
        cache_path = None
    old_threads = torch.get_num_threads()
    torch.set_num_threads(max(1, int(cfg["threads"])))
    try:
        zoo, stages = _build(cfg, provider, cache_path, progress)
        t0 = time.perf_counter()
        for spec in cfg["long_members"]:
            _log(progress, f"long-context member {spec['name']}")
            try:
                member = build_long_member(spec, provider.load, provider.fingerprint, cache_path, progress)
            except ValueError as exc:
                raise SeqFusionError(str(exc)) from None
            zoo.add_long(member)
        if cfg["long_members"]:
            stages["long_members"] = round(time.perf_counter() - t0, 1)
            zoo.info["long_members"] = {m.name: m.training for m in zoo.long_members}
    finally:
        torch.set_num_threads(old_threads)
    zoo.info["build"] = {
        "started_utc": started,
        "seconds": round(time.perf_counter() - t_start, 1),
        "stages_seconds": stages,
        "command": _command_line(),
        "threads": int(cfg["threads"]),
        "machine": platform.machine(),
    }
    if out_dir is not None:
        out = Path(out_dir)
        zoo.save(out)
        keep = {f"{m.name}.safetensors" for m in zoo.members}
        for f in (out / "ptms").glob("*.safetensors"):
            if f.name not in keep:
                f.unlink()
        _log(progress, f"saved zoo ({len(zoo)} members) to {out} "
                       f"({zoo_size_bytes(out) / 1e6:.2f} MB) in {zoo.info['build']['seconds']:.0f} s")
    return zoo


def _build(cfg: dict[str, Any], provider: SourceProvider, cache: Path | None, progress: bool
           ) -> tuple[Zoo, dict[str, float]]:
    T, H = int(cfg["input_length"]), int(cfg["horizon"])
    seed = int(cfg["seed"])
    tr = cfg["training"]
    stages: dict[str, float] = {}
    t0 = time.perf_counter()

    # ---- 1. sources and sub-datasets
    subs: dict[str, SubDataset] = {}
    for m in cfg["members"]:
        agg = int(m.get("aggregate", 1))
        key = _sub_key(m["source"], agg)
        ctx = int(m.get("context", T))
        if key in subs:
            subs[key].context = min(subs[key].context, ctx)
            continue
        info = provider.info(m["source"])
        subs[key] = SubDataset(key, m["source"], agg, ctx, info.get("frequency", ""), info.get("domain", ""))
    for sd in subs.values():
        series = [aggregate_series(x, sd.aggregate) for x in provider.load(sd.source)]
        rng = np.random.default_rng([seed, zlib.crc32(sd.key.encode())])
        sd.train, sd.held = split_series(series, sd.context, H, cfg["split"]["holdout_fraction"], rng)
        sd.fingerprint = provider.fingerprint(sd.source)
        if not sd.train or not sd.held:
            raise SeqFusionError(f"sub-dataset {sd.key!r}: too few usable series for a train/held-out "
                                 f"split with windows of {sd.context + H} points")
        _log(progress, f"[data] {sd.key}: {len(sd.train)} train / {len(sd.held)} held-out series "
                       f"({sum(map(len, sd.train))} / {sum(map(len, sd.held))} points)")
    stages["data"] = round(time.perf_counter() - t0, 1)

    # ---- 2-3. windows and PTMs
    t0 = time.perf_counter()
    trained: list[dict[str, Any]] = []
    bar = tqdm(cfg["members"], desc="PTMs", disable=not progress)
    for m in bar:
        bar.set_postfix_str(m["name"])
        agg = int(m.get("aggregate", 1))
        sd = subs[_sub_key(m["source"], agg)]
        ctx = int(m.get("context", T))
        tcfg = TrainConfig(epochs=int(m.get("epochs", tr["epochs"])), lr=float(m.get("lr", tr["lr"])),
                           batch_size=int(m.get("batch_size", tr["batch_size"])), seed=int(m.get("seed", seed)))
        n_windows = int(m.get("n_windows", tr["n_windows"]))
        # A member may set its own native horizon (training windows of context + horizon
        # points from the train part; split, transfer matrix and router keep the zoo's
        # horizon and roll members out). Too few such windows: the zoo's horizon.
        hm = int(m.get("horizon", H))
        windows = sample_padded(sd.train, ctx, hm, T, n_windows, np.random.default_rng(tcfg.seed))
        if hm != H and len(windows) < int(tr.get("min_horizon_windows", tr["min_windows"])):
            _log(progress, f"[ptm] {m['name']}: only {len(windows)} windows of {ctx + hm} points in "
                           f"{sd.key!r}; native horizon {H} instead of {hm}")
            hm = H
            windows = sample_padded(sd.train, ctx, H, T, n_windows, np.random.default_rng(tcfg.seed))
        model_cfg = {**cfg["architectures"].get(m["architecture"], {}), **m.get("config", {}),
                     "input_length": T, "horizon": hm}
        if len(windows) < int(tr["min_windows"]):
            raise SeqFusionError(f"member {m['name']!r}: only {len(windows)} usable training windows "
                                 f"in {sd.key!r} (need {tr['min_windows']})")
        spec = {"build_format": BUILD_FORMAT, "architecture": m["architecture"], "config": model_cfg,
                "train": {k: getattr(tcfg, k) for k in ("epochs", "lr", "batch_size", "seed", "clip")},
                "n_windows": n_windows, "context": ctx, "sub": sd.key, "data": sd.fingerprint,
                "split": cfg["split"]["holdout_fraction"], "split_seed": seed,
                "windows": hashlib.sha256(windows.tobytes()).hexdigest()}
        key = config_hash(spec)
        hit = _load_cached(cache, m["name"], key, m["architecture"])
        if hit is not None:
            module, meta = hit
            meta = {k: v for k, v in meta.items() if k != "key"}
            meta["cached"] = True
            _log(progress, f"[ptm] {m['name']}: cached ({key[:12]})")
        else:
            module, meta = train_ptm(windows[:, :T], windows[:, T:], m["architecture"], model_cfg, tcfg,
                                     progress=progress, desc=m["name"])
            meta["config_hash"] = key
            _save_cached(cache, m["name"], key, module, meta)
            meta["cached"] = False
            _log(progress, f"[ptm] {m['name']}: {len(windows)} windows, final loss "
                           f"{meta['final_loss']:.4f}, {meta['seconds']:.1f} s")
        meta.update({"context": ctx, "sub_dataset": sd.key, "aggregate": agg})
        if "horizon" in m:
            meta["horizon_requested"] = int(m["horizon"])
        trained.append({"spec": m, "sub": sd, "module": module, "meta": meta,
                        "windows": windows, "seed": tcfg.seed})
    stages["ptms"] = round(time.perf_counter() - t0, 1)

    # ---- classical members' modules and demo windows
    classical = []
    for c in cfg["classical"]:
        demo = {"kind": "random_walk", "n": 256, "seed": seed, **c.get("demo", {})}
        rng = np.random.default_rng(int(demo["seed"]))
        if demo["kind"] == "source":
            agg = int(demo.get("aggregate", 1))
            key = _sub_key(demo["source"], agg)
            if key in subs:
                part = subs[key].train
            else:
                series = [aggregate_series(x, agg) for x in provider.load(demo["source"])]
                part = split_series(series, T, H, cfg["split"]["holdout_fraction"],
                                    np.random.default_rng([seed, zlib.crc32(key.encode())]))[0]
            from seqfusion.training.data.windows import sample_windows

            demo_w = sample_windows(part, T, int(demo["n"]), rng)
        else:
            demo_w = synthetic_demo(demo["kind"], int(demo["n"]), T, rng, int(demo.get("period", 7)))
        if len(demo_w) == 0:
            raise SeqFusionError(f"classical member {c['name']!r}: no demo windows")
        ccfg = {"input_length": T, "horizon": H, **c.get("config", {})}
        classical.append({"spec": c, "demo": demo, "demo_windows": demo_w,
                          "module": build_model(c["architecture"], **ccfg), "config": ccfg})

    # ---- 4. transferability matrix
    t0 = time.perf_counter()
    n_eval = int(cfg["split"]["n_eval_windows"])
    eval_windows = {}
    for sd in subs.values():
        rng = np.random.default_rng([seed + 1, zlib.crc32(sd.key.encode())])
        w = sample_padded(sd.held, sd.context, H, T, n_eval, rng)
        if len(w) == 0:
            raise SeqFusionError(f"sub-dataset {sd.key!r}: no informative held-out windows")
        eval_windows[sd.key] = w
    rows = [(t["spec"]["name"], t["sub"].key, t["module"]) for t in trained]
    rows += [(c["spec"]["name"], "", c["module"]) for c in classical]
    result = transfer_matrix(rows, eval_windows, T, cfg["split"]["transfer_norm"], keep_predictions=True)
    summ = result.summary()
    stages["transfer"] = round(time.perf_counter() - t0, 1)
    _log(progress, "[transfer] MSE matrix (own sub-dataset in brackets):\n" + format_matrix(result))
    _log(progress, f"[transfer] mean MSE own {summ['diag_mean_mse']:.4f} vs other "
                   f"{summ['offdiag_mean_mse']:.4f}; columns won by an own PTM: "
                   f"{summ['cols_won_by_own_ptm']}/{len(result.cols)}")

    # ---- 5. extractor
    t0 = time.perf_counter()
    ext_cfg = cfg["extractor"]
    etrain = ExtractorTrainConfig.from_dict({"seed": seed, **ext_cfg["train"]})
    keys = result.cols
    pool, groups, pool_counts = _extractor_pool(subs, keys, int(ext_cfg["n_subseries"]), T, seed)
    _log(progress, f"[extractor] {len(pool)} sub-series from {len(keys)} sub-datasets, "
                   f"{etrain.steps} steps, use_transfer={etrain.use_transfer}")
    g_src = result.source_g(ext_cfg["g_scale"])
    emodel = {**ext_cfg["model"], "input_length": T}
    ekey = config_hash({"build_format": BUILD_FORMAT, "model": emodel, "train": etrain.to_dict(),
                        "pool": hashlib.sha256(pool.tobytes()).hexdigest(),
                        "groups": hashlib.sha256(groups.tobytes()).hexdigest(),
                        "g": np.round(g_src, 6).tolist()})
    extractor = Extractor(**emodel)
    ext_meta = None
    if cache is not None:
        wfile, mfile = _cache_paths(cache, "_extractor", ekey)
        if wfile.is_file() and mfile.is_file():
            try:
                extractor.load_state_dict(load_file(str(wfile)))
                ext_meta = json.loads(mfile.read_text())["history"]
                extractor.eval()
                _log(progress, f"[extractor] cached ({ekey[:12]})")
            except Exception:
                extractor, ext_meta = Extractor(**emodel), None
    if ext_meta is None:
        extractor, hist = train_extractor(pool, groups, g_src, etrain, extractor, progress=progress)
        ext_meta = summarize_history(hist)
        _save_cached(cache, "_extractor", ekey, extractor, {"history": ext_meta})
    cos = pair_cosines(extractor, pool, groups, len(keys), seed=seed)
    ok = np.isfinite(g_src)
    ext_meta = {**ext_meta, "n_subseries": int(len(pool)), "pool_counts": pool_counts,
                "transfer_fit_mae": round(float(np.abs(cos[ok] - g_src[ok]).mean()), 4) if ok.any() else None,
                "transfer_fit_corr": round(float(np.corrcoef(cos[ok], g_src[ok])[0, 1]), 4)
                if ok.sum() > 2 else None}
    stages["extractor"] = round(time.perf_counter() - t0, 1)
    losses = {k: v for k, v in ext_meta.items() if isinstance(v, dict) and "last" in v}
    _log(progress, f"[extractor] losses {json.dumps(losses)}; "
                   f"|cos - g| = {ext_meta['transfer_fit_mae']}, corr = {ext_meta['transfer_fit_corr']}")

    # ---- 6. members, info, zoo
    t0 = time.perf_counter()
    demo_size = int(tr["demo_size"])
    members = []
    for t in trained:
        m, sd, x = t["spec"], t["sub"], t["windows"][:, :T]
        rng = np.random.default_rng(t["seed"])
        demo = x[rng.choice(len(x), size=min(demo_size, len(x)), replace=False)]
        meta = {**t["meta"], "demo_size": len(demo)}
        members.append(Member(m["name"], m["architecture"], dict(meta["config"]), state_arrays(t["module"]),
                              representation(extractor, demo), sd.source,
                              m.get("frequency") or sd.frequency, m.get("domain") or sd.domain, meta))
    for c in classical:
        spec = c["spec"]
        mem = classical_member(spec["name"], spec["architecture"], extractor, c["demo_windows"], c["config"],
                               "", spec.get("frequency", "any"), spec.get("domain", "classical"))
        mem.training["demo"] = c["demo"]
        members.append(mem)
    pruned = prune_members(members, result, cfg.get("prune", {}))
    if pruned:
        _log(progress, f"[prune] dropped {len(pruned)} members that transfer worse than "
                       f"{cfg['prune']['reference']!r}: {', '.join(pruned)}")
    reps = np.stack([m.representation for m in members])
    selection = {}
    for k in (1, 3):
        if k <= len(members):
            selection[f"top{k}"] = selection_quality(result, eval_windows, extractor.embed, reps, k, T,
                                                     [result.rows.index(m.name) for m in members])
    stages["represent"] = round(time.perf_counter() - t0, 1)
    for key, sq in selection.items():
        mm = sq["mean"]
        _log(progress, f"[selection] {key}: held-out MSE of similarity-selected members "
                       f"{mm['selected']:.4f} (oracle member per sub-dataset {mm['oracle_member']:.4f}, "
                       f"average member {mm['mean_member']:.4f}); own-source PTM chosen for "
                       f"{mm['own_chosen']:.0%} of windows")

    info = {
        "name": cfg["name"],
        "description": cfg["description"],
        "config": cfg,
        "sources": {
            sd.key: {"source": sd.source, "aggregate": sd.aggregate, "context": sd.context,
                     "file": provider.info(sd.source).get("file"), "sha256": sd.fingerprint,
                     "frequency": sd.frequency, "domain": sd.domain,
                     "related": provider.info(sd.source).get("related", []),
                     "train_series": len(sd.train), "heldout_series": len(sd.held),
                     "heldout_windows": int(len(eval_windows[sd.key]))}
            for sd in subs.values()
        },
        "excluded": list(cfg["exclude"]),
        "seeds": {"global": seed, "extractor": etrain.seed,
                  **{t["spec"]["name"]: t["seed"] for t in trained}},
        "versions": library_versions(),
        "extractor_training": ext_meta,
        "transfer": {**result.to_dict(), "summary": _round_summary(summ),
                     "g_scale": ext_cfg["g_scale"], "norm": cfg["split"]["transfer_norm"],
                     "source_g": [[None if not np.isfinite(v) else round(float(v), 4) for v in row]
                                  for row in g_src]},
        "selection": _round_summary(selection),
        "pruned": pruned,
        "forecaster": dict(cfg.get("forecaster", {})),
    }
    ecfg = {"input_length": T, **ext_cfg["model"]}
    zoo = Zoo(ecfg, extractor, members, info)
    if cfg["router"].get("enabled"):
        t0 = time.perf_counter()
        router, rmeta = _fit_router(cfg, provider, subs, members, extractor, ekey, cache, progress)
        attach_router(zoo, router, rmeta)
        zoo.info["router"] = {k: v for k, v in rmeta.items() if k != "loss_history"}
        calibrated = rmeta.get("calibration", {}).get("temperature")
        if calibrated is not None and "router_temperature" not in zoo.info["forecaster"]:
            zoo.info["forecaster"]["router_temperature"] = calibrated
        stages["router"] = round(time.perf_counter() - t0, 1)
    return zoo, stages


def router_groups(cfg: Mapping[str, Any], provider: SourceProvider, subs: Mapping[str, SubDataset]
                  ) -> tuple[dict[str, list[np.ndarray]], dict[str, str]]:
    """Held-out series per group for router training, and each group's data fingerprint.

    Groups are the sub-datasets (their held-out parts, which no member saw) plus
    ``[router] extra_sources`` (``"registry"``: every registered source) not used by a
    member, split by the same rule, minus excluded sources and those related to them.
    """
    T, H = int(cfg["input_length"]), int(cfg["horizon"])
    seed = int(cfg["seed"])
    groups = {k: list(sd.held) for k, sd in subs.items()}
    prints = {k: sd.fingerprint for k, sd in subs.items()}
    extra = cfg["router"].get("extra_sources", [])
    if extra == "registry":
        from seqfusion.training.data.sources import list_sources

        extra = list_sources()
    patterns = list(cfg.get("exclude", []))
    used = {sd.source for sd in subs.values()}
    for name in extra:
        if name in used or name in groups:
            continue
        info = provider.info(name)
        if excluded_by(name, patterns) or any(excluded_by(r, patterns) for r in info.get("related", [])):
            continue
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        groups[name] = split_series(provider.load(name), T, H, cfg["split"]["holdout_fraction"], rng)[1]
        prints[name] = provider.fingerprint(name)
    return groups, prints


def router_frequencies(provider: SourceProvider, subs: Mapping[str, SubDataset],
                       groups: Mapping[str, Any]) -> dict[str, str]:
    """Frequency class of each router group: a sub-dataset's source frequency after its
    aggregation (monthly x 12 is yearly), another source's registered frequency."""
    out = {}
    for name in groups:
        if name in subs:
            out[name] = aggregated_class(subs[name].frequency, subs[name].aggregate)
        else:
            out[name] = frequency_class(provider.info(name).get("frequency") or None)
    return out


def _fit_router(cfg: Mapping[str, Any], provider: SourceProvider, subs: Mapping[str, SubDataset],
                members: Sequence[Member], extractor: Extractor, extractor_key: str, cache: Path | None,
                progress: bool) -> tuple[Any, dict[str, Any]]:
    T = int(cfg["input_length"])
    rcfg = RouterConfig.from_dict({"seed": int(cfg["seed"]),
                                   **{k: v for k, v in cfg["router"].items() if k not in ROUTER_BUILD_KEYS}})
    folds = int(cfg["router"].get("calibrate_folds", 0))
    groups, prints = router_groups(cfg, provider, subs)
    freqs = router_frequencies(provider, subs, groups) if rcfg.frequency else None
    key = config_hash({"build_format": BUILD_FORMAT, "router": rcfg.to_dict(), "folds": folds,
                       "extractor": extractor_key,
                       "members": [[m.name, m.architecture, m.config, m.training.get("config_hash")]
                                   for m in members], "groups": prints, "frequencies": freqs, "T": T})
    dim = extractor.dim
    if cache is not None:
        wfile, mfile = _cache_paths(cache, "_router", key)
        if wfile.is_file() and mfile.is_file():
            try:
                router = new_router(rcfg, len(members), T, dim)
                router.load_state_dict(load_file(str(wfile)))
                meta = json.loads(mfile.read_text())["meta"]
                _log(progress, f"[router] cached ({key[:12]})")
                return router.eval(), meta
            except Exception:
                pass
    modules = [torch_module(m) for m in members]
    data = router_data(modules, extractor.embed, groups, rcfg, T, progress, freqs)
    _log(progress, f"[router] {len(data)} windows from {len(data.groups)} groups; training")
    router, meta = train_router(data, rcfg, progress)
    if rcfg.ensemble > 1:  # more routers, each with its own seed and windows; weights averaged
        routers, metas = [router], [meta]
        for j in range(1, rcfg.ensemble):
            cj = replace(rcfg, seed=rcfg.seed + j)
            r, m = train_router(router_data(modules, extractor.embed, groups, cj, T, progress, freqs), cj, progress)
            routers.append(r)
            metas.append(m)
        router = RouterEnsemble(routers)
        meta = {**metas[0], "ensemble": [{k: v for k, v in m.items() if k != "loss_history"} for m in metas]}
        _log(progress, f"[router] ensemble of {rcfg.ensemble} (seeds {rcfg.seed}..{rcfg.seed + rcfg.ensemble - 1})")
    meta["config"] = rcfg.to_dict()
    if folds:
        t0 = time.perf_counter()
        best, table = calibrate_temperature(data, rcfg, folds, progress=progress)
        meta["calibration"] = {"folds": folds, "temperature": best, "held_out_loss": table,
                               "seconds": round(time.perf_counter() - t0, 1)}
        _log(progress, f"[router] leave-groups-out temperature {best:g} (held-out loss by temperature: {table})")
    _save_cached(cache, "_router", key, router, {"meta": meta})
    _log(progress, f"[router] weighted loss {meta['loss_router']:.4f} "
                   f"(uniform weights {meta['loss_uniform_weights']:.4f}), {meta['seconds']:.0f} s")
    return router, meta


def prune_members(members: list[Member], result: Any, prune: Mapping[str, Any]) -> list[str]:
    """Drop (in place) members whose median held-out MSE over all sub-datasets exceeds that
    of the ``reference`` member (e.g. ``naive``), except those listed in ``keep`` (e.g.
    seasonal members a router may weigh up on seasonal data); return the dropped names.

    A zoo-internal criterion: only the sources' held-out windows are used.
    """
    ref = prune.get("reference")
    if not ref:
        return []
    med = {r: float(np.nanmedian(result.mse[i])) for i, r in enumerate(result.rows)}
    if ref not in med:
        raise SeqFusionError(f"prune reference {ref!r} is not a member of the zoo")
    keep = set(prune.get("keep", []))
    unknown = keep - set(med)
    if unknown:
        raise SeqFusionError(f"[prune] keep names unknown member(s): {', '.join(sorted(unknown))}")
    dropped = [m.name for m in members if m.name != ref and m.name not in keep and med[m.name] > med[ref]]
    members[:] = [m for m in members if m.name not in dropped]
    return dropped


def _round_summary(s: dict[str, Any]) -> dict[str, Any]:
    def r(v: Any) -> Any:
        if isinstance(v, float):
            return round(v, 4)
        if isinstance(v, dict):
            return {k: r(x) for k, x in v.items()}
        return v

    return r(s)


def _extractor_pool(subs: Mapping[str, SubDataset], keys: Sequence[str], n_total: int, T: int, seed: int
                    ) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """``n_total`` input windows spread evenly over sub-datasets (``[N, T]``, group ids)."""
    from seqfusion.training.data.windows import sample_windows

    quota = {k: math.ceil(n_total / len(keys)) for k in keys}
    got: dict[str, np.ndarray] = {}
    exhausted: set[str] = set()
    for _ in range(4):
        for k in keys:
            if k in got and (k in exhausted or len(got[k]) >= quota[k]):
                continue
            sd = subs[k]
            rng = np.random.default_rng([seed + 2, zlib.crc32(k.encode())])
            w = pad_inputs(sample_windows(sd.train, sd.context, quota[k], rng), sd.context, T)
            got[k] = w
            if len(w) < quota[k]:
                exhausted.add(k)
        deficit = n_total - sum(len(v) for v in got.values())
        open_keys = [k for k in keys if k not in exhausted]
        if deficit <= 0 or not open_keys:
            break
        for k in open_keys:
            quota[k] += math.ceil(deficit / len(open_keys))
    pool = np.concatenate([got[k] for k in keys])
    groups = np.concatenate([np.full(len(got[k]), i, dtype=np.int64) for i, k in enumerate(keys)])
    return pool, groups, {k: int(len(got[k])) for k in keys}


# ====================================================================== reporting
def zoo_size_bytes(path: str | Path) -> int:
    """Total size of a saved zoo folder."""
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def report_markdown(zoo: Zoo, path: str | Path | None = None) -> str:
    """A Markdown build report: time, size, members table, transferability summary."""
    info = zoo.info
    b = info.get("build", {})
    size = zoo_size_bytes(zoo.path) if zoo.path else None
    lines = [f"# Zoo build: `{info.get('name', '')}`", ""]
    if info.get("description"):
        lines += [info["description"], ""]
    lines += [
        f"- command: `{b.get('command', '')}`",
        f"- started (UTC): {b.get('started_utc', '')}; threads: {b.get('threads', '')}",
        f"- build time: **{b.get('seconds', 0):.0f} s** (stages: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in b.get("stages_seconds", {}).items()) + ")",
    ]
    if size is not None:
        lines.append(f"- zoo size on disk: **{size / 1e6:.2f} MB** ({zoo.path})")
    et = info.get("extractor_training", {})
    if et:
        lines.append(
            f"- extractor: {et.get('n_subseries')} sub-series, {et.get('steps')} steps, "
            f"{et.get('seconds')} s; losses first->last: "
            + ", ".join(f"{k} {v['first']:.3f}->{v['last']:.3f}" for k, v in et.items()
                        if isinstance(v, dict) and "last" in v)
            + f"; fit of cos to g: MAE {et.get('transfer_fit_mae')}, corr {et.get('transfer_fit_corr')}")
    rt = info.get("router")
    if rt:
        lines.append(
            f"- router: {rt.get('n_windows')} held-out windows from {len(rt.get('groups', {}))} groups "
            f"(sub-datasets, other registered sources, synthetic random walks), {rt.get('seconds')} s of "
            f"training; weighted-forecast loss {rt.get('loss_router')} vs {rt.get('loss_uniform_weights')} "
            f"with uniform weights (training windows)")
        ens = rt.get("ensemble")
        if ens:
            s0 = int(rt.get("config", {}).get("seed", 0))
            lines.append(f"- router ensemble: {len(ens)} routers (seeds {s0}..{s0 + len(ens) - 1}, each on its own "
                         f"windows), weights averaged; weighted-forecast loss per router "
                         + ", ".join(str(e.get("loss_router")) for e in ens)
                         + f"; {sum(float(e.get('seconds', 0)) for e in ens):.1f} s of training in all")
        cal = rt.get("calibration")
        if cal:
            lines.append(f"- router temperature by leave-groups-out calibration ({cal['folds']} folds of the "
                         f"groups): **{cal['temperature']:g}**; held-out loss by temperature: "
                         + ", ".join(f"{k} {v}" for k, v in cal["held_out_loss"].items()))
    v = info.get("versions", {})
    lines += ["- versions: " + ", ".join(f"{k} {x}" for k, x in v.items()), ""]
    lines += ["## Members", "",
              "| name | architecture | source | sub-dataset | frequency | parameters | windows | final train loss |",
              "|---|---|---|---|---|---|---|---|"]
    for m in zoo.members:
        t = m.training
        fl = t.get("final_loss")
        lines.append(f"| {m.name} | {m.architecture} | {m.source or '-'} | {t.get('sub_dataset', '-')} | "
                     f"{m.frequency} | {m.n_parameters} | {t.get('n_windows', '-')} | "
                     f"{'-' if fl is None else f'{fl:.4f}'} |")
    tr = info.get("transfer")
    if tr:
        res = TransferResult.from_dict(tr)
        s = res.summary()
        lines += ["", "## Transferability (held-out MSE of members on sub-datasets)", "",
                  f"- mean MSE of a PTM on its own sub-dataset (diag): **{s['diag_mean_mse']:.4f}** "
                  f"(median {s['diag_median_mse']:.4f})",
                  f"- mean MSE on the other sub-datasets (off-diag, trained PTMs): "
                  f"**{s['offdiag_mean_mse']:.4f}** (median {s['offdiag_median_mse']:.4f})",
                  f"- sub-datasets where the best member is one trained on it: "
                  f"{s['cols_won_by_own_ptm']}/{len(res.cols)}", "",
                  "| sub-dataset | held-out windows | mean MSE (all members) | own PTMs' MSE | best member (MSE) |",
                  "|---|---|---|---|---|"]
        own = res.own_mask()
        srcs = info.get("sources", {})
        for j, c in enumerate(res.cols):
            bi = int(np.argmin(res.mse[:, j]))
            ownv = res.mse[own[:, j], j]
            lines.append(f"| {c} | {srcs.get(c, {}).get('heldout_windows', '')} | {res.mse[:, j].mean():.3f} | "
                         f"{', '.join(f'{x:.3f}' for x in ownv)} | {res.rows[bi]} ({res.mse[bi, j]:.3f}) |")
        sel = info.get("selection", {})
        if sel:
            lines += ["", "## Routing check (in-domain, held-out windows)", "",
                      f"Each held-out window is embedded by the extractor and the k members with the most "
                      f"similar representations are fused by a plain mean (g scale: "
                      f"`{tr.get('g_scale', 'none')}`).", "",
                      "| k | MSE of selected members | oracle member per sub-dataset | average member "
                      "| windows with an own-source PTM among the chosen |", "|---|---|---|---|---|"]
            for _key, v in sel.items():
                mm = v["mean"]
                lines.append(f"| {v['k']} | {mm['selected']:.4f} | {mm['oracle_member']:.4f} | "
                             f"{mm['mean_member']:.4f} | {mm['own_chosen']:.0%} |")
            top = sel.get("top3") or next(iter(sel.values()))
            lines += ["", f"Per sub-dataset (k = {top['k']}):", "",
                      "| sub-dataset | selected | oracle member | average member | own chosen |",
                      "|---|---|---|---|---|"]
            for c, v in top["per_sub_dataset"].items():
                lines.append(f"| {c} | {v['selected']:.3f} | {v['oracle_member']:.3f} | "
                             f"{v['mean_member']:.3f} | {v['own_chosen']:.0%} |")
        lines += ["", "Row means (mean held-out MSE of each member over all sub-datasets):", "",
                  "| member | mean MSE |", "|---|---|"]
        for r, val in sorted(s["row_mean_mse"].items(), key=lambda kv: kv[1]):
            lines.append(f"| {r} | {val:.3f} |")
        lines += ["", "Full matrix (rows: members; columns: sub-datasets; own sub-dataset in brackets):", "",
                  "```", format_matrix(res), "```"]
    text = "\n".join(lines) + "\n"
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text)
    return text
