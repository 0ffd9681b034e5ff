#!/bin/sh
# NPE at its defaults (sbi/inference/npe.hpp, chosen on observation 1: bench/npe/run_obs1.sh) on
# the held-out observations 2–5 of two_moons, gaussian_linear and slcp at 10^3 and 10^4 simulations:
# one amortised model per task and budget, one run at a time, one JSON line per observation (with
# the load average and the date) appended to bench/npe/heldout.jsonl. Tables as in run_obs1.sh.
#   sh bench/npe/run_heldout.sh LABEL ['OPTIONS_JSON'] [tasks] [budgets]
set -e
label=$1
options=${2:-"{}"}
tasks=${3:-"two_moons gaussian_linear slcp"}
budgets=${4:-"1000 10000"}
cd "$(dirname "$0")/../.."
cmake --build build -j2 --target npe_run sbi_cli >/dev/null  # benchmarks are not part of a plain build
for task in $tasks; do
  for n in $budgets; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    date=$(date -u +%FT%TZ)
    ./build/bench/npe_run --spec data/specs/$task.json --table /tmp/npe_tables/$task.sbt --rows $n \
      --observation data/sbibm/$task/obs_2 --observation data/sbibm/$task/obs_3 \
      --observation data/sbibm/$task/obs_4 --observation data/sbibm/$task/obs_5 \
      --options "$options" --out /tmp/npe_samples_${label}_${task}_$n 2>/dev/null | while read -r line; do
      echo "{\"label\": \"$label\", \"task\": \"$task\", \"load\": $load, \"date\": \"$date\", \"run\": $line}" | tee -a bench/npe/heldout.jsonl
    done
  done
done
