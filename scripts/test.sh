#!/usr/bin/env bash
# Sets up, builds and runs the test suite (fast tests; the slow statistical ones: scripts/test.sh slow).
# The suite includes the Python package's pytest tests (ctest label "python"); scripts/deps.sh installs
# what they need, so here their absence is an error rather than a silent skip.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
python_tests=$(ctest --test-dir build -N -L python)
if ! grep -q "Total Tests: [1-9]" <<<"$python_tests"; then
  echo "[sbi++] the Python tests are not registered: see the sbipp lines of \`cmake -S . -B build\` (python3-dev, python3-numpy, pybind11-dev, python3-pytest)" >&2
  exit 1
fi
if [ "${1:-}" = "slow" ]; then
  ctest --test-dir build -L slow --output-on-failure
else
  ctest --test-dir build -LE slow -j "$(nproc)" --output-on-failure
fi
