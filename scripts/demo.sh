#!/usr/bin/env bash
# Sets up, builds and runs the main job on the built-in default: posterior inference for the
# Lotka–Volterra task (sbibm variant, observation 1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
mkdir -p out
./build/sbi infer data/specs/lotka_volterra.json -o out/lotka_volterra
