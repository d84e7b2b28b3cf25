#!/usr/bin/env bash
# Covariate benchmark (benchmarks/covariates): whole-history origins, covariates known over
# the horizon. Needs the shared data folder and the 'covariates-bench' extra
# (pip install -e '.[covariates-bench]'). Writes, in benchmarks/results/:
#   covariates_sweep.{md,json}       design variants of the covariate method, validation origins
#   covariates_validation.{md,json}  every method, validation origins (before the test ones)
#   covariates.{md,json}             every method, test origins (the design fixed beforehand)
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="src:.${PYTHONPATH:+:$PYTHONPATH}"
PY="${PYTHON:-python}"
nice -n 19 "$PY" -m benchmarks.covariates.run --sweep "$@"
nice -n 19 "$PY" -m benchmarks.covariates.run --split validation "$@"
nice -n 19 "$PY" -m benchmarks.covariates.run --split test "$@"
