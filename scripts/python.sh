#!/usr/bin/env bash
# Installs the Python package sbipp in one command: the Debian packages (scripts/deps.sh), the build of
# the package (build/python/sbipp) and its installation into the site-packages of the system
# interpreter /usr/bin/python3 (the one Debian's python3-numpy belongs to). Afterwards
# `python3 -c "import sbipp"` works from any folder. Nothing is downloaded beyond Debian packages.
#
#   bash scripts/python.sh              # install
#   bash scripts/python.sh --build-only # build only; then use PYTHONPATH=build/python
# DESTDIR=/some/root bash scripts/python.sh installs under that root instead (packaging, tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh python
python=/usr/bin/python3
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSBI_PYTHON=ON -DPython3_EXECUTABLE="$python" >/dev/null
cmake --build build -j "$(nproc)" --target sbipp
if [ "${1:-}" = "--build-only" ]; then
  echo "[sbi++] built build/python/sbipp; use it with PYTHONPATH=$PWD/build/python $python" >&2
  exit 0
fi
cmake --install build --component python
if [ -z "${DESTDIR:-}" ]; then
  (cd / && "$python" -c "import sbipp; print('[sbi++] sbipp', sbipp.__version__, 'installed:', sbipp.__file__)" >&2)
fi
