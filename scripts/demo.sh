#!/usr/bin/env bash
# Sets up, builds and runs the main job on the built-in default: posterior inference for the
# Lotka–Volterra task (sbibm variant, observation 1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
# Only the program the main job runs (the tests take most of a full build; scripts/test.sh builds them).
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target sbi_cli
mkdir -p out
./build/sbi infer data/specs/lotka_volterra.json -o out/lotka_volterra --force
