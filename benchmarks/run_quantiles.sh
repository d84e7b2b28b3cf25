#!/usr/bin/env bash
# Quantile forecasts (issue 12): WQL, coverage of the 80% / 95% intervals, interval width.
# Writes benchmarks/results/realuse_quantiles.{md,json} (whole history, test origins),
# benchmarks/results/realuse_quantiles_validation.{md,json} (validation origins, before the
# test ones: calibrate there, never on test) and benchmarks/results/multivariate_quantiles.{md,json}
# (the paper's 36-point protocol); merges with rows already there. Forecasts (realuse) and
# per-window sums (multivariate) are cached in $SEQFUSION_CACHE, so reruns are cheap.
#
# Methods: SeasonalNaive with residual quantiles (normal: the reference; empirical),
# statsforecast AutoETS / AutoTheta level intervals, SeasonalNaive + conformal intervals and
# AutoTheta + conformal intervals (5 windows),
# and SeqFusion's quantiles (SeqFusion.predict_histories(..., quantiles=...); skipped with a
# message while the forecaster has no predict_histories). AutoETS / AutoTheta (also conformal): at most 100
# windows per dataset (realuse) / 1000 rows per dataset (multivariate, conformal too), evenly
# spaced, marked '*'. The competition datasets use the zoo built without M3/M4/Tourism
# (benchmarks/run_realuse.sh builds it). Extra arguments go to every run, e.g. --no-cache.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="src:.${PYTHONPATH:+:$PYTHONPATH}"
PY="${PYTHON:-python}"
CACHE="${SEQFUSION_CACHE:-$HOME/.cache/seqfusion}"
ZOO="$CACHE/zoos/no_competitions"
METHODS=(snaive snaive_empirical autoets autotheta conformal_snaive conformal_autotheta seqfusion)
for split in test validation; do
  nice -n 10 "$PY" -m benchmarks.harness realuse --quantiles --split "$split" \
    --methods "${METHODS[@]}" --competition-zoo "$ZOO" --out benchmarks/results --no-progress "$@"
done
nice -n 10 "$PY" -m benchmarks.harness multivariate --quantiles \
  --methods "${METHODS[@]}" --out benchmarks/results --no-progress "$@"
