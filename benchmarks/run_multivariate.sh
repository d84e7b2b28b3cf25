#!/usr/bin/env bash
# Multivariate zero-shot benchmark (paper Table 2 protocol), full settings.
# Writes benchmarks/results/multivariate.{md,json}; merges with rows already there.
# Default methods: Last Mean SeasonalNaive AutoETS AutoTheta AutoARIMA (1000-row
# subsample) DLinear PatchTST (in-task 50). Extra arguments are passed on, e.g.
#   benchmarks/run_multivariate.sh --methods seqfusion --zoo path/to/zoo --k 3
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="src:.${PYTHONPATH:+:$PYTHONPATH}"
exec nice -n 10 "${PYTHON:-python}" -m benchmarks.harness multivariate \
  --datasets ECL ETTh1 ETTh2 Exchange Illness Weather \
  --horizons 6 8 14 18 24 36 48 \
  --max-windows 1000 \
  --out benchmarks/results "$@"
