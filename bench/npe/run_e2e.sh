#!/bin/bash
# sbi++ NPE end to end on one thread — simulate the spec's 10^4 rows, train, draw 10,000 samples —
# for observation K of each task, C2ST by `sbi diagnose` against its reference posterior; one line
# per task. The counterpart of run_sbi_peer.sh (bench/npe/RESULTS.md §8).
#   bash bench/npe/run_e2e.sh [K] [tasks]        SBI=path runs a copy of build/sbi
# NPE_OPTIONS='{...}' merges those keys into the spec's inference section (a copy of the spec).
set -e
cd "$(dirname "$0")/../.."
k=${1:-2}
tasks=${2:-"gaussian_linear slcp two_moons"}
sbi=${SBI:-./build/sbi}
out=$(mktemp -d)
for task in $tasks; do
  spec=data/specs/$task.json
  if [ -n "$NPE_OPTIONS" ]; then
    spec=$out/$task.json
    /usr/bin/python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); s["inference"].update(json.loads(sys.argv[2])); json.dump(s, open(sys.argv[3], "w"))' \
      data/specs/$task.json "$NPE_OPTIONS" "$spec"
  fi
  load=$(cut -d' ' -f1 /proc/loadavg)
  start=$(date +%s.%N)
  "$sbi" infer "$spec" -m npe --observation data/sbibm/$task/obs_$k/observation.csv --threads 1 --no-check \
    -o "$out/$task" --quiet > "$out/$task.log" 2>&1
  end=$(date +%s.%N)
  c2st=$("$sbi" diagnose "$out/$task/samples.csv" --reference data/sbibm/$task/obs_$k/reference_posterior_samples.csv 2>&1 |
    sed -n 's/^C2ST accuracy *\([0-9.]*\).*/\1/p')
  echo "$task observation $k: C2ST $c2st, $(echo "$end - $start" | bc) s end to end, load $load, $(date -u +%FT%TZ); $(grep -o 'estimator kept.*' "$out/$task.log")"
done
rm -rf "$out"
