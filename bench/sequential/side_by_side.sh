#!/usr/bin/env bash
# sbi++ and sbi 0.25 side by side on one sbibm observation, the same sequential method, budget and
# rounds, one after the other on one thread each (`sbi infer --threads 1`; sbi's PyTorch on one
# thread, ../shared/peers/env.sh). Both sets of 10 000 draws are scored by the same C2ST
# (../shared/bench/c2st.py, sbibm's protocol). Prints one JSON line per tool and appends them to
# bench/sequential/side_by_side.jsonl.
#   bash bench/sequential/side_by_side.sh snre two_moons 1 10000 [ROUNDS=10]
# SBI=path/to/sbi runs that binary instead of build/sbi. Needs ../shared/peers/setup.sh once.
set -euo pipefail
cd "$(dirname "$0")/../.."
method=$1 task=$2 k=$3 simulations=$4 rounds=${5:-10}
SBI=${SBI:-./build/sbi}
out=$(mktemp -d)
root=$(pwd)
. ../shared/peers/env.sh
obs=../shared/data/sbibm/$task/obs_$k
/usr/bin/python3 - "$task" "$k" "$method" "$rounds" "$simulations" "$out" "$root" <<'PY'
import json, sys
task, k, method, rounds, simulations, out, root = sys.argv[1:]
spec = json.load(open(f"{root}/data/specs/{task}.json"))
obs = f"{root}/data/sbibm/{task}/obs_{k}"
spec["observation"] = {"file": f"{obs}/observation.csv"}
spec["inference"] = {"method": method, "simulations": int(simulations), "rounds": int(rounds)}
json.dump(spec, open(f"{out}/spec.json", "w"))
PY
load=$(cut -d' ' -f1 /proc/loadavg)
start=$(date +%s.%N)
"$SBI" infer "$out/spec.json" -o "$out/ours" --force --quiet --threads 1 --no-check > "$out/ours.log"
end=$(date +%s.%N)
c2st=$($SBI_PYTHON ../shared/bench/c2st.py "$obs/reference_posterior_samples.csv" "$out/ours/samples.csv" | tail -1 | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['c2st'])")
echo "{\"tool\": \"sbi++ $(git rev-parse --short HEAD)\", \"task\": \"$task\", \"method\": \"$method\", \"observation\": $k, \"simulations\": $simulations, \"rounds\": $rounds, \"threads\": 1, \"c2st\": $c2st, \"seconds\": $(echo "$end - $start" | bc), \"load\": $load, \"date\": \"$(date -u +%FT%TZ)\"}" | tee -a bench/sequential/side_by_side.jsonl
load=$(cut -d' ' -f1 /proc/loadavg)
upper=$(echo "$method" | tr a-z A-Z)
(cd "$out" && $SBI_PYTHON "$root/bench/sequential/sbi_sequential.py" --task "$task" --method "$upper" --sims "$simulations" --rounds "$rounds" \
  --obs "$k" --seed 1 --out "$out/sbi.csv" 2> "$out/sbi.log" | tail -1) |
  /usr/bin/python3 -c "import datetime,json,sys; r=json.load(sys.stdin); r['load']=float('$load'); r['date']=datetime.datetime.utcnow().strftime('%Y-%m-%dT%H:%M:%SZ'); print(json.dumps(r))" |
  tee -a bench/sequential/side_by_side.jsonl
rm -rf "$out"
