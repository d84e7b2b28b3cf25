#!/usr/bin/env bash
# Speed / memory / size benchmark: 10,000 synthetic series of length 36, H=48, k=3,
# statsforecast AutoETS/AutoTheta on 300 of them. Writes benchmarks/results/speed.{md,json}.
# Uses the shipped default zoo unless --zoo DIR is given. Two CPUs for the numpy engine (this machine has 2;
# pass --threads N to override).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="src:.${PYTHONPATH:+:$PYTHONPATH}"
exec nice -n 10 "${PYTHON:-python}" -m benchmarks.harness speed \
  --n-series 10000 --horizon 48 --sf-series 300 --repeats 20 --threads 2 \
  --out benchmarks/results "$@"
