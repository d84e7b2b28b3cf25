"""Where the whole-history forecast gains and loses: each candidate scored alone.

``python -m benchmarks.harness candidates`` runs SeqFusion's default (``history="whole"``) on the
windows of the whole-history protocol (:mod:`benchmarks.harness.realuse`, same datasets,
splits, zoos and MASE) and scores, per dataset, next to the fused forecast:

* every candidate of :data:`seqfusion.history.CANDIDATES` on its own (a window whose
  series has no such candidate, e.g. ``zoo_aggregated`` on a short history, keeps the
  fused forecast);
* ``best candidate (hindsight)``: the candidate with the lowest MASE on that dataset,
  picked after seeing the targets, i.e. what a perfect choice of one candidate per dataset
  would reach;
* ``best per window (hindsight)``: the best candidate of each window (a lower bound no
  combination of one candidate per window can beat);
* the mean weight each candidate received.

It says whether a dataset is lost in the candidates (none is good) or in the weighting
(a good candidate exists but the back-tests do not find it). Results in
``realuse_candidates[_validation].{md,json}``; the fused column equals the SeqFusion row
of ``realuse[_validation]`` (``predict_histories`` gives the same forecast; a test checks it).
"""
from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from seqfusion import history

FUSED = "fused (default)"
BEST = "best candidate (hindsight)"
ORACLE = "best per window (hindsight)"


def candidate_forecasts(zoo: str | None, contexts: list[np.ndarray], horizon: int,
                        freq: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SeqFusion's whole-history forecast of ``contexts``: fused ``[n, H]``, candidates
    ``[n, C, H]`` (NaN where not computed) and weights ``[n, C]``."""
    from seqfusion.forecaster import SeqFusion

    model = SeqFusion.from_pretrained(zoo)
    classes = model._frequency_classes(freq, len(contexts))
    fc, _ = model._forecast_histories(contexts, None, horizon, None, classes, freq)
    return fc.point, fc.candidates, fc.weights


def score(data: Any, fused: np.ndarray, cands: np.ndarray, weights: np.ndarray) -> dict[str, Any]:
    """Relative MASE (to SeasonalNaive on the same windows) of the fused forecast, each
    candidate, the hindsight picks, and the mean weights, for one dataset's windows."""
    from benchmarks.harness import baselines as bl
    from benchmarks.harness import realuse as ru

    n = data.n_windows
    idx = np.arange(n)
    snaive = ru.by_length(bl.SeasonalNaive(data.spec.season), data.contexts(), data.horizon)
    preds: dict[str, np.ndarray] = {"snaive": snaive, FUSED: fused}
    for c, name in enumerate(history.CANDIDATES):
        own = cands[:, c]
        preds[name] = np.where(np.isfinite(own).all(axis=1)[:, None], own, fused)
    wm = ru.window_metrics(data, idx, preds)
    valid = np.isfinite(wm["scale"]) & (wm["scale"] > 0)
    mase = {k: ru.aggregate(v, valid) for k, v in wm["mase"].items()}
    per_window = np.stack([wm["mase"][name] for name in history.CANDIDATES], axis=1)[valid]
    ref = mase["snaive"]
    best = min(history.CANDIDATES, key=lambda name: mase[name])
    rel = {k: v / ref for k, v in mase.items() if k != "snaive"}
    rel[BEST] = mase[best] / ref
    rel[ORACLE] = float(np.mean(np.min(per_window, axis=1))) / ref
    return {"relative_mase": rel, "best_candidate": best, "n_windows": int(valid.sum()),
            "mean_weight": {name: float(weights[:, c].mean()) for c, name in enumerate(history.CANDIDATES)}}


def run(datasets: list[str] | None, split: str, zoo: str | None, competition_zoo: str | None,
        out: Path, argv: list[str], started: float) -> int:
    """Score every dataset and write ``realuse_candidates[_validation].{md,json}``."""
    from benchmarks.harness import realuse as ru
    from benchmarks.harness.report import run_metadata, write_json
    from seqfusion.files import write_atomic

    rows: dict[str, dict[str, Any]] = {}
    for name in datasets or list(ru.DATASETS):
        spec = ru.resolve(name)
        data = ru.load(spec.name, split)
        if data.n_windows == 0:
            continue
        contexts = [c if len(c) >= ru.SEQFUSION_MIN_POINTS else
                    np.concatenate([np.full(ru.SEQFUSION_MIN_POINTS - len(c), c[0]), c])
                    for c in data.contexts()]
        fused, cands, weights = candidate_forecasts(competition_zoo if spec.competition else zoo, contexts,
                                                    data.horizon, spec.freq)
        rows[spec.name] = {"group": spec.group, **score(data, fused, cands, weights)}
        r = rows[spec.name]["relative_mase"]
        print(f"{spec.name:<18} fused {r[FUSED]:.3f}  best {rows[spec.name]['best_candidate']} "
              f"{r[BEST]:.3f}  per window {r[ORACLE]:.3f}", file=sys.stderr)
    columns = [FUSED, *history.CANDIDATES, BEST, ORACLE]
    summary = {c: ru.geomean([rows[d]["relative_mase"][c] for d in rows]) or math.nan for c in columns}
    meta = run_metadata(argv, started)
    stem = "realuse_candidates" + ("" if split == "test" else "_validation")
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / f"{stem}.json", {"kind": "realuse_candidates", "split": split, "meta": meta,
                                      "columns": columns, "summary": summary, "datasets": rows})
    text = markdown(rows, summary, columns, meta, split)
    write_atomic(out / f"{stem}.md", lambda tmp: tmp.write_text(text))
    print(f"wrote {out / (stem + '.md')}", file=sys.stderr)
    return 0


def markdown(rows: dict[str, dict[str, Any]], summary: dict[str, float], columns: list[str],
             meta: dict[str, Any], split: str) -> str:
    """The report: relative MASE per dataset and candidate, then the mean weights."""
    lines = [f"# Whole-history candidates, each alone ({split} split)", "",
             "MASE / SeasonalNaive MASE on the windows of the whole-history protocol "
             "(`benchmarks.harness.realuse`), for SeqFusion's fused default and each of its "
             "candidates alone (`benchmarks.harness.candidates`). The two hindsight columns pick "
             "after seeing the targets: the best single candidate per dataset, and the best "
             "candidate per window; no forecaster can choose that way, they bound what a better "
             "weighting of these candidates could reach.", "",
             f"- command: `{meta.get('command', '')}`",
             f"- commit: {meta.get('git_commit', 'unknown')}", ""]
    lines += ["| dataset | " + " | ".join(columns) + " | best |",
              "|---|" + "---|" * (len(columns) + 1)]
    for d, r in rows.items():
        rel = r["relative_mase"]
        lines.append(f"| {d} | " + " | ".join(f"{rel[c]:.3f}" for c in columns) + f" | {r['best_candidate']} |")
    lines.append("| **geo-mean** | " + " | ".join(f"**{summary[c]:.3f}**" for c in columns) + " | |")
    lines += ["", "## Mean weight per candidate", "",
              "| dataset | " + " | ".join(history.CANDIDATES) + " |",
              "|---|" + "---|" * len(history.CANDIDATES)]
    for d, r in rows.items():
        lines.append(f"| {d} | " + " | ".join(f"{r['mean_weight'][c]:.2f}" for c in history.CANDIDATES) + " |")
    return "\n".join(lines) + "\n"
