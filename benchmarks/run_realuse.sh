#!/usr/bin/env bash
# Whole-history benchmark ("realuse"): every point before the origin is the context.
# Writes benchmarks/results/realuse.{md,json} (test origins) and
# benchmarks/results/realuse_validation.{md,json} (validation origins, before the test ones);
# merges with rows already there. Forecasts are cached in $SEQFUSION_CACHE, so reruns are cheap.
#
# The competition datasets (M3, M4, Tourism) are forecast by SeqFusion with a zoo built
# without any M3/M4/Tourism data (src/seqfusion/training/configs/no_competitions.toml). It is built here into
# $SEQFUSION_CACHE/zoos/no_competitions when absent (member weights are cached by the
# build; from an empty cache it takes about half an hour to an hour on one core).
#
# Methods: SeasonalNaive, Naive, SeqFusion (default and paper design) on every window;
# AutoETS / AutoTheta on at most 100 windows per dataset; AutoARIMA on at most 20 windows
# per dataset, test split only. Extra arguments go to both runs, e.g. --no-cache.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="src:.${PYTHONPATH:+:$PYTHONPATH}"
PY="${PYTHON:-python}"
CACHE="${SEQFUSION_CACHE:-$HOME/.cache/seqfusion}"
ZOO="$CACHE/zoos/no_competitions"
if [ ! -f "$ZOO/zoo.json" ]; then
  nice -n 10 "$PY" -m seqfusion.cli zoo build --config no_competitions --out "$ZOO" --quiet
fi
nice -n 10 "$PY" -m benchmarks.harness realuse --split test \
  --methods snaive naive autoets autotheta autoarima seqfusion seqfusion_paper \
  --competition-zoo "$ZOO" --out benchmarks/results --no-progress "$@"
nice -n 10 "$PY" -m benchmarks.harness realuse --split validation \
  --methods snaive naive autoets autotheta seqfusion seqfusion_paper \
  --competition-zoo "$ZOO" --out benchmarks/results --no-progress "$@"
# Each whole-history candidate scored alone, next to the fused forecast (both splits).
for split in validation test; do
  nice -n 10 "$PY" -m benchmarks.harness candidates --split "$split" \
    --competition-zoo "$ZOO" --out benchmarks/results
done
