#!/usr/bin/env bash
# Network training throughput in one run (bench/RESULTS.md, "Neural-network training throughput"):
# the default build (run-time kernel dispatch; also pinned to the portable kernels), the
# -DSBI_NATIVE=ON build, and PyTorch on one core, width by width, interleaved so that all see the
# same machine load; then end-to-end training (`sbi infer bench/nn/lfvi_end_to_end.json`) in both
# builds.
#
# Usage: bench/nn/run.sh [steps] [widths]     (from anywhere; default 500 steps, widths 32 64 128 256 512)
#
# Figures are samples per CPU second (the process's CPU time) as well as per wall second: on a
# machine shared with other jobs the wall time also counts the time slices the scheduler gives them.
# PyTorch runs the shared script unchanged through bench/nn/torch_cpu_time.py (CPU time) with
# OPENBLAS_NUM_THREADS=1: torch.set_num_threads(1) does not limit Debian's OpenBLAS, which
# otherwise multiplies on both cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
steps="${1:-500}"
widths="${2:-32 64 128 256 512}"
torch_script="${TORCH_BENCH:-$(pwd)/../shared/bench/torch_mlp_bench.py}"
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(cd .. && pwd)}"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
for config in "build-bench OFF" "build-bench-native ON"; do
  set -- $config
  cmake -S . -B "$1" -DCMAKE_BUILD_TYPE=Release -DSBI_NATIVE="$2" -DSBI_BUILD_TESTS=OFF -DSBI_BUILD_APPS=ON \
    "${launcher[@]}" >/dev/null
  cmake --build "$1" -j2 --target nn_mlp_bench sbi_cli >/dev/null
done
load() { cut -d' ' -f1 /proc/loadavg; }
echo "machine: $(nproc) cores, $(lscpu | grep 'Model name' | sed 's/Model name: *//'), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "default build kernels: $(build-bench/sbi --version | sed -n 's/network kernels: //p')"
echo "steps $steps, batch 256, one thread; samples per CPU second (wall in brackets), load = 1-min load average"
printf '%-4s %20s %20s %20s %10s %8s %8s %8s %6s\n' W default native default_portable torch def/nat def/torch nat/torch load
for w in $widths; do
  l0=$(load)
  default=$(build-bench/bench/nn_mlp_bench --hidden "$w" --threads 1 --activation elu --steps "$steps" | tail -1)
  native=$(build-bench-native/bench/nn_mlp_bench --hidden "$w" --threads 1 --activation elu --steps "$steps" | tail -1)
  portable=$(build-bench/bench/nn_mlp_bench --hidden "$w" --threads 1 --activation elu --steps "$steps" --kernels portable | tail -1)
  torch=$(OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 /usr/bin/python3 bench/nn/torch_cpu_time.py "$torch_script" \
          --hidden "$w" --threads 1 --activation elu --steps "$steps" | tail -1)
  l1=$(load)
  /usr/bin/python3 - "$w" "$default" "$native" "$portable" "$torch" "$l0-$l1" <<'PY'
import json, sys
w, d, n, p, t, load = sys.argv[1], *map(json.loads, sys.argv[2:6]), sys.argv[6]
cell = lambda r: f'{r["samples_per_cpu_s_median"]:.0f} [{r["samples_per_s_median"]:.0f}]'
cpu = lambda r: r["samples_per_cpu_s_median"]
torch = t["samples_per_s_median"]  # CPU-time based through torch_cpu_time.py
print(f'{w:<4} {cell(d):>20} {cell(n):>20} {cell(p):>20} {torch:10.0f} {cpu(d)/cpu(n):8.2f} {cpu(d)/torch:8.2f} '
      f'{cpu(n)/torch:8.2f} {load:>6}')
print("  json", json.dumps({"width": w, "default": d, "native": n, "default_portable": p, "torch_cpu_time": t, "load": load}))
PY
done
echo "end to end: sbi infer bench/nn/lfvi_end_to_end.json (300 LFVI generator steps, 3x128 networks), CPU seconds (user+sys), 3 runs each, interleaved"
for run in 1 2 3; do
  for build in build-bench build-bench-native; do
    out=$(mktemp -d)
    /usr/bin/time -f "%U %S %e" -o "$out/time" "$build/sbi" infer bench/nn/lfvi_end_to_end.json -o "$out/posterior" --threads 1 -q >/dev/null
    read -r user sys wall <"$out/time"
    echo "  run $run $build: cpu $(echo "$user + $sys" | bc) s, wall $wall s, load $(load)"
    rm -rf "$out"
  done
done
