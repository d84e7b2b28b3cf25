"""Ablations of the forecaster's design on the multivariate protocol (validation and test).

Each ablation varies one choice against the shipped default (zoo, k, fusion,
normalization, selection) and is scored on both the validation split (windows ending
before each target's test rows; used to choose designs) and the test split (reported).
Run ``python -m benchmarks.harness.ablations --help``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from benchmarks.harness.protocol import HORIZONS, evaluate, input_rows, target_rows
from benchmarks.harness.report import geomean_ratio, run_metadata
from benchmarks.harness.validation import load_split
from seqfusion.forecaster import SeqFusion
from seqfusion.zoo import Zoo

DATASETS = ["ECL", "ETTh1", "ETTh2", "Exchange", "Illness", "Weather"]
SPLITS = ["validation", "test"]
Method = Callable[[np.ndarray, int], np.ndarray]


def forecaster_method(model: SeqFusion, **options: Any) -> Method:
    """Wrap ``model.predict_windows`` as a protocol method (horizon-invariant when it is)."""
    def method(x: np.ndarray, horizon: int) -> np.ndarray:
        return model.predict_windows(x, horizon, **options)

    norm = options.get("normalization", model.normalization)
    method.horizon_invariant = norm == "window"  # type: ignore[attr-defined]
    return method


def once_per_dataset_method(model: SeqFusion, n_vars: int, **options: Any) -> Method:
    """Members chosen once per variate from the first window (the reference code's way).

    Needs all rows in protocol order (window-major: row ``i * C + c``), i.e. no subsampling.
    """
    def method(x: np.ndarray, horizon: int) -> np.ndarray:
        chosen = model.with_options(**options)._pick(model.contexts(list(x[:n_vars])))["members"]
        fixed = chosen[np.arange(len(x)) % n_vars]
        return model.predict_windows(x, horizon, members=fixed, **options)

    method.horizon_invariant = True  # type: ignore[attr-defined]
    return method


def data_freq(data: Any) -> str | None:
    """The benchmark dataset's sampling frequency (pandas alias), None if unknown."""
    spec = getattr(data, "spec", None)
    return None if spec is None else spec.freq


def once_per_dataset_weights_method(model: SeqFusion, n_vars: int, freq: str | None = None) -> Method:
    """The model's members and fusion weights per variate fixed from the first window."""
    def method(x: np.ndarray, horizon: int) -> np.ndarray:
        chosen = model._pick(model.contexts(list(x[:n_vars])), freq=freq)
        rows = np.arange(len(x)) % n_vars
        return model.predict_windows(x, horizon, members=chosen["members"][rows],
                                     weights=chosen["weight"][rows])

    method.horizon_invariant = True  # type: ignore[attr-defined]
    return method


def naive_method(x: np.ndarray, horizon: int) -> np.ndarray:
    return np.repeat(x[:, -1:], horizon, axis=1)


def seasonal_naive_method(x: np.ndarray, horizon: int) -> np.ndarray:
    reps = -(-horizon // 7)
    return np.tile(x[:, -7:], (1, reps))[:, :horizon]


naive_method.horizon_invariant = True  # type: ignore[attr-defined]
seasonal_naive_method.horizon_invariant = True  # type: ignore[attr-defined]


#: k of the paper's design (top-k by similarity, plain mean), chosen on validation windows.
PAPER_K = 16


def paper_design(model: SeqFusion) -> SeqFusion:
    """The paper's design on the same zoo: top-k by cosine similarity, plain mean."""
    return model.with_options(fusion="mean", selection="similarity", k=min(PAPER_K, len(model.zoo)))


def variants(model: SeqFusion, zoos: dict[str, Zoo]) -> list[tuple[str, str, Callable[[Any], Method]]]:
    """(group, label, factory(data) -> method) for every ablation row.

    Rows 1-6 vary the paper's design (similarity top-k, plain mean); the default's learned
    router and the other fusion rules are compared under "beyond".
    """
    M = len(model.zoo)
    base = paper_design(model)
    k0 = base.k
    out: list[tuple[str, str, Callable[[Any], Method]]] = []
    add = lambda g, label, f: out.append((g, label, f))  # noqa: E731
    add("baselines", "SeasonalNaive (7)", lambda d: seasonal_naive_method)
    add("baselines", "Last", lambda d: naive_method)
    if model.fusion == "router":
        add("default", f"default (router weights over {model.k} members, temperature "
                       f"{model.router_temperature:g})", lambda d: forecaster_method(model, freq=data_freq(d)))
        if model.zoo.router is not None and model.zoo.router.frequencies:
            add("beyond: router", "default without the frequency (router told 'unknown')",
                lambda d: forecaster_method(model))
    add("paper design", f"similarity top-k, mean (k={k0}, per-window, window norm)",
        lambda d: forecaster_method(base))
    for k in sorted({1, 2, 3, 5, 8, 12, M} - {k0}):
        if k <= M:
            add("1. aggregation size k", f"k={k}" + (" (all)" if k == M else ""),
                lambda d, k=k: forecaster_method(base, k=k))
    for name, zoo in zoos.items():
        sub = SeqFusion(zoo, k=min(k0, len(zoo)))
        group = "2. extractor" if name.startswith("extractor") else (
            "3. general vs specialized" if name.startswith("general") else "4. zoo composition")
        add(group, f"{name} ({len(zoo)} members, k={sub.k})", lambda d, s=sub: forecaster_method(s))
    add("5. selection", "once per dataset from the first test window",
        lambda d: once_per_dataset_method(base, d.n_vars))
    add("5. selection", "paper setting: k=3, once per dataset",
        lambda d: once_per_dataset_method(base, d.n_vars, k=3))
    add("6. normalization", "last min(H, 36) points", lambda d: forecaster_method(base, normalization="last_h"))
    for t in (0.05, 0.2):
        add("beyond: fusion", f"similarity softmax, temperature {t}",
            lambda d, t=t: forecaster_method(base, fusion="similarity", temperature=t))
    add("beyond: fusion", "median of the k forecasts", lambda d: forecaster_method(base, fusion="median"))
    add("beyond: fusion", "back-test selection (k, among all), mean",
        lambda d: forecaster_method(base, selection="backtest"))
    add("beyond: fusion", "back-test selection, inverse-error weights",
        lambda d: forecaster_method(base, selection="backtest", fusion="inverse_error"))
    if model.zoo.router is not None:
        for t in (1.0, 2.0, 3.0, 5.0, 8.0):
            if model.fusion == "router" and t == model.router_temperature and model.k == M:
                continue
            add("beyond: router", f"router weights over all {M}, temperature {t:g}",
                lambda d, t=t: forecaster_method(model, fusion="router", k=M, router_temperature=t,
                                                 freq=data_freq(d)))
        if model.fusion == "router":
            add("5. selection", "default's router weights once per dataset from the first test window",
                lambda d: once_per_dataset_weights_method(model, d.n_vars, data_freq(d)))
        add("beyond: router", "router, top 8 members, temperature 5",
            lambda d: forecaster_method(model, fusion="router", k=min(8, M), router_temperature=5.0,
                                        freq=data_freq(d)))
    return out


FULL_ROWS = {"5. selection"}  # need all rows in protocol order


def run(model: SeqFusion, zoos: dict[str, Zoo], datasets: list[str], splits: list[str],
        max_rows: int | None, groups: list[str] | None = None) -> dict[str, Any]:
    """Score every ablation row on every dataset and split; returns a JSON-able dict."""
    keep = None if groups is None else [*groups, "baselines"]  # the reference of every ratio
    rows = [v for v in variants(model, zoos) if keep is None or any(v[0].startswith(g) for g in keep)]
    results: dict[str, Any] = {}
    bar = tqdm(total=len(rows) * len(datasets) * len(splits), desc="ablations")
    for split in splits:
        for ds in datasets:
            data = load_split(ds, split)
            for group, label, factory in rows:
                mr = None if group in FULL_ROWS else max_rows
                t0 = time.perf_counter()
                res = evaluate(factory(data), data, HORIZONS, max_rows=mr)
                entry = results.setdefault(f"{group}|{label}", {"group": group, "label": label})
                entry.setdefault(split, {})[ds] = {"mse": res.mse, "mae": res.mae,
                                                   "rows": res.extra.get("n_rows"),
                                                   "seconds": round(time.perf_counter() - t0, 2)}
                bar.update()
    bar.close()
    return results


def error_growth(model: SeqFusion, datasets: list[str], horizon: int = 48) -> dict[str, Any]:
    """MSE per forecast step 1..horizon on the test split (default, paper design, k=3, Last)."""
    out: dict[str, Any] = {}
    for ds in datasets:
        data = load_split(ds, "test")
        x = input_rows(data, data.n_windows(horizon))
        y = target_rows(data, horizon)
        base = paper_design(model)
        preds = {"default": model.predict_windows(x, horizon, freq=data_freq(data)),
                 f"paper design k={base.k}": base.predict_windows(x, horizon),
                 "paper design k=3": base.predict_windows(x, horizon, k=3),
                 "Last": naive_method(x, horizon)}
        out[ds] = {name: ((p - y) ** 2).mean(axis=0).round(5).tolist() for name, p in preds.items()}
    return out


def to_markdown(results: dict[str, Any], growth: dict[str, Any] | None, meta: dict[str, Any]) -> str:
    lines = ["# Ablations (multivariate protocol, MSE)", "",
             f"Command: `{meta['command']}`  ",
             f"Commit: `{meta.get('git_commit')}`; total time {meta.get('total_seconds', 0):.0f} s; "
             f"torch threads {torch.get_num_threads()}.", "",
             "Validation = windows ending before each dataset's test rows (used for choices); "
             "test = the paper's protocol. Rows marked * use an evenly spaced subsample of "
             f"{meta.get('max_rows')} windows x variates per dataset; selection-once rows use all rows.",
             ""]
    ref_key = "baselines|SeasonalNaive (7)"
    for split in SPLITS:
        if not any(split in v for v in results.values()):
            continue
        ds = list(next(v[split] for v in results.values() if split in v))
        ref = {d: results[ref_key][split][d]["mse"] for d in ds} if ref_key in results else {}
        lines += [f"## {split}", "", "| group | variant | " + " | ".join(ds) + " | gmean / SN |",
                  "|---|---|" + "---|" * (len(ds) + 1)]
        for v in results.values():
            if split not in v:
                continue
            sc = {d: v[split][d]["mse"] for d in ds}
            star = "" if v["group"] in FULL_ROWS or v["group"] == "baselines" else "*"
            lines.append(f"| {v['group']} | {v['label']}{star} | "
                         + " | ".join(f"{sc[d]:.4f}" for d in ds) + f" | {geomean_ratio(sc, ref, ds)[0]:.3f} |")
        lines.append("")
    if growth:
        steps = [1, 6, 12, 13, 24, 25, 36, 37, 48]
        lines += ["## 7. Error growth over the recursive roll-out (test, MSE per step)", "",
                  "| dataset | method | " + " | ".join(f"step {s}" for s in steps) + " |",
                  "|---|---|" + "---|" * len(steps)]
        for ds, per in growth.items():
            for name, vals in per.items():
                lines.append(f"| {ds} | {name} | " + " | ".join(f"{vals[s - 1]:.4f}" for s in steps) + " |")
        lines.append("")
    return "\n".join(lines)


def no_transfer_zoo(out: Path, config: str = "default") -> Zoo:
    """The default build with the extractor trained without the transferability loss.

    Same PTMs (reused from the build cache) and pruning; only the extractor (hence the
    representations and the selection) differs.
    """
    import tomllib

    from seqfusion.training.pipeline import build_zoo, resolve_config_path

    cfg = tomllib.loads(resolve_config_path(config).read_text())
    cfg["name"] = f"{cfg.get('name', config)}-no-transfer"
    cfg.setdefault("extractor", {}).setdefault("train", {})["use_transfer"] = False
    return build_zoo(cfg, out, progress=False)


def general_ptm_zoo(base: Zoo, n_windows: int = 120_000, epochs: int = 20, seed: int = 0) -> Zoo:
    """One PatchTST trained on windows pooled evenly from all the base zoo's sources.

    The paper's Table 6 contrast: a single general model instead of a specialized zoo.
    It uses the base zoo's extractor and PatchTST settings.
    """
    from seqfusion.training.data.sources import load_source
    from seqfusion.training.data.windows import sample_windows
    from seqfusion.training.members import representation
    from seqfusion.training.training import TrainConfig, train_ptm
    from seqfusion.zoo import Member

    trained = [m for m in base.members if m.architecture == "patchtst"]
    sources = sorted({m.source for m in base.members if m.source and m.training.get("aggregate", 1) == 1})
    rng = np.random.default_rng(seed)
    T, h = base.input_length, trained[0].horizon
    parts = [sample_windows(load_source(s), T + h, n_windows // len(sources), rng) for s in sources]
    w = np.concatenate([p for p in parts if len(p)])
    config = {k: v for k, v in trained[0].config.items() if k not in ("input_length", "horizon")}
    module, meta = train_ptm(w[:, :T], w[:, T:], "patchtst", config, TrainConfig(epochs=epochs, seed=seed),
                             progress=False)
    demo = w[rng.choice(len(w), size=min(256, len(w)), replace=False), :T]
    member = Member("general_patchtst", "patchtst", dict(meta["config"]), module,
                    representation(base.extractor, demo), "+".join(sources), "mixed", "mixed", meta)
    return Zoo(base.extractor_config, base.extractor_state, [member], {"name": "general"})


def build_variant_zoos(base: Zoo, extra: list[str]) -> dict[str, Zoo]:
    """Composition variants of the default zoo plus zoos loaded from ``name=DIR`` pairs."""
    zoos: dict[str, Zoo] = {}
    pt = [m.name for m in base.members if m.architecture == "patchtst"]
    dl = [m.name for m in base.members if m.architecture == "dlinear"]
    zoos["PatchTST only"] = base.subset(pt)
    zoos["DLinear only"] = base.subset(dl)
    zoos["trained PTMs only (no classical members)"] = base.subset(pt + dl)
    transfer = base.info.get("transfer")
    if transfer:  # smaller zoos: the members that transfer best on the sources' held-out data
        med = dict(zip(transfer["rows"], np.nanmedian(np.asarray(transfer["mse"], dtype=float), axis=1)))
        ranked = sorted(base.names, key=lambda n: med.get(n, np.inf))
        for size in (3, 6, 10):
            if size < len(ranked):
                zoos[f"zoo size {size} (best-transferring members)"] = base.subset(ranked[:size])
    for spec in extra:
        name, _, path = spec.partition("=")
        zoos[name] = Zoo.load(path)
    return zoos


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="seqfusion-ablations", description=__doc__)
    p.add_argument("--zoo", default=None, help="zoo folder (default: shipped)")
    p.add_argument("--variant-zoo", action="append", default=[], metavar="NAME=DIR",
                   help="extra zoo to compare (e.g. 'extractor without L_trans=DIR')")
    p.add_argument("--datasets", nargs="+", default=DATASETS)
    p.add_argument("--splits", nargs="+", default=SPLITS, choices=SPLITS)
    p.add_argument("--groups", nargs="+", default=None,
                   help="only groups starting with these (the baselines always run)")
    p.add_argument("--max-rows", type=int, default=3000)
    p.add_argument("--with-builds", metavar="DIR", default=None,
                   help="also build (into DIR) and compare the no-transfer-loss extractor zoo and "
                        "the single general PTM (minutes)")
    p.add_argument("--no-growth", action="store_true")
    p.add_argument("--merge", action="store_true",
                   help="update the rows run now in an existing ablations.json, keep the others")
    p.add_argument("--out", default="benchmarks/results")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    model = SeqFusion.from_pretrained(args.zoo)
    zoos = build_variant_zoos(model.zoo, args.variant_zoo)
    if args.with_builds:
        zoos["extractor without L_trans"] = no_transfer_zoo(Path(args.with_builds) / "no_transfer")
        zoos["extractor with L_trans (default)"] = model.zoo
        zoos["general PTM (one PatchTST on all sources)"] = general_ptm_zoo(model.zoo)
    results = run(model, zoos, args.datasets, args.splits, args.max_rows, args.groups)
    growth = None if args.no_growth else error_growth(model, args.datasets)
    previous = Path(args.out) / "ablations.json"
    if args.merge and previous.is_file():
        old = json.loads(previous.read_text())
        merged = old.get("results", {})
        for key, entry in results.items():
            base = merged.setdefault(key, {"group": entry["group"], "label": entry["label"]})
            for split in SPLITS:
                if split in entry:
                    base.setdefault(split, {}).update(entry[split])
        results = merged
        growth = growth or old.get("error_growth")
    meta = {**run_metadata(argv, start), "max_rows": args.max_rows,
            "total_seconds": time.perf_counter() - start, "zoo": args.zoo or "default",
            "command": "python -m benchmarks.harness.ablations " + " ".join(argv)}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "ablations.json").write_text(json.dumps({"meta": meta, "results": results, "error_growth": growth},
                                                   indent=1) + "\n")
    (out / "ablations.md").write_text(to_markdown(results, growth, meta) + "\n")
    print(to_markdown(results, growth, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
