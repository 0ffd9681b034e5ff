#!/usr/bin/env bash
# MPI identity tests (registered by tests/CMakeLists.txt when the build found MPI): each runs a
# command on one process and under `mpirun -np 3`, and requires the outputs to be the same bytes.
# Usage: mpi_identity.sh SBI MPIEXEC SOURCE_DIR WORK_DIR CASE
#   CASE: simulate | append | policies | dead-rank | abc | infer | causal | ensemble | calibration
set -euo pipefail
SBI=$1 MPIEXEC=$2 SRC=$3 WORK=$4 CASE=$5
MPI=("$MPIEXEC" --oversubscribe --allow-run-as-root -np 3)
export OMPI_MCA_btl_vader_single_copy_mechanism=none  # containers often forbid cross-process memory access
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK"

same() {  # same FILE_A FILE_B WHAT
  if ! cmp -s "$1" "$2"; then
    echo "FAIL: $3: $1 and $2 differ"; cmp "$1" "$2" || true; exit 1
  fi
  echo "ok: $3"
}

# A spec for the flaky external simulator (tests/mpi/flaky_sim.py) with failure policy $1.
flaky_spec() {
  python3 - "$SRC/tests/mpi/flaky.json" "$SRC/tests/mpi/flaky_sim.py" "$1" "flaky_$1.json" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
spec["simulator"]["command"] = ["python3", sys.argv[2]]
spec["simulation"]["failure_policy"] = sys.argv[3]
json.dump(spec, open(sys.argv[4], "w"), indent=1)
PY
}

# A calibration.json without what depends on time or thread counts.
report_without_times() {
  python3 - "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for key in ("timings", "threads"):
    d.pop(key)
d["options"].pop("threads")
d["simulation"].pop("seconds")
print(json.dumps(d, sort_keys=True))
PY
}

next_index() { "$SBI" table check "$1" | sed -n 's/.*next index \([0-9]*\).*/\1/p'; }

# Half the runs set SBI_RANK0_COMPUTES=0, so that rank 0 only schedules and writes and every row
# crosses MPI (with a fast simulator rank 0 might otherwise simulate nearly everything itself).
WORKERS_ONLY=(env SBI_RANK0_COMPUTES=0)

case $CASE in
simulate)
  # A built-in simulator: 2 threads on one process, 1 thread on each of 3 ranks.
  SPEC=$SRC/data/specs/two_moons.json
  "$SBI" simulate "$SPEC" -n 4000 -o one.sbt --threads 2 -q
  "${WORKERS_ONLY[@]}" "${MPI[@]}" "$SBI" simulate "$SPEC" -n 4000 -o many.sbt --threads 1 -q
  same one.sbt many.sbt "two_moons binary table, 1 process vs 3 ranks"
  ;;
append)
  # A CSV table made in two runs on 3 ranks (the second with --append) is the one-run table.
  SPEC=$SRC/data/specs/lotka_volterra.json
  "$SBI" simulate "$SPEC" -n 1500 -o one.csv -q
  "${WORKERS_ONLY[@]}" "${MPI[@]}" "$SBI" simulate "$SPEC" -n 500 -o many.csv --threads 2 -q
  "${MPI[@]}" "$SBI" simulate "$SPEC" -n 1000 -o many.csv --append --threads 1 -q
  same one.csv many.csv "500 + --append 1000 on 3 ranks vs 1500 on 1 process"
  ;;
