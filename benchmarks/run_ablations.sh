#!/usr/bin/env bash
# Ablations of the forecaster's design (issue: accuracy), on the validation and test splits.
# Builds the no-transferability-loss extractor zoo and the single general PTM into $ZOOS
# (default /tmp/seqfusion-ablation-zoos; PTMs come from the build cache) and writes
# benchmarks/results/ablations.{md,json}. About 10 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="src:.${PYTHONPATH:+:$PYTHONPATH}"
exec nice -n 10 "${PYTHON:-python}" -m benchmarks.harness.ablations \
  --with-builds "${ZOOS:-/tmp/seqfusion-ablation-zoos}" --max-rows 3000 --out benchmarks/results "$@"
