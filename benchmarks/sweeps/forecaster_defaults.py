"""Sweep: the forecaster's constructor defaults that act on 36-point contexts, on validation windows.

Each variant changes one setting of :class:`seqfusion.options.Options` (the others at the
shipped zoo's values) and scores point forecasts on the validation windows of the paper's
36-point protocol (``benchmarks.harness.validation``: the rows just before each dataset's
test rows; six datasets, an evenly spaced subsample of ``PROTOCOL_ROWS`` rows each; geo-mean
of MSE relative to SeasonalNaive (7), lower is better). A setting is scored where it acts:

* ``clip`` (bound on the normalized roll-out): the default forecaster (router fusion);
* ``temperature`` (softmax on cosine similarities): ``fusion="similarity"``, the paper's
  design otherwise (similarity top-16, ``benchmarks.harness.ablations.paper_design``);
* ``backtest`` (points of the context each member back-tests on): ``selection="backtest"``,
  the paper's design otherwise;
* ``min_length`` (the fewest finite points a history needs) is a limit, not a weight: it
  changes no forecast of a 36-point context. Its rows score contexts with only their last
  ``L`` points (the rest NaN, left-padded by the forecaster as any short history) against
  the last value repeated (``Last``) on the same rows: the shortest context where the fused
  forecast still beats ``Last`` bounds what is worth accepting.

``python -m benchmarks.sweeps.forecaster_defaults`` writes
``benchmarks/results/sweep_forecaster_defaults.{md,json}``.
"""
from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from benchmarks.sweeps.common import OUT, PROTOCOL_ROWS, protocol_validation, write_results

#: setting -> values tried (the shipped value among them)
GRID: dict[str, tuple[Any, ...]] = {
    "clip": (5.0, 10.0, 20.0, None),
    "temperature": (0.02, 0.05, 0.1, 0.2, 0.5, 1.0),
    "backtest": (6, 12, 18, 24),
}
#: context lengths of the ``min_length`` rows
CONTEXT_LENGTHS = (2, 3, 4, 6, 8, 12, 18)


def _freq(data: Any) -> str | None:
    from benchmarks.harness.ablations import data_freq

    return data_freq(data)


def method(model: Any) -> Any:
    """``model.predict_windows`` told each dataset's frequency, as a protocol method."""
    def make(data: Any) -> Any:
        def f(x: np.ndarray, horizon: int) -> np.ndarray:
            return model.predict_windows(x, horizon, freq=_freq(data))

        f.horizon_invariant = model.options.normalization == "window"  # type: ignore[attr-defined]
        return f

    return make


def truncated(make: Any, length: int) -> Any:
    """``make``'s method on contexts whose first ``36 - length`` points are NaN."""
    def outer(data: Any) -> Any:
        inner = make(data)

        def f(x: np.ndarray, horizon: int) -> np.ndarray:
            x = np.array(x, dtype=np.float64)
            x[:, : x.shape[1] - length] = np.nan
            return np.asarray(inner(x, horizon))

        f.horizon_invariant = getattr(inner, "horizon_invariant", False)  # type: ignore[attr-defined]
        return f

    return outer


def last_value(data: Any) -> Any:
    from benchmarks.harness.ablations import naive_method

    return naive_method


def run(zoo: str | None, rows: int) -> dict[str, Any]:
    from benchmarks.harness.ablations import paper_design
    from seqfusion.forecaster import SeqFusion

    model = SeqFusion.from_pretrained(zoo)
    paper = paper_design(model)
    where = {"clip": model, "temperature": paper.with_options(fusion="similarity"),
             "backtest": paper.with_options(selection="backtest")}
    shipped = {name: getattr(model.options, name) for name in [*GRID, "min_length"]}
    out: dict[str, Any] = {"shipped": shipped, "rows": rows, "base": {}, "variants": {}, "min_length": {}}
    for name, values in GRID.items():
        base = where[name]
        out["base"][name] = {"setting": {k: getattr(base.options, k) for k in ("k", "fusion", "selection")}}
        for value in values:
            start = time.perf_counter()
            res = protocol_validation(method(base.with_options(**{name: value})), rows)
            res["seconds"] = time.perf_counter() - start
            if value == shipped[name]:
                out["base"][name].update(res)
            else:
                out["variants"][f"{name}={value}"] = res
            print(f"{name}={value}: {res['geomean']:.4f}", flush=True)
    for length in CONTEXT_LENGTHS:
        own = protocol_validation(truncated(method(model.with_options(min_length=1)), length), rows)
        ref = protocol_validation(truncated(last_value, length), rows)
        out["min_length"][str(length)] = {"seqfusion": own, "last": ref,
                                          "ratio": own["geomean"] / ref["geomean"]}
        print(f"context {length}: {own['geomean']:.4f} vs Last {ref['geomean']:.4f}", flush=True)
    return out


def markdown(res: dict[str, Any]) -> str:
    meta = res["meta"]
    lines = ["# Sweep: the forecaster's defaults on the 36-point protocol's validation windows", "",
             (__doc__ or "").split("\n\n")[0].replace("\n", " "), "",
             f"- command: `{meta['command']}`",
             f"- commit: {meta['git_commit']}{' (dirty)' if meta['git_dirty'] else ''}", "",
             f"Validation windows only ({res['rows']} rows per dataset, six datasets); geo-mean of MSE / "
             "SeasonalNaive (7) MSE on the same rows, mean over the horizons 6-48; lower is better.", "",
             "| setting | value | scored with | 36-point validation | vs shipped |", "|---|---|---|---|---|"]
    for name in GRID:
        base = res["base"][name]
        how = ", ".join(f"{k}={v}" for k, v in base["setting"].items())
        lines.append(f"| {name} | {res['shipped'][name]} (shipped) | {how} | {base['geomean']:.4f} | |")
        for label, v in res["variants"].items():
            if label.startswith(name + "="):
                lines.append(f"| {name} | {label.split('=', 1)[1]} | {how} | {v['geomean']:.4f} | "
                             f"{v['geomean'] - base['geomean']:+.4f} |")
    lines += ["", f"`min_length` (shipped {res['shipped']['min_length']}): contexts with only their last L "
              "points (left-padded by the forecaster), the default forecaster (with `min_length=1`) "
              "against the last value repeated on the same rows.", "",
              "| L (points known) | SeqFusion vs SeasonalNaive | Last vs SeasonalNaive | SeqFusion / Last |",
              "|---|---|---|---|"]
    for length, v in res["min_length"].items():
        lines.append(f"| {length} | {v['seqfusion']['geomean']:.4f} | {v['last']['geomean']:.4f} | "
                     f"{v['ratio']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--zoo", default=None, help="zoo folder (default: the shipped zoo)")
    ap.add_argument("--rows", type=int, default=PROTOCOL_ROWS, help="validation rows per dataset")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    started = time.perf_counter()
    res = run(args.zoo, args.rows)
    write_results("forecaster_defaults", res, markdown, args.out, argv, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