policies)
  # The external simulator fails for θ_1 > 1.5 (about 7% of prior draws); each rank runs its own worker.
  flaky_spec drop
  "$SBI" simulate flaky_drop.json -n 200 -o one_drop.sbt -q
  "${MPI[@]}" "$SBI" simulate flaky_drop.json -n 200 -o many_drop.sbt -q
  same one_drop.sbt many_drop.sbt "external simulator, failure policy drop"
  flaky_spec redraw
  "$SBI" simulate flaky_redraw.json -n 200 -o one_redraw.sbt -q
  "${WORKERS_ONLY[@]}" "${MPI[@]}" "$SBI" simulate flaky_redraw.json -n 200 -o many_redraw.sbt -q
  same one_redraw.sbt many_redraw.sbt "external simulator, failure policy redraw"
  flaky_spec fail
  set +e
  "$SBI" simulate flaky_fail.json -n 200 -o one_fail.sbt -q 2>one_fail.err; one=$?
  "${WORKERS_ONLY[@]}" "${MPI[@]}" "$SBI" simulate flaky_fail.json -n 200 -o many_fail.sbt -q 2>many_fail.err; many=$?
  set -e
  [[ $one == 1 && $many == 1 ]] || { echo "FAIL: failure policy fail: exit codes $one (1 process) and $many (3 ranks), expected 1"; exit 1; }
  grep -q "failed at" many_fail.err || { echo "FAIL: failure policy fail: no message naming θ"; cat many_fail.err; exit 1; }
  same one_fail.sbt many_fail.sbt "external simulator, failure policy fail (rows before the failure kept)"
  ;;
dead-rank)
  # A rank is killed (SIGKILL, by its simulator) at simulation 150: the job stops, the finished rows
  # are kept, and --append (here on one process) completes the table, byte for byte.
  flaky_spec drop
  "$SBI" simulate flaky_drop.json -n 300 -o one.sbt -q
  set +e
  FLAKY_KILL_AT=150 FLAKY_KILL_MARKER=$WORK/killed "${MPI[@]}" "$SBI" simulate flaky_drop.json -n 300 -o many.sbt -q >dead.out 2>&1; code=$?
  set -e
  [[ $code != 0 && -f killed ]] || { echo "FAIL: the run with a killed rank exited with $code"; cat dead.out; exit 1; }
  kept=$(next_index many.sbt)
  echo "the killed run kept indices 0..$kept"
  [[ -n $kept && $kept -le 300 ]] || { echo "FAIL: no intact table after the kill"; exit 1; }
  if (( kept < 300 )); then "$SBI" simulate flaky_drop.json -n $((300 - kept)) -o many.sbt --append -q; fi
  same one.sbt many.sbt "killed rank, then --append, vs one uninterrupted run"
  ;;
abc)
  # SMC-ABC: every population is simulated across the ranks; the same draws.
  SPEC=$SRC/data/specs/gaussian_linear_2d_test.json
  "$SBI" abc "$SPEC" --method smc --budget 3000 -n 500 -o one -q --threads 1 >/dev/null
  "${WORKERS_ONLY[@]}" "${MPI[@]}" "$SBI" abc "$SPEC" --method smc --budget 3000 -n 500 -o many -q --threads 1 >/dev/null
  same one/samples.csv many/samples.csv "abc smc samples"
  ;;
infer)
  # Sequential NLE (round 1 from the prior, round 2 from the posterior: simulate_given across the
  # ranks), training on rank 0: the same table-free posterior draws.
  python3 - "$SRC/data/specs/gaussian_linear_2d_test.json" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
spec["inference"] = {"method": "snle", "simulations": 600, "rounds": 2}
json.dump(spec, open("snle.json", "w"))
PY
  "$SBI" infer snle.json -o one -n 300 --no-check --threads 1 -q >/dev/null
  "${WORKERS_ONLY[@]}" "${MPI[@]}" "$SBI" infer snle.json -o many -n 300 --no-check --threads 1 -q >/dev/null
  same one/samples.csv many/samples.csv "snle posterior draws"
  # C2ST with its folds spread over the ranks (the job carries the data): the same report, times apart.
  python3 -c "
