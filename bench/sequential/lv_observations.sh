#!/usr/bin/env bash
# The README's main job (data/specs/lotka_volterra.json: SNRE, 10 rounds, 10^4 simulations; SNLE before 2026-12-04) on sbibm
# Lotka-Volterra observations 1-5, one run at a time: wall time, C2ST against each reference
# posterior (sbibm protocol), the load average before each run. Observation 1 is the one the default
# was chosen on; 2-5 are held out. Appends one JSON line per run to bench/sequential/results.jsonl.
#   bash bench/sequential/lv_observations.sh [method] [rounds] [observations]
set -euo pipefail
cd "$(dirname "$0")/../.."
method=${1:-snre}
rounds=${2:-10}
observations=${3:-"1 2 3 4 5"}
out=$(mktemp -d)
for k in $observations; do
  /usr/bin/python3 - "$k" "$method" "$rounds" "$out" <<'PY'
import json, sys
k, method, rounds, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
spec = json.load(open("data/specs/lotka_volterra.json"))
spec["observation"] = {"file": f"../data/sbibm/lotka_volterra/obs_{k}/observation.csv"}
spec["true_parameters"] = [float(v) for v in open(f"data/sbibm/lotka_volterra/obs_{k}/true_parameters.csv").read().split("\n")[1].split(",")]
spec["reference_posterior"] = f"../data/sbibm/lotka_volterra/obs_{k}/reference_posterior_samples.csv"
spec["inference"] = {"method": method, "simulations": 10000, "rounds": rounds}
json.dump(spec, open(f"{out}/spec.json", "w"))
PY
  # the spec sits in $out: make its relative paths point back here
  sed -i "s#\.\./data/#$(pwd)/data/#g" "$out/spec.json"
  load=$(cut -d' ' -f1 /proc/loadavg)
  start=$(date +%s.%N)
  ./build/sbi infer "$out/spec.json" -o "$out/obs_$k" --force --quiet > "$out/obs_$k.log"
  end=$(date +%s.%N)
  c2st=$(grep -o "reference posterior [^:]*: [0-9.]*" "$out/obs_$k.log" | awk '{print $NF}')
  echo "{\"method\": \"$method\", \"rounds\": $rounds, \"observation\": $k, \"simulations\": 10000, \"c2st\": $c2st, \"seconds\": $(echo "$end - $start" | bc), \"load\": $load, \"date\": \"$(date -u +%FT%TZ)\"}" | tee -a bench/sequential/results.jsonl
done
rm -rf "$out"
