#!/usr/bin/env bash
# Calibration of an amortised method (default NPE) on the six sbibm tasks at 10^4 simulations, one
# model and an ensemble of K: `sbi infer` (quick check off) then `sbi diagnose DIR --calibration N
# -L L` on the task's own simulator; one JSON line per (task, K) with the verdict, the largest
# coverage deviation, the SBC χ² p-values, TARP's distance, the times and the load, appended to
# bench/calibration/six_tasks.jsonl.
#
#   bash bench/calibration/six_tasks.sh [N] [ENSEMBLES] [TASKS] [METHOD] [L] ['{"extra": "inference keys"}']
#   # defaults: 1000, "1 5", the six, npe, 1000, {}
# SBI=path/to/sbi runs that binary instead of building build/sbi (e.g. a copy, so that a rebuild
# during a long run does not change the program under test).
# One run at a time; state the machine's load beside the figures (each line records uptime).
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-1000}
ensembles=${2:-"1 5"}
tasks=${3:-"two_moons slcp gaussian_linear lotka_volterra sir bernoulli_glm"}
method=${4:-npe}
posterior_samples=${5:-1000}
extra=${6:-"{}"}
python=/usr/bin/python3
if [ -z "${SBI:-}" ]; then
  cmake --build build -j2 --target sbi_cli >/dev/null
  SBI=./build/sbi
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for task in $tasks; do
  for k in $ensembles; do
    spec=$work/${task}_$k.json
    "$python" - "data/specs/$task.json" "$spec" "$k" "$task" "$method" "$extra" <<'PY'
import json, sys, os
source, target, k, task, method, extra = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
spec = json.load(open(source))
spec["inference"] = {"method": method, "simulations": 10000, "ensemble": k, **json.loads(extra)}
spec.pop("reference_posterior", None)
# Relative paths in the spec (none in the sbibm specs today) would now resolve from the temporary folder.
json.dump(spec, open(target, "w"))
PY
    load_before=$(cut -d' ' -f1 /proc/loadavg)
    start=$(date +%s.%N)
    "$SBI" infer "$spec" -o "$work/${task}_$k" --quiet --no-check >/dev/null
    trained=$(date +%s.%N)
    "$SBI" diagnose "$work/${task}_$k" --calibration "$n" -L "$posterior_samples" --quiet -o "$work/${task}_$k/calibration" >/dev/null || true
    done_at=$(date +%s.%N)
    load_after=$(cut -d' ' -f1 /proc/loadavg)
    "$python" - "$work/${task}_$k/calibration/calibration.json" "$task" "$k" "$n" "$start" "$trained" "$done_at" "$load_before" "$load_after" "$method" "$posterior_samples" "$extra" <<'PY' | tee -a bench/calibration/six_tasks.jsonl
import json, sys, datetime
path, task, k, n, start, trained, done, lb, la, method, L, extra = sys.argv[1:]
c = json.load(open(path))
print(json.dumps({
    "task": task, "method": method, "options": json.loads(extra), "ensemble": int(k), "N": int(n), "L": int(L), "date": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%MZ"),
    "verdict": c["verdict"], "reason": c["verdict_reason"],
    "coverage_max_deviation": c["coverage"]["max_deviation"] if c["coverage"] else None,
    "coverage_below_above": [c["coverage"]["below"], c["coverage"]["above"]] if c["coverage"] else None,
    "sbc_p": {p["parameter"]: round(p["ranks"]["chi_square_p"], 4) for p in c["sbc"]},
    "tarp_distance": c["tarp"]["distance"] if c["tarp"] else None,
    "train_seconds": round(float(trained) - float(start), 1), "check_seconds": round(float(done) - float(trained), 1),
    "load": [float(lb), float(la)]}))
PY
  done
done
