#!/usr/bin/env bash
# Network training throughput, sbi++ against PyTorch, side by side in one run (bench/RESULTS.md).
# Usage: bench/nn/run.sh [steps]   (from the repository root; builds build-bench with -march=native)
set -euo pipefail
cd "$(dirname "$0")/../.."
steps="${1:-1000}"
torch_script="${TORCH_BENCH:-$(pwd)/../shared/bench/torch_mlp_bench.py}"
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DSBI_NATIVE=ON -DSBI_BUILD_TESTS=OFF -DSBI_BUILD_APPS=OFF >/dev/null
cmake --build build-bench -j2 --target nn_mlp_bench >/dev/null 2>&1
echo "machine: $(nproc) cores, $(lscpu | grep 'Model name' | sed 's/Model name: *//'), $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-6s %14s %14s %8s %12s %12s %8s\n' W sbi++_samples/s torch_samples/s ratio sbi_GFLOP/s GEMM_peak %peak
for w in 32 128 512; do
  ours=$(./build-bench/bench/nn_mlp_bench --hidden "$w" --threads 1 --activation elu --steps "$steps" | tail -1)
  theirs=$(/usr/bin/python3 "$torch_script" --hidden "$w" --threads 1 --activation elu --steps "$steps" | tail -1)
  /usr/bin/python3 - "$w" "$ours" "$theirs" <<'PY'
import json, sys
w, ours, theirs = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
a, b = ours["samples_per_s_median"], theirs["samples_per_s_median"]
print(f'{w:<6} {a:14.0f} {b:14.0f} {a/b:8.2f} {ours["achieved_gflops"]:12.1f} {ours["gemm_peak_gflops"]:12.1f} '
      f'{100*ours["achieved_gflops"]/ours["gemm_peak_gflops"]:7.0f}%')
PY
done
