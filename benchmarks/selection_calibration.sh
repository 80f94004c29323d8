#!/usr/bin/env bash
# Example selection x score calibration (and dev thresholds) for one embedded model on one demo
# dataset, with the three baselines, into one experiment and its report:
#   benchmarks/selection_calibration.sh [MODEL] [DATASET] [LIMIT]
# (default gemma3-270m demo_fa 40). Random examples run over three draws
# (one report row); knn and balanced are one run each. docs/results.md holds
# the table it gave. Routes: native (the transcripts as they are).
set -euo pipefail
model=${1:-gemma3-270m}
dataset=${2:-demo_fa}
limit=${3:-40}
bin=${BIN:-.venv/bin}
experiment="selection-$model-$dataset"
common=(route=native prompt.mode=score "dataset=$dataset" "dataset.limit=$limit" "tracking.experiment=$experiment")
calibrations=(prompt.calibration=none,contextual,domain,batch prompt.threshold=0.5,dev)
"$bin/harness" -m "model=$model" "${common[@]}" prompt.selection=random prompt.draws=3 "${calibrations[@]}"
"$bin/harness" -m "model=$model" "${common[@]}" prompt.selection=balanced,knn "${calibrations[@]}"
"$bin/harness" -m model=keyword-baseline,tfidf-logreg,knn-vote "${common[@]}"
"$bin/harness-report" --experiment "$experiment"
