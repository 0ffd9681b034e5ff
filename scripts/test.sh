#!/usr/bin/env bash
# Sets up, builds and runs the test suite (fast tests; the slow statistical ones: scripts/test.sh slow).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
if [ "${1:-}" = "slow" ]; then
  ctest --test-dir build -L slow --output-on-failure
else
  ctest --test-dir build -LE slow -j "$(nproc)" --output-on-failure
fi
