#!/usr/bin/env bash
# Installs the Debian packages sbi++ builds with (skips apt-get when all are present).
set -euo pipefail
#   bash scripts/deps.sh          # the C++ library and the sbi program (scripts/demo.sh)
#   bash scripts/deps.sh python   # also the Python package sbipp (python/): python3-dev python3-numpy
#                                 # pybind11-dev, and python3-pytest python3-matplotlib for its tests and
#                                 # corner plots (scripts/build.sh, test.sh and python.sh; without them the
#                                 # CMake build simply skips the package)
# OpenMPI: the MPI backend (`mpirun -np K sbi simulate ...`) and its tests; the build works without it.
packages=(g++ cmake make libeigen3-dev libboost-dev libboost-program-options-dev
          nlohmann-json3-dev catch2 gnuplot-nox libopenmpi-dev openmpi-bin)
if [ "${1:-}" = "python" ]; then
  packages+=(python3-dev python3-numpy pybind11-dev python3-pytest python3-matplotlib)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  echo "[sbi++] installing: ${missing[*]}" >&2
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
