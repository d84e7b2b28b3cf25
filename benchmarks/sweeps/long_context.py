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
import time
from typing import Any

from benchmarks.gift.evaluate import geomean
from benchmarks.sweeps.backtest_weights import GIFT_CONFIGS, gift_scores, validation_task
from benchmarks.sweeps.common import OUT, realuse_validation, write_results


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
    from seqfusion import quantiles as qmod

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
        variants[label] = (zoo, comp, spread or qmod.LONG_SPREAD)
    started = time.perf_counter()
    res = run(variants, gift=not args.no_gift, gift_only=tuple(args.gift_only))
    write_results("long_context", res, markdown, args.out, argv, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
