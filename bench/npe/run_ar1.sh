#!/bin/sh
# NPE on the AR(1) raw-data problem (simulators/autoregressive.hpp, data/specs/ar1.json): one model
# trained on 10^4 simulations, C2ST against the exact posterior of each observation; one JSON line
# per observation (with load and date) appended to bench/npe/ar1_results.jsonl. Prepare once:
#   build/bench/ar1_reference /tmp/ar1 5 1 1000          # observations 1–5 and exact posteriors
#   python3 -c "import json; s=json.load(open('data/specs/ar1.json')); del s['inference']; json.dump(s, open('/tmp/ar1_sim.json', 'w'))"
#   build/sbi simulate /tmp/ar1_sim.json -n 10000 -o /tmp/npe_tables/ar1.sbt --threads 1
# (the table is simulated from a copy without the inference section only so that `sbi simulate`
# does not check the method).
#   sh bench/npe/run_ar1.sh LABEL 'OPTIONS_JSON' OBSERVATION...      e.g. ... 1 2 3 4 5
set -e
label=$1
options=$2
shift 2
cd "$(dirname "$0")/../.."
cmake --build build -j2 --target npe_run ar1_reference sbi_cli >/dev/null  # benchmarks are not part of a plain build
observations=""
for k in "$@"; do observations="$observations --observation /tmp/ar1/obs_$k"; done
load=$(cut -d' ' -f1 /proc/loadavg)
date=$(date -u +%FT%TZ)
./build/bench/npe_run --spec /tmp/ar1_sim.json --table /tmp/npe_tables/ar1.sbt --rows 10000 $observations \
  --options "$options" --out /tmp/npe_samples_ar1_$label 2>/dev/null | while read -r line; do
  echo "{\"label\": \"$label\", \"task\": \"ar1\", \"load\": $load, \"date\": \"$date\", \"run\": $line}" | tee -a bench/npe/ar1_results.jsonl
done