import random
rng = random.Random(3)
print('theta_1,theta_2')
for _ in range(300): print('%r,%r' % (rng.gauss(0.3, 0.25), rng.gauss(-0.2, 0.25)))" > reference.csv
  "$SBI" diagnose one/samples.csv --reference reference.csv --n 150 --json --threads 1 > c2st_one.json
  "${WORKERS_ONLY[@]}" "${MPI[@]}" "$SBI" diagnose one/samples.csv --reference reference.csv --n 150 --json --threads 1 > c2st_many.json
  for run in one many; do
    python3 -c "import json, sys; d = json.load(open(sys.argv[1])); d.pop('c2st_seconds'); print(json.dumps(d, sort_keys=True))" c2st_$run.json > c2st_$run.txt
  done
  same c2st_one.txt c2st_many.txt "C2ST (folds over the ranks)"
  ;;
causal)
  # The cause-effect benchmark, its method × pair tasks spread over the ranks: the same decisions
  # (every column of pairs.csv but the time each task took).
  for run in one many; do
    launcher=(); [[ $run == many ]] && launcher=("${WORKERS_ONLY[@]}" "${MPI[@]}")
    "${launcher[@]}" "$SBI" causal benchmark "$SRC/data/causal_synthetic" --method igci,reci,fit -o $run -q --threads 1 >/dev/null
    cut -d, -f1-12,14 $run/pairs.csv > $run.csv
  done
  [[ $(wc -l < one.csv) -gt 10 ]] || { echo "FAIL: too few pairs"; exit 1; }
  same one.csv many.csv "causal benchmark decisions"
  ;;
ensemble)
  # An NPE ensemble of 4: its members trained over the ranks (one member per chunk; rank 0 assembles
  # the mixture). 2 threads on one process, 1 thread on each of 3 ranks: the same posterior files and
  # draws (the times a run records apart).
  python3 - "$SRC/data/specs/gaussian_linear_2d_test.json" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
spec["inference"] = {"method": "npe", "simulations": 400, "ensemble": 4, "max_epochs": 4, "batch_size": 100}
json.dump(spec, open("ensemble.json", "w"))
PY
  "$SBI" infer ensemble.json -o one -n 300 --no-check --threads 2 -q >/dev/null
  "${WORKERS_ONLY[@]}" "${MPI[@]}" "$SBI" infer ensemble.json -o many -n 300 --no-check --threads 1 -q >/dev/null
  same one/samples.csv many/samples.csv "ensemble posterior draws"
  [[ -f many/member_3/posterior.json && ! -e many/member_4 ]] || { echo "FAIL: not an ensemble of 4"; exit 1; }
  # Every file of the saved posterior, byte for byte, but for the clock readings a run records: the
  # "seconds" column of the training curves, and in posterior.json the times, the time stamp and the
  # curves' checksums.
  (cd one && find . -type f ! -name run.json ! -name samples.csv ! -name table.sbt | sort) > files.txt
  (cd many && find . -type f ! -name run.json ! -name samples.csv ! -name table.sbt | sort) > files_many.txt
  same files.txt files_many.txt "the list of posterior files"
  [[ $(wc -l < files.txt) -ge 10 ]] || { echo "FAIL: too few posterior files"; cat files.txt; exit 1; }
  while read -r file; do
    for run in one many; do
      python3 - "$run/$file" > "$run.normalised" <<'PY'
import csv, json, sys
path = sys.argv[1]
def strip(x):
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items()
                if k not in ("created", "seconds", "training_seconds", "simulation_seconds", "training_curve.csv")}
    if isinstance(x, list):
        return [strip(v) for v in x]
    return x
if path.endswith(".json"):
    print(json.dumps(strip(json.load(open(path))), sort_keys=True))
elif path.endswith("training_curve.csv"):
    rows = list(csv.reader(open(path)))
    assert rows[0][-1] == "seconds", rows[0]
    for row in rows: print(",".join(row[:-1]))
else:
    sys.stdout.buffer.write(open(path, "rb").read())
PY
    done
    same one.normalised many.normalised "ensemble file $file"
  done < files.txt
  ;;
