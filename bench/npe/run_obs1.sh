#!/bin/sh
# Runs NPE (bench/npe/npe_run) on observation 1 of two_moons, gaussian_linear and slcp at 10^3 and
# 10^4 simulations for one options JSON, one run at a time, appending one JSON line per run (with
# the load average) to bench/npe/results.jsonl. Tables: /tmp/npe_tables/<task>.sbt, simulated with
#   build/sbi simulate data/specs/<task>.json -n 10000 -o /tmp/npe_tables/<task>.sbt --threads 1
# (the 10^3 runs use the first 1000 rows).
#   sh bench/npe/run_obs1.sh LABEL 'OPTIONS_JSON' [tasks] [budgets]
set -e
label=$1
options=$2
tasks=${3:-"two_moons gaussian_linear slcp"}
budgets=${4:-"1000 10000"}
cd "$(dirname "$0")/../.."
cmake --build build -j2 --target npe_run sbi_cli >/dev/null  # benchmarks are not part of a plain build
for task in $tasks; do
  for n in $budgets; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    line=$(./build/bench/npe_run --spec data/specs/$task.json --table /tmp/npe_tables/$task.sbt --rows $n \
      --observation data/sbibm/$task/obs_1 --options "$options" --out /tmp/npe_samples_${label}_${task}_$n 2>/dev/null)
    echo "{\"label\": \"$label\", \"task\": \"$task\", \"load\": $load, \"date\": \"$(date -u +%FT%TZ)\", \"run\": $line}" | tee -a bench/npe/results.jsonl
  done
done
