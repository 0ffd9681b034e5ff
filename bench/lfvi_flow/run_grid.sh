#!/bin/sh
# Issue 14's benchmark grid for one table method (nle, nre, lfvi): the six sbibm tasks × budgets ×
# observations 1–5, one amortised model per task and budget (run.sh with all five observations),
# trained on the first N rows of the same 10^5-row table per task that bench/npe/run_grid.sh uses.
# One run at a time; lines appended to bench/lfvi_flow/results.jsonl with the label "grid_METHOD"
# (LABEL=... sets another).
#   sh bench/lfvi_flow/run_grid.sh METHOD ['OPTIONS_JSON'] ['TASKS'] ['BUDGETS']
#   e.g. sh bench/lfvi_flow/run_grid.sh nle '{}' "two_moons slcp" "1000 10000"
set -e
method=$1
options=${2:-"{}"}
tasks=${3:-"two_moons slcp gaussian_linear lotka_volterra sir bernoulli_glm"}
budgets=${4:-"1000 10000 100000"}
cd "$(dirname "$0")/../.."
for task in $tasks; do
  table=/tmp/npe_tables/${task}_100k.sbt
  [ -f "$table" ] || ./build/sbi simulate data/specs/$task.json -n 100000 -o "$table" --threads 1 --quiet
  for n in $budgets; do
    TABLE=$table sh bench/lfvi_flow/run.sh "${LABEL:-grid_$method}" "$task" "$n" "$method" "$options" "" "1 2 3 4 5"
  done
done
