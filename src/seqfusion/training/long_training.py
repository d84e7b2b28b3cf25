"""Training of the long-context members (:mod:`seqfusion.training.models.patch_quantile`).

The loss is the mean quantile (pinball) loss over the member's levels and horizon, on the
scale of the context's instance normalization (targets clipped to +-``TARGET_CLIP``).
Training is resumable: every ``checkpoint_every`` steps the module, the optimizer state and
the loss history are written to ``folder`` as safetensors plus JSON (no pickle); a run
started on the same folder with the same configuration continues from the last
checkpoint. The batch of step ``s`` is drawn from a generator seeded with ``(seed, s)``,
so a resumed run sees exactly the batches an uninterrupted one would.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from seqfusion.engine.configs import PatchQuantileConfig
from seqfusion.preprocess import standardize_observed
from seqfusion.training.corpus import SOURCES, Corpus, extra_files, load_corpus
from seqfusion.training.models.patch_quantile import PatchQuantile, quantile_levels
from seqfusion.zoo import Member, state_arrays

#: targets beyond this many context standard deviations are clipped in the loss
TARGET_CLIP = 30.0
CHECKPOINT = "checkpoint.safetensors"
STATE = "checkpoint.json"


@dataclass(frozen=True)
class LongTrainConfig:
    """Optimisation settings of a long-context member."""

    steps: int = 18_000
    batch_size: int = 256
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup: int = 500
    weight_decay: float = 0.01
    seed: int = 0
    checkpoint_every: int = 250
    threads: int = 2


def pinball(pred: torch.Tensor, target: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Mean quantile loss of ``pred [B, Q, h]`` for ``target [B, h]`` (NaN targets ignored)."""
    ok = torch.isfinite(target)
    t = torch.where(ok, target, torch.zeros_like(target))[:, None, :]
    diff = t - pred
    q = levels[None, :, None]
    loss = torch.maximum(q * diff, (q - 1.0) * diff) * ok[:, None, :]
    return loss.sum() / (ok.sum() * pred.shape[1]).clamp(min=1)


def _lr(cfg: LongTrainConfig, step: int) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    frac = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1.0 + math.cos(math.pi * frac))


def loss_of(model: PatchQuantile, windows: np.ndarray) -> torch.Tensor:
    """The training loss of ``windows [B, input_length + horizon]`` (NaN: before a context's
    start). Contexts and targets are first standardized in float64 by the contexts'
    observed points, as the forecaster standardizes a long member's input
    (:func:`seqfusion.preprocess.standardize_observed`)."""
    T = model.input_length
    w = np.asarray(windows, dtype=np.float64)
    z64, mean64, std64, _ = standardize_observed(w[:, :T])
    x = torch.from_numpy(z64.astype(np.float32))
    y = torch.from_numpy(((w[:, T:] - mean64) / std64).astype(np.float32))
    z, m, mean, scale = model.normalize(x)
    target = ((y - mean) / scale).clamp(-TARGET_CLIP, TARGET_CLIP)
    pred = model.forward_normalized(z, m)
    return pinball(pred, target, quantile_levels(model.n_quantiles))


