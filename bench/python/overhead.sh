#!/usr/bin/env bash
# Cost of calling sbi++ from Python over the CLI on the same job: `sbi infer SPEC` against
# infer_spec.py (sbipp.infer of the same spec, save, sample, write the samples), alternating, REPEATS
# times each; prints the wall times, the ratio of the means, and checks that both made the same
# posterior (draws for the same seed, bit for bit).
#
#   bash bench/python/overhead.sh [SPEC] [REPEATS]     # default: the README's main job, 1 repeat
# Needs the build (build/sbi and build/python/sbipp). Record `uptime` beside the figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
spec=${1:-data/specs/lotka_volterra.json}
repeats=${2:-1}
python=/usr/bin/python3
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ms() { echo $(( $(date +%s%N) / 1000000 )); }
cli_total=0
python_total=0
for i in $(seq "$repeats"); do
  uptime
  start=$(ms)
  ./build/sbi infer "$spec" -o "$out/cli$i" --quiet >/dev/null
  cli=$(( $(ms) - start ))
  start=$(ms)
  PYTHONPATH=build/python "$python" bench/python/infer_spec.py "$spec" "$out/python$i"
  py=$(( $(ms) - start ))
  echo "run $i: cli ${cli} ms, python ${py} ms"
  cli_total=$(( cli_total + cli ))
  python_total=$(( python_total + py ))
done
uptime
"$python" -c "print(f'python / cli = {$python_total / $cli_total:.4f}')"
PYTHONPATH=build/python "$python" - "$spec" "$out/cli1" "$out/python1" <<'PY'
import sys, numpy as np, sbipp
observation = sbipp.load_spec(sys.argv[1]).observation
a, b = (sbipp.load_posterior(p).sample(observation, 1000, seed=5) for p in sys.argv[2:4])
print("same posterior:", np.array_equal(a, b))
PY
