#!/usr/bin/env bash
# Installs dependencies and builds sbi++ (Release) into build/, the Python package sbipp included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh python  # the full build includes the Python package and its tests
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)"
