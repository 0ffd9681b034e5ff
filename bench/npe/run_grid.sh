#!/bin/sh
# NPE on the six sbibm tasks × budgets × observations 1–5 (issue 13's benchmark grid): one amortised
# model per task and budget, C2ST against each observation's sbibm reference, one JSON line per
# observation (load average and date beside it) appended to bench/npe/grid.jsonl. One run at a time.
# Tables: the first N rows of /tmp/npe_tables/<task>_100k.sbt, simulated with
#   build/sbi simulate data/specs/<task>.json -n 100000 -o /tmp/npe_tables/<task>_100k.sbt --threads 1
#   sh bench/npe/run_grid.sh LABEL ['OPTIONS_JSON'] [tasks] [budgets]
# SEED=s trains and draws with seed s (1 by default; the tables are the same for every seed).
# NPE_RUN=path runs a copy of bench/npe_run (so a rebuild does not disturb a long grid).
set -e
label=$1
options=${2:-"{}"}
tasks=${3:-"two_moons slcp gaussian_linear lotka_volterra sir bernoulli_glm"}
budgets=${4:-"1000 10000 100000"}
cd "$(dirname "$0")/../.."
npe_run=${NPE_RUN:-./build/bench/npe_run}
[ -n "$NPE_RUN" ] || cmake --build build -j2 --target npe_run >/dev/null  # benchmarks are not part of a plain build
for task in $tasks; do
  table=/tmp/npe_tables/${task}_100k.sbt
  [ -f "$table" ] || ./build/sbi simulate data/specs/$task.json -n 100000 -o "$table" --threads 1 --quiet
  for n in $budgets; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    date=$(date -u +%FT%TZ)
    "$npe_run" --spec data/specs/$task.json --table "$table" --rows $n \
      --observation data/sbibm/$task/obs_1 --observation data/sbibm/$task/obs_2 --observation data/sbibm/$task/obs_3 \
      --observation data/sbibm/$task/obs_4 --observation data/sbibm/$task/obs_5 \
      --options "$options" --seed "${SEED:-1}" --out /tmp/npe_grid_${label}_${task}_$n 2>/dev/null | while read -r line; do
      echo "{\"label\": \"$label\", \"task\": \"$task\", \"load\": $load, \"date\": \"$date\", \"run\": $line}" | tee -a bench/npe/grid.jsonl
    done
  done
done
