#!/usr/bin/env bash
# Installs the Debian packages sbi++ builds with (skips apt-get when all are present).
set -euo pipefail
packages=(g++ cmake make libeigen3-dev libboost-dev libboost-program-options-dev
          nlohmann-json3-dev catch2 gnuplot-nox)
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
