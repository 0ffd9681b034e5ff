#!/usr/bin/env bash
# MPI scaling of `sbi simulate` (and SMC-ABC) on this machine: bench/mpi/RESULTS.md.
#   bash bench/mpi/run.sh [build-dir]
# 1. Lotka–Volterra (built-in, C++), 1 thread per rank: alone vs mpirun -np 2.
# 2. A latency-bound external simulator (tests/mpi/flaky_sim.py sleeping 20 ms per call, one worker
#    process per rank) at 1, 2, 4, 8, 16 ranks, oversubscribed (sleeping needs no core).
# 3. SMC-ABC on the same simulator, 1 and 8 ranks (wall clock, mpirun start included).
# 4. The scheduler's cost per chunk (build/bench/mpi_chunk_overhead) with 1 and 3 workers.
# Speed-ups compare simulations per second from the run's own summary (mpirun's start-up excluded).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build}
SBI=$BUILD/sbi
MPI=(mpirun --oversubscribe --allow-run-as-root)
export OMPI_MCA_btl_vader_single_copy_mechanism=none
cmake --build "$BUILD" --target sbi_cli mpi_chunk_overhead -j2 >/dev/null
WORK=$(mktemp -d /tmp/sbi_mpi_bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores; $(uptime | sed 's/.*load/load/')"

rate() { sed -n 's/.*(\([0-9]*\) simulations\/s).*/\1/p' "$1" | head -1; }
seconds() { sed -n 's/.*; \([0-9.]*\) s (.*/\1/p' "$1" | head -1; }

if [[ -z ${SKIP_LV:-} ]]; then
echo "## Lotka–Volterra, 1 thread per rank"
N_LV=${N_LV:-100000}
"$SBI" simulate "$ROOT/data/specs/lotka_volterra.json" -n "$N_LV" -o "$WORK/lv1.sbt" --threads 1 -q >"$WORK/lv1.out"
"${MPI[@]}" -np 2 "$SBI" simulate "$ROOT/data/specs/lotka_volterra.json" -n "$N_LV" -o "$WORK/lv2.sbt" --threads 1 -q >"$WORK/lv2.out"
cmp -s "$WORK/lv1.sbt" "$WORK/lv2.sbt" && same=identical || same=DIFFERENT
r1=$(rate "$WORK/lv1.out") r2=$(rate "$WORK/lv2.out")
echo "1 rank: $(seconds "$WORK/lv1.out") s, $r1 sim/s; 2 ranks: $(seconds "$WORK/lv2.out") s, $r2 sim/s; speed-up $(python3 -c "print(f'{$r2/$r1:.2f}')")x; tables $same"
echo "load: $(uptime | sed 's/.*load average: //')"
fi

echo "## External simulator, 20 ms per call, 1 worker process per rank"
python3 - "$ROOT/tests/mpi/flaky.json" "$ROOT/tests/mpi/flaky_sim.py" "$WORK/slow.json" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
spec["simulator"]["command"] = ["python3", sys.argv[2]]
json.dump(spec, open(sys.argv[3], "w"))
PY
export FLAKY_SLEEP_MS=20
PER_RANK=${PER_RANK:-300}
base=""
for k in 1 2 4 8 16; do
  n=$((PER_RANK * k))
  if [[ $k == 1 ]]; then
    "$SBI" simulate "$WORK/slow.json" -n $n -o "$WORK/ext$k.sbt" -q >"$WORK/ext$k.out"
  else
    SBI_CLUSTER_STATS=1 "${MPI[@]}" -np $k "$SBI" simulate "$WORK/slow.json" -n $n -o "$WORK/ext$k.sbt" -q >"$WORK/ext$k.out" 2>"$WORK/ext$k.err"
  fi
  r=$(rate "$WORK/ext$k.out")
  [[ -z $base ]] && base=$r
  chunks=$( { sed -n 's/.* in \([0-9]*\) chunks.*/\1/p' "$WORK/ext$k.err" 2>/dev/null || true; } | head -1)
  echo "$k ranks: $n simulations in $(seconds "$WORK/ext$k.out") s, $r sim/s, speed-up $(python3 -c "print(f'{$r/$base:.2f}')")x (target $(python3 -c "print(0.9*$k)")), ${chunks:-1} chunks; load $(uptime | sed 's/.*load average: //')"
  if [[ $k -ge 2 ]]; then
    # Control: k independent single-process runs of PER_RANK simulations at once (no MPI) — what
    # k copies of the simulator reach on this machine at this load; their rates add up.
    for i in $(seq 1 $k); do "$SBI" simulate "$WORK/slow.json" -n $PER_RANK --seed $((100 + i)) -o "$WORK/ind$i.sbt" --force -q >"$WORK/ind$i.out" & done
    wait
    total=$(for i in $(seq 1 $k); do rate "$WORK/ind$i.out"; done | paste -sd+ | bc)
    echo "   control, $k independent processes at once: $total sim/s together; the MPI run reached $(python3 -c "print(f'{$r/$total:.2f}')") of it"
  fi
done

echo "## SMC-ABC on the 20 ms simulator (wall clock incl. mpirun and worker start-up)"
for k in 1 8; do
  start=$(date +%s.%N)
  if [[ $k == 1 ]]; then
    "$SBI" abc "$WORK/slow.json" --method smc --budget 1600 --population 200 -n 200 -o "$WORK/smc$k" -q >/dev/null
  else
    "${MPI[@]}" -np $k "$SBI" abc "$WORK/slow.json" --method smc --budget 1600 --population 200 -n 200 -o "$WORK/smc$k" -q >/dev/null
  fi
  end=$(date +%s.%N)
  echo "$k ranks: $(python3 -c "print(f'{$end-$start:.2f}')") s wall"
done
cmp -s "$WORK/smc1/samples.csv" "$WORK/smc8/samples.csv" && echo "SMC samples identical" || echo "SMC samples DIFFERENT"
unset FLAKY_SLEEP_MS

echo "## Scheduler cost per chunk (no work, 1-index chunks)"
"${MPI[@]}" -np 2 "$BUILD/bench/mpi_chunk_overhead" 5000 0
"${MPI[@]}" -np 4 "$BUILD/bench/mpi_chunk_overhead" 5000 0
"${MPI[@]}" -np 2 "$BUILD/bench/mpi_chunk_overhead" 2000 65536
echo "load at the end: $(uptime | sed 's/.*load average: //')"
