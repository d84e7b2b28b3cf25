"""Sweep: what the long-context members add to whole histories, on validation origins.

Variants: the same zoos without and with long-context members (candidate ``long`` of
:mod:`seqfusion.history`); each ``--variant LABEL=ZOO,COMPETITION_ZOO[,SPREAD]`` names the
zoo for the non-competition datasets, the zoo built without M3/M4/Tourism and, optionally,
how the members' own quantiles enter the spread (:data:`seqfusion.quantiles.LONG_SPREAD`:
``none``, ``weight`` or ``mean``).

Scored on validation origins only, never on test ones:

1. the whole-history benchmark's validation split (``python -m benchmarks.harness realuse
   --split validation``): geometric mean and per dataset, MASE relative to SeasonalNaive;
2. GIFT-Eval validation windows of the rebuilt configs no zoo saw (ETT, Jena weather; the
   windows of :mod:`benchmarks.sweeps.backtest_weights`), MASE and CRPS relative to
   SeasonalNaive, with the first variant's zoo.

``python -m benchmarks.sweeps.long_context --variant without=Z0,C0 --variant with=Z1,C1``
writes ``benchmarks/results/sweep_long_context.{md,json}``.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.gift.evaluate import geomean
from benchmarks.harness.report import run_metadata
from benchmarks.sweeps.backtest_weights import GIFT_CONFIGS, gift_scores, validation_task

OUT = Path(__file__).resolve().parents[1] / "results"


def realuse_validation(zoo: str, competition_zoo: str) -> dict[str, Any]:
    """The default SeqFusion row of the whole-history validation split: geometric mean and
    per-dataset MASE relative to SeasonalNaive (computed afresh, no cache)."""
    from benchmarks.harness.cli import main as harness

    with tempfile.TemporaryDirectory() as tmp:
        code = harness(["realuse", "--split", "validation", "--methods", "seqfusion", "--zoo", zoo,
                        "--competition-zoo", competition_zoo, "--out", tmp, "--no-progress", "--no-cache"])
        if code != 0:
            raise SystemExit(f"realuse run failed ({code})")
        res = json.loads((Path(tmp) / "realuse_validation.json").read_text())
    label = next(k for k in res["summary"] if k.startswith("SeqFusion (default"))
    per = {r["dataset"]: r["relative_mase"] for r in res["rows"] if r["method"] == label}
    return {"geomean": float(res["summary"][label]["geomean"]), "per_dataset": per}


def run(variants: dict[str, tuple[str, str, str]], gift: bool = True, gift_only: tuple[str, ...] = ()
        ) -> dict[str, Any]:
    from seqfusion import SeqFusion
    from seqfusion import quantiles as qmod

    tasks = {name: validation_task(name) for name in GIFT_CONFIGS} if gift else {}
    out: dict[str, Any] = {}
    saved = qmod.LONG_SPREAD
    for label, (zoo, comp, spread) in variants.items():
        start = time.perf_counter()
        qmod.LONG_SPREAD = spread
        try:
            entry: dict[str, Any] = {"zoo": zoo, "competition_zoo": comp, "long_spread": spread}
            if label not in gift_only:  # the spread does not move point forecasts
                entry["realuse"] = realuse_validation(zoo, comp)
            if tasks:
                scores = gift_scores(SeqFusion.from_pretrained(zoo), tasks)
                entry |= {"gift_mase": geomean([v["mase"] for v in scores.values()]),
                          "gift_crps": geomean([v["crps"] for v in scores.values()]), "per_config": scores}
        finally:
            qmod.LONG_SPREAD = saved
        entry["seconds"] = time.perf_counter() - start
        out[label] = entry
    return {"variants": out, "configs": {n: {"horizon": t.horizon, "windows": t.n_windows} for n, t in tasks.items()}}


def markdown(res: dict[str, Any]) -> str:
    meta, var = res["meta"], res["variants"]
    labels = list(var)
    lines = ["# Sweep: long-context members in the whole-history layer", "",
             (__doc__ or "").split("\n\n")[0].replace("\n", " "), "",
             f"- command: `{meta['command']}`",
             f"- commit: {meta['git_commit']}{' (dirty)' if meta['git_dirty'] else ''}", "",
             "Validation origins only. MASE (CRPS) relative to SeasonalNaive; lower is better.", "",
             "| variant | long-member spread | whole-history validation | GIFT-Eval validation MASE "
             "| GIFT-Eval validation CRPS |", "|---|---|---|---|---|"]
    for label, v in var.items():
        g = f"{v['gift_mase']:.4f} | {v['gift_crps']:.4f}" if "gift_mase" in v else "- | -"
        whole = f"{v['realuse']['geomean']:.4f}" if "realuse" in v else "(as above)"
        lines.append(f"| {label} | {v['long_spread']} | {whole} | {g} |")
    points = [lb for lb in labels if "realuse" in var[lb]]
    lines += ["", "Whole-history validation per dataset:", "", "| dataset | " + " | ".join(points) + " |",
              "|---|" + "---|" * len(points)]
    for d in var[points[0]]["realuse"]["per_dataset"]:
        lines.append(f"| {d} | " + " | ".join(f"{var[lb]['realuse']['per_dataset'].get(d, float('nan')):.3f}"
                                             for lb in points) + " |")
    if res["configs"]:
        lines += ["", "GIFT-Eval validation windows per config (MASE / CRPS):", "",
                  "| config | H | " + " | ".join(labels) + " |", "|---|---|" + "---|" * len(labels)]
        for name, info in res["configs"].items():
            cells = [f"{var[lb]['per_config'][name]['mase']:.3f} / {var[lb]['per_config'][name]['crps']:.3f}"
                     for lb in labels]
            lines.append(f"| {name} | {info['horizon']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--variant", action="append", required=True, metavar="LABEL=ZOO,COMPETITION_ZOO[,SPREAD]")
    ap.add_argument("--no-gift", action="store_true", help="skip the GIFT-Eval validation windows")
    ap.add_argument("--gift-only", nargs="+", default=[], metavar="LABEL",
                    help="variants scored on the GIFT-Eval windows only (e.g. spread variants of one zoo)")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    variants = {}
    for v in args.variant:
        label, _, zoos = v.partition("=")
        zoo, _, rest = zoos.partition(",")
        comp, _, spread = rest.partition(",")
        if not label or not zoo or not comp or spread not in ("", "none", "weight", "mean"):
            ap.error(f"--variant {v!r}: expected LABEL=ZOO,COMPETITION_ZOO[,none|weight|mean]")
        variants[label] = (zoo, comp, spread or "weight")
    started = time.perf_counter()
    res = run(variants, gift=not args.no_gift, gift_only=tuple(args.gift_only))
    given = sys.argv[1:] if argv is None else argv
    res["meta"] = run_metadata(["-m", "benchmarks.sweeps.long_context", *given], started)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep_long_context.json").write_text(json.dumps(res, indent=1, default=float))
    (out / "sweep_long_context.md").write_text(markdown(res))
    print(markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
