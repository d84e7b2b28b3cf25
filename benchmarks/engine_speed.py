"""Throughput of the numpy inference engine against the torch forecaster (not a test).

Workload: ``--n`` random walks of length 36 (seeded), forecast ``--horizon`` steps with the
shipped default zoo's router over all its members (the zoo's default: ``k = "all"``,
router temperature from the manifest) and with top-8 routing. The torch path is
``SeqFusion.predict_windows``; the numpy path is ``seqfusion.engine.EngineZoo.forecast``
(the same router fusion with window normalization, on numpy alone). Runs are
interleaved (torch, numpy, torch, numpy, ...) so that other jobs sharing the CPUs slow
both alike; best and median series/s over ``--repeats`` runs are printed, and the CPU
time of the process per series (all its threads; spinning thread pools count too).

Usage: ``python benchmarks/engine_speed.py [--n 10000] [--horizon 48] [--threads 2] [--repeats 5]``
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000, help="series")
    ap.add_argument("--horizon", type=int, default=48)
    ap.add_argument("--threads", type=int, default=2, help="threads for BLAS, torch and the engine")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-torch", action="store_true", help="time the numpy engine only")
    args = ap.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)

    import numpy as np

    from seqfusion.engine import EngineZoo

    x = 100.0 + np.cumsum(np.random.default_rng(args.seed).normal(size=(args.n, 36)), axis=1)
    zoo = EngineZoo.load()
    zoo.threads = args.threads
    fc = zoo.info.get("forecaster", {})
    temperature = float(fc.get("router_temperature", 1.0))
    runs: dict[str, object] = {}
    for k in (None, 8):
        label = "all members" if k is None else f"top-{k}"
        runs[f"numpy  {label}"] = (lambda k=k: zoo.forecast(x, args.horizon, k, temperature))
    results: dict[str, np.ndarray] = {}
    if not args.no_torch:
        import torch

        from seqfusion import SeqFusion

        torch.set_num_threads(args.threads)
        sf = SeqFusion.from_pretrained()
        assert sf.fusion == "router" and sf.router_temperature == temperature
        for k in (None, 8):
            label = "all members" if k is None else f"top-{k}"
            runs[f"torch  {label}"] = (lambda k=k: sf.predict_windows(x, args.horizon, k=k))
    order = sorted(runs, key=lambda s: (s.split()[1:], s))  # numpy/torch alternate per setting
    times: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    for name in order:  # warm-up (and the outputs for the agreement check)
        results[name] = runs[name]()  # type: ignore[operator]
    for _ in range(args.repeats):
        for name in order:
            t0, c0 = time.perf_counter(), time.process_time()
            runs[name]()  # type: ignore[operator]
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)

    print(f"{args.n} random walks of length 36, horizon {args.horizon}, router fusion over "
          f"{len(zoo)} members (temperature {temperature}); threads {args.threads} "
          f"(OMP/OPENBLAS_NUM_THREADS, torch.set_num_threads, engine); {args.repeats} runs")
    print(f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"{'path':24s} {'best series/s':>14s} {'median series/s':>16s} {'CPU us/series (median)':>23s}")
    for name in order:
        ts = times[name]
        print(f"{name:24s} {args.n / min(ts):14.0f} {args.n / statistics.median(ts):16.0f} "
              f"{statistics.median(cpu[name]) / args.n * 1e6:23.0f}")
    if not args.no_torch:
        for label in ("all members", "top-8"):
            a, b = results[f"numpy  {label}"], results[f"torch  {label}"]
            rel = np.abs(a - b) / np.maximum(1.0, np.abs(b))
            print(f"numpy vs torch, {label}: max |diff| / max(1, |torch|) = {rel.max():.2e}")
    probe = "import time; t = time.perf_counter(); import seqfusion.engine, sys; " \
            "print(time.perf_counter() - t, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    print(f"import seqfusion.engine in a fresh interpreter: {float(out[0]):.3f} s (torch loaded: {out[1]})")


if __name__ == "__main__":
    main()
