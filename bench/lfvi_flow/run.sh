#!/bin/sh
# One benchmark run of bench/lfvi_flow/lfvi_flow_run (see RESULTS.md there): simulates the table,
# trains METHOD with OPTIONS_JSON, samples 10,000 draws per observation, C2ST against sbibm's
# reference posterior; one JSON line per observation (and sampler) with the load average and the
# date, appended to bench/lfvi_flow/results.jsonl. One run at a time (the machine is shared).
#   sh bench/lfvi_flow/run.sh LABEL TASK ROWS METHOD 'OPTIONS_JSON' [SAMPLERS] [OBSERVATIONS]
#   e.g. sh bench/lfvi_flow/run.sh flow two_moons 1000 lfvi '{"generator": "flow"}'
#        sh bench/lfvi_flow/run.sh mcmc slcp 10000 nle '{}' slice,hmc 1
# TABLE=t.sbt trains on that table's first ROWS rows instead of simulating a table (seed 1).
# RESAMPLE=1,8,32 draws once per number of proposals per draw (lfvi's "importance_resampling").
# SEED=s trains and draws with seed s (1 by default; the table is the same for every seed).
# LFVI_FLOW_RUN=path runs a copy of the driver (so that a rebuild does not disturb a long grid).
set -e
label=$1
task=$2
rows=$3
method=$4
options=$5
samplers=${6:-""}
observations=${7:-"1"}
cd "$(dirname "$0")/../.."
run=${LFVI_FLOW_RUN:-./build/bench/lfvi_flow_run}
[ -n "${LFVI_FLOW_RUN:-}" ] || cmake --build build -j2 --target lfvi_flow_run >/dev/null  # benchmarks are not part of a plain build
args=""
if [ -n "${TABLE:-}" ]; then args="--table $TABLE"; fi
if [ -n "${RESAMPLE:-}" ]; then args="$args --resample $RESAMPLE"; fi
if [ -n "${SEED:-}" ]; then args="$args --seed $SEED"; fi
for k in $observations; do args="$args --observation ../shared/data/sbibm/$task/obs_$k"; done
if [ -n "$samplers" ]; then args="$args --samplers $samplers"; fi
load=$(cut -d' ' -f1 /proc/loadavg)
date=$(date -u +%FT%TZ)
"$run" --spec data/specs/$task.json --rows $rows --method $method --options "$options" $args \
  --out /tmp/lfvi_flow_samples_${label}_${task}_$rows | while read -r line; do
  echo "{\"label\": \"$label\", \"task\": \"$task\", \"load_before\": $load, \"load_after\": $(cut -d' ' -f1 /proc/loadavg), \"date\": \"$date\", \"run\": $line}" | tee -a bench/lfvi_flow/results.jsonl
done
