#!/usr/bin/env bash
# Sets up, builds and runs the main job on the built-in default: the Lotka–Volterra task
# (sbibm variant, observation 1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
mkdir -p out
./build/sbi simulate data/specs/lotka_volterra.json -n 10000 -o out/lotka_volterra_table.csv --force