calibration)
  # sbi diagnose --calibration: the pairs' posterior draws and ranks spread over the ranks in chunks,
  # gathered in pair order: the same report (times and thread counts apart).
  python3 - "$SRC/data/specs/gaussian_linear_2d_test.json" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
spec["inference"] = {"method": "npe", "simulations": 400, "max_epochs": 4, "batch_size": 100}
json.dump(spec, open("npe.json", "w"))
PY
  "$SBI" infer npe.json -o posterior -n 100 --no-check --threads 2 -q >/dev/null
  "$SBI" diagnose posterior --calibration 150 -L 60 --threads 2 -o one -q >/dev/null
  "${WORKERS_ONLY[@]}" "${MPI[@]}" "$SBI" diagnose posterior --calibration 150 -L 60 --threads 1 -o many -q >/dev/null
  for run in one many; do
    report_without_times "$run/calibration.json" > "$run.json"
    grep -v '^| time |' "$run/calibration.md" | sed -E 's/[0-9.]+ s \([0-9]+ simulations\/s\)/(time)/' > "$run.md"
  done
  python3 -c "import json, sys; d = json.load(open('one.json')); sys.exit(0 if d['draws'] == 150 and len(d['per_draw']['tarp_f']) == 150 else 1)" ||
    { echo "FAIL: the report does not cover 150 draws"; exit 1; }
  same one.json many.json "calibration.json (times and thread counts apart)"
  same one.md many.md "calibration.md (its times apart)"
  for file in $(cd one && find . -type f ! -name 'calibration.*' | sort); do same "one/$file" "many/$file" "calibration $file"; done
  # The quick check at the end of sbi infer: the posterior is trained on rank 0 and sent to the
  # workers with the job, which evaluate the draws (rank 0 only schedules: SBI_RANK0_COMPUTES=0).
  "$SBI" infer npe.json -o quick_one -n 100 --threads 2 -q >/dev/null
  SBI_CLUSTER_STATS=1 "${WORKERS_ONLY[@]}" "${MPI[@]}" "$SBI" infer npe.json -o quick_many -n 100 --threads 1 -q >/dev/null 2>quick_stats.txt
  grep -q "job calibration-draws: 300 indices" quick_stats.txt || { echo "FAIL: the quick check's draws did not go over the ranks"; cat quick_stats.txt; exit 1; }
  same quick_one/samples.csv quick_many/samples.csv "infer samples"
  # A one-observation posterior (rejection ABC) checked by re-running the method per simulated
  # observation (--rerun): every rank re-runs it for the observations it is handed.
  python3 -c "import json; s = json.load(open('npe.json')); s['inference'] = {'method': 'rejection', 'simulations': 400}; json.dump(s, open('abc.json', 'w'))"
  "$SBI" infer abc.json -o abc -n 100 --no-check --threads 2 -q >/dev/null
  "$SBI" diagnose abc --calibration 40 -L 50 --rerun --threads 2 -o rerun_one -q >/dev/null
  SBI_CLUSTER_STATS=1 "${WORKERS_ONLY[@]}" "${MPI[@]}" "$SBI" diagnose abc --calibration 40 -L 50 --rerun --threads 1 -o rerun_many -q \
    >/dev/null 2>rerun_stats.txt
  grep -q "job calibration-draws: 40 indices" rerun_stats.txt || { echo "FAIL: the re-runs did not go over the ranks"; cat rerun_stats.txt; exit 1; }
  for run in quick_one quick_many; do report_without_times "$run/calibration/calibration.json" > "$run.json"; done
  for run in rerun_one rerun_many; do report_without_times "$run/calibration.json" > "$run.json"; done
  same quick_one.json quick_many.json "quick check calibration.json (times and thread counts apart)"
  same rerun_one.json rerun_many.json "re-run calibration.json (times and thread counts apart)"
  ;;
*)
  echo "unknown case $CASE"; exit 2
  ;;
esac
