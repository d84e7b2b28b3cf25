#!/usr/bin/env bash
# Scale benchmark: the CLI on synthetic long CSVs of 100k and 1M series (40 points each; peak RSS,
# wall time, series/s), a shuffled 100k CSV (hash partition), and --engine dask --workers 2 against
# one process on 200k series. Inputs are generated in a temporary folder, never in the repository.
# Writes benchmarks/results/scale.{md,json} (runs merge by name). Pass e.g. --runs csv:100000 to run a subset.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="src:.${PYTHONPATH:+:$PYTHONPATH}"
exec nice -n 10 "${PYTHON:-python}" -m benchmarks.harness.scale "$@"
