#!/usr/bin/env bash
# Simulator throughput benchmark (issue 2, item 14): one command, run from anywhere.
#
#   bench/simulators/run.sh
#
# 1. builds sbi_simulator_bench (Release) in $BUILD_DIR if needed;
# 2. simulations/s of every built-in simulator at 1 and 2 threads (sbi::simulate_from_prior);
# 3. lotka_volterra vs SciPy (solve_ivp RK45, /usr/bin/python3) one simulation at a time on the same
#    $LV_DRAWS prior draws, then the side-by-side table with the ratios and targets.
#
# Settings (environment): BUILD_DIR (default build-bench), OUT_DIR (default $BUILD_DIR/simbench),
# SECONDS_PER_RUN (2), REPEATS (3), LV_DRAWS (500), LV_SEED (1), SCIPY_TIME_LIMIT (2 s per simulation),
# SCIPY_LIMIT_CLOCK (cpu | wall; default cpu), SKIP_THROUGHPUT=1 to run only the Lotka-Volterra part.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"
BUILD_DIR="${BUILD_DIR:-build-bench}"
OUT_DIR="${OUT_DIR:-$BUILD_DIR/simbench}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-2}"
REPEATS="${REPEATS:-3}"
LV_DRAWS="${LV_DRAWS:-500}"
LV_SEED="${LV_SEED:-1}"
SCIPY_TIME_LIMIT="${SCIPY_TIME_LIMIT:-2}"
SCIPY_LIMIT_CLOCK="${SCIPY_LIMIT_CLOCK:-cpu}"
PYTHON=/usr/bin/python3

if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DSBI_BUILD_TESTS=OFF -DSBI_BUILD_APPS=OFF
fi
cmake --build "$BUILD_DIR" -j2 --target sbi_simulator_bench
BIN="$BUILD_DIR/bench/simulators/sbi_simulator_bench"
mkdir -p "$OUT_DIR"

echo "== machine"
lscpu | grep 'Model name' || true
echo "nproc: $(nproc)"
date -u
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
$PYTHON -c 'import sys, numpy, scipy; print("python", sys.version.split()[0], "numpy", numpy.__version__, "scipy", scipy.__version__)'

if [ "${SKIP_THROUGHPUT:-0}" != 1 ]; then
  echo
  echo "== simulations/s, every built-in simulator, default prior (simulate_from_prior; median of $REPEATS, best in brackets)"
  "$BIN" throughput --seconds "$SECONDS_PER_RUN" --repeats "$REPEATS" --threads 1,2 --json "$OUT_DIR/throughput.json"
fi

echo
echo "== lotka_volterra: sbi++ vs SciPy on the same $LV_DRAWS prior draws"
"$BIN" lv-draws --n "$LV_DRAWS" --seed "$LV_SEED" --out "$OUT_DIR/lv_draws.csv"
"$BIN" lv-times --draws "$OUT_DIR/lv_draws.csv" --repeats "$((REPEATS > 3 ? REPEATS : 3))" --seconds "$SECONDS_PER_RUN" \
  --per-sim "$OUT_DIR/lv_cpp_per_sim.csv" --solutions "$OUT_DIR/lv_cpp_solutions.csv" --json "$OUT_DIR/lv_cpp.json"
$PYTHON "$HERE/lv_scipy.py" --draws "$OUT_DIR/lv_draws.csv" --time-limit "$SCIPY_TIME_LIMIT" \
  --limit-clock "$SCIPY_LIMIT_CLOCK" --per-sim "$OUT_DIR/lv_scipy_per_sim.csv" \
  --solutions "$OUT_DIR/lv_scipy_solutions.csv" --json "$OUT_DIR/lv_scipy.json"
echo
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
$PYTHON "$HERE/compare.py" "$OUT_DIR"
