#!/usr/bin/env bash
# One sequential method on sbibm tasks (data/specs/<task>.json, observation k's files from
# data/sbibm/<task>/obs_k), one run at a time: wall time of `sbi infer`, C2ST against the
# observation's reference posterior (sbibm protocol, sbi infer's own report), the load average
# before the run. Appends one JSON line per run to bench/sequential/results.jsonl.
#   bash bench/sequential/tasks.sh METHOD ROUNDS SIMULATIONS "TASKS" "OBSERVATIONS" ['{"extra": "inference keys"}']
#   bash bench/sequential/tasks.sh snpe 10 10000 lotka_volterra 1
# SBI=path/to/sbi runs that binary instead of building build/sbi.
set -euo pipefail
cd "$(dirname "$0")/../.."
method=$1 rounds=$2 simulations=$3 tasks=$4 observations=$5 extra=${6:-"{}"}
if [ -z "${SBI:-}" ]; then
  cmake --build build --target sbi_cli -j2 > /dev/null
  SBI=./build/sbi
fi
out=$(mktemp -d)
for task in $tasks; do
  for k in $observations; do
    /usr/bin/python3 - "$task" "$k" "$method" "$rounds" "$simulations" "$extra" "$out" "$(pwd)" <<'PY'
import json, sys
task, k, method, rounds, simulations, extra, out, root = sys.argv[1:]
spec = json.load(open(f"{root}/data/specs/{task}.json"))
obs = f"{root}/data/sbibm/{task}/obs_{k}"
spec["observation"] = {"file": f"{obs}/observation.csv"}
spec["true_parameters"] = [float(v) for v in open(f"{obs}/true_parameters.csv").read().split("\n")[1].split(",")]
spec["reference_posterior"] = f"{obs}/reference_posterior_samples.csv"
spec["inference"] = {"method": method, "simulations": int(simulations), "rounds": int(rounds), **json.loads(extra)}
json.dump(spec, open(f"{out}/spec.json", "w"))
PY
    load=$(cut -d' ' -f1 /proc/loadavg)
    start=$(date +%s.%N)
    "$SBI" infer "$out/spec.json" -o "$out/run" --force --quiet > "$out/run.log"
    end=$(date +%s.%N)
    c2st=$(grep -o "reference posterior [^:]*: [0-9.]*" "$out/run.log" | awk '{print $NF}')
    echo "{\"task\": \"$task\", \"method\": \"$method\", \"rounds\": $rounds, \"options\": $extra, \"observation\": $k, \"simulations\": $simulations, \"c2st\": ${c2st:-null}, \"seconds\": $(echo "$end - $start" | bc), \"load\": $load, \"date\": \"$(date -u +%FT%TZ)\"}" | tee -a bench/sequential/results.jsonl
  done
done
rm -rf "$out"