def train_long(model_config: dict[str, Any], cfg: LongTrainConfig, corpus: Corpus, folder: str | Path,
               minutes: float | None = None, until: int | None = None, progress: bool = True
               ) -> tuple[PatchQuantile, dict[str, Any]]:
    """Train (or resume training of) a long-context member in ``folder``; stop after
    ``cfg.steps`` steps, at step ``until`` or after ``minutes`` of wall time, whichever
    comes first (a later call resumes from the last checkpoint). Returns the module (eval
    mode) and the run's record."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    torch.set_flush_denormal(True)  # denormal floats slow CPU training many times over
    try:
        return _train(model_config, cfg, corpus, folder, minutes, until, progress)
    finally:  # process-wide settings: restored for whatever runs next
        torch.set_flush_denormal(False)
        torch.set_num_threads(threads)


def _train(model_config: dict[str, Any], cfg: LongTrainConfig, corpus: Corpus, folder: Path,
           minutes: float | None, until: int | None, progress: bool) -> tuple[PatchQuantile, dict[str, Any]]:
    torch.manual_seed(cfg.seed)
    model = PatchQuantile(**model_config)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1 and n != "position"]
    other = [p for n, p in model.named_parameters() if not (p.ndim > 1 and n != "position")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": other, "weight_decay": 0.0}], lr=cfg.lr)
    record: dict[str, Any] = {"model": dict(model_config), "train": asdict(cfg), "step": 0, "seconds": 0.0,
                              "loss": [], "corpus": corpus.summary()}
    state_file = folder / STATE
    if not state_file.is_file() and (folder / CHECKPOINT).exists():  # not a run of ours: never overwritten
        raise ValueError(f"{folder / CHECKPOINT} exists without {STATE}: not a training run; choose another folder")
    if state_file.is_file():
        saved = json.loads(state_file.read_text())
        if saved["model"] != record["model"] or saved["train"] != record["train"]:
            raise ValueError(f"{folder}: holds a run of another configuration")
        _load_checkpoint(model, opt, folder / CHECKPOINT)
        record = saved
    levels = quantile_levels(model.n_quantiles)
    assert levels.shape[0] == model.n_quantiles
    start, t0 = record["step"], time.monotonic()
    seconds0 = record["seconds"]
    model.train()
    running = 0.0
    step = start
    for step in range(start, min(cfg.steps, until if until is not None else cfg.steps)):
        if minutes is not None and time.monotonic() - t0 > 60.0 * minutes:
            break
        rng = np.random.default_rng([cfg.seed, step])
        torch.manual_seed(cfg.seed * 1_000_003 + step)  # dropout: a function of the step, as the batch
        windows = corpus.batch(rng, cfg.batch_size, model.input_length, model.horizon)
        for g in opt.param_groups:
            g["lr"] = _lr(cfg, step)
        loss = loss_of(model, windows)
        opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]  # torch's Tensor.backward is unannotated
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running += loss.item()
        done = step + 1
        if done % cfg.checkpoint_every == 0 or done == cfg.steps or done == until:
            record["loss"].append([done, round(running / (done - max(start, done - cfg.checkpoint_every)), 5)])
            running = 0.0
            start = done
            record["step"] = done
            record["seconds"] = round(seconds0 + time.monotonic() - t0, 1)
            _save_checkpoint(model, opt, folder, record)
            if progress:
                print(f"step {done}/{cfg.steps} loss {record['loss'][-1][1]:.4f} "
                      f"{record['seconds']:.0f} s", file=sys.stderr, flush=True)
    model.eval()
    return model, record


def _save_checkpoint(model: PatchQuantile, opt: torch.optim.Optimizer, folder: Path, record: dict[str, Any]) -> None:
    tensors = {f"model.{k}": v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    names = {id(p): n for n, p in model.named_parameters()}
    for group in opt.param_groups:
        for p in group["params"]:
            st = opt.state.get(p, {})
            for key in ("exp_avg", "exp_avg_sq"):
                if key in st:
                    tensors[f"opt.{names[id(p)]}.{key}"] = st[key].contiguous()
            if "step" in st:
                tensors[f"opt.{names[id(p)]}.step"] = torch.as_tensor(st["step"], dtype=torch.float32).reshape(1)
    tmp = folder / (CHECKPOINT + ".tmp")
    save_file(tensors, str(tmp))
    os.replace(tmp, folder / CHECKPOINT)
    tmp_state = folder / (STATE + ".tmp")
    tmp_state.write_text(json.dumps(record) + "\n")
    os.replace(tmp_state, folder / STATE)


def _load_checkpoint(model: PatchQuantile, opt: torch.optim.Optimizer, file: Path) -> None:
    tensors = load_file(str(file))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    for n, p in model.named_parameters():
        if f"opt.{n}.exp_avg" in tensors:
            opt.state[p] = {"exp_avg": tensors[f"opt.{n}.exp_avg"].clone(),
                            "exp_avg_sq": tensors[f"opt.{n}.exp_avg_sq"].clone(),
                            "step": tensors[f"opt.{n}.step"].reshape(()).clone()}


def member_from_checkpoint(folder: str | Path, name: str, source: str = "long-context corpus") -> Member:
    """The zoo member (``patch_quantile``) a training folder's last checkpoint holds."""
    folder = Path(folder)
    record = json.loads((folder / STATE).read_text())
    model = PatchQuantile(**record["model"])
    tensors = load_file(str(folder / CHECKPOINT))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    config = {**PatchQuantileConfig().to_dict(), **record["model"]}
    training = {"steps": record["step"], "seconds": record["seconds"], "train": record["train"],
                "loss": record["loss"][-1][1] if record["loss"] else None, "datasets": sorted(record["corpus"])}
    return Member(name=name, architecture="patch_quantile", config=config, state=state_arrays(model),
                  representation=np.zeros(0, dtype=np.float32), source=source, training=training)


