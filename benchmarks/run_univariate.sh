#!/usr/bin/env bash
# Univariate benchmark (paper Tables 4/5 look-back/horizon settings), full settings.
# Writes benchmarks/results/univariate.{md,json}; merges with rows already there.
# Default methods: Last Mean SeasonalNaive AutoETS AutoTheta. Add SeqFusion with
#   benchmarks/run_univariate.sh --methods seqfusion --zoo path/to/zoo
# (a zoo trained on M3/M4/Tourism data is refused for those datasets).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="src:.${PYTHONPATH:+:$PYTHONPATH}"
exec nice -n 10 "${PYTHON:-python}" -m benchmarks.harness univariate \
  --datasets m3_yearly m3_quarterly m3_monthly m3_other \
             tourism_yearly tourism_quarterly tourism_monthly m4_hourly m4_weekly \
  --out benchmarks/results "$@"