#: keys of a ``[[long_members]]`` entry of a build configuration
SPEC_KEYS = {"name", "model", "train", "corpus", "minutes"}
#: keys of its ``corpus`` table (:func:`~seqfusion.training.corpus.load_corpus`, :class:`Corpus`)
CORPUS_KEYS = {"extra", "sources", "size_power", "synthetic", "mixup", "aggregate", "short"}


def check_spec(spec: dict[str, Any]) -> None:
    """A ``[[long_members]]`` entry's keys and values, or a one-line ValueError."""
    name = spec.get("name")
    bad = set(spec) - SPEC_KEYS
    if bad:
        raise ValueError(f"long member {name!r}: unknown key(s) {', '.join(sorted(bad))}")
    if not name:
        raise ValueError("a long member needs a name")
    bad = set(spec.get("corpus", {})) - CORPUS_KEYS
    if bad:
        raise ValueError(f"long member {name!r}: unknown corpus key(s) {', '.join(sorted(bad))}")
    try:
        PatchQuantileConfig.from_dict(spec.get("model", {}))
        LongTrainConfig(**spec.get("train", {}))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"long member {name!r}: {exc}") from None


def corpus_sources(spec: dict[str, Any]) -> list[str]:
    """The datasets a long member learns from: ``extra/<file stem>`` and source names."""
    corpus = spec.get("corpus", {})
    names = [f"extra/{f.stem}" for f in extra_files()] if corpus.get("extra", True) else []
    return names + list(corpus.get("sources", SOURCES))


def build_long_member(spec: dict[str, Any], load: Any, fingerprint: Any, cache: Path | None,
                      progress: bool = True) -> Member:
    """Train (resuming a cached run) the long member ``spec`` describes. ``load(source)``
    and ``fingerprint(source)`` read registered sources; the run lives in
    ``cache/long/<name>-<key>`` (a temporary folder without a cache), its key a hash of
    the spec and the data. A run stopped by ``minutes`` before its last step is a
    ValueError saying how to resume."""
    import tempfile

    check_spec(spec)
    corpus_cfg = dict(spec.get("corpus", {}))
    extra = bool(corpus_cfg.pop("extra", True))
    sources = list(corpus_cfg.pop("sources", SOURCES))
    data = {s: fingerprint(s) for s in sources}
    if extra:
        from seqfusion.zoo import sha256_file

        data |= {f"extra/{f.name}": sha256_file(f) for f in extra_files()}
    key_obj = {"model": spec.get("model", {}), "train": spec.get("train", {}), "corpus": spec.get("corpus", {}),
               "data": data}
    key = hashlib.sha256(json.dumps(key_obj, sort_keys=True).encode()).hexdigest()
    cfg = LongTrainConfig(**spec.get("train", {}))
    with tempfile.TemporaryDirectory() as tmp:
        folder = (cache / "long" / f"{spec['name']}-{key[:16]}") if cache is not None else Path(tmp)
        state = folder / STATE
        done = state.is_file() and json.loads(state.read_text())["step"] >= cfg.steps
        if not done:
            corpus = load_corpus(sources=sources, extra=extra, load=load, **corpus_cfg)
            _, record = train_long(spec.get("model", {}), cfg, corpus, folder, minutes=spec.get("minutes"),
                                   progress=progress)
            if record["step"] < cfg.steps:
                raise ValueError(f"long member {spec['name']!r} stopped at step {record['step']} of {cfg.steps} "
                                 f"(minutes = {spec.get('minutes')}); run the build again to resume from {folder}")
        member = member_from_checkpoint(folder, spec["name"])
    member.training["key"] = key
    return member


def main(argv: list[str] | None = None) -> int:
    """``python -m seqfusion.training.long_training FOLDER [--minutes M] [--steps S] ...``:
    train (or resume) one long-context member on the default corpus."""
    import argparse

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("folder")
    ap.add_argument("--minutes", type=float, default=None)
    ap.add_argument("--steps", type=int, default=LongTrainConfig.steps)
    ap.add_argument("--batch-size", type=int, default=LongTrainConfig.batch_size)
    ap.add_argument("--lr", type=float, default=LongTrainConfig.lr)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", default="{}", help="JSON of PatchQuantile arguments")
    args = ap.parse_args(argv)
    corpus = load_corpus()
    print(f"corpus: {len(corpus.names)} datasets, {corpus.n_values:,} values", file=sys.stderr, flush=True)
    cfg = LongTrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                          threads=args.threads)
    _, record = train_long(json.loads(args.model), cfg, corpus, args.folder, minutes=args.minutes)
    print(json.dumps({"step": record["step"], "seconds": record["seconds"], "loss": record["loss"][-3:]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
