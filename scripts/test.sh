#!/usr/bin/env bash
# Sets up, builds and runs the test suite.
#   scripts/test.sh            the fast tests (Release build in build/)
#   scripts/test.sh slow       the slow statistical tests and the long fuzzing run
#   scripts/test.sh sanitize   the fast tests built with AddressSanitizer + UndefinedBehaviorSanitizer
#                              in build-sanitize/ (any report fails the run)
# The fast and slow suites include the Python package's pytest tests (ctest label "python"):
# scripts/build.sh installs what they need, so here their absence is an error, not a silent skip.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-fast}"
if [ "$mode" = "sanitize" ]; then
  bash scripts/deps.sh
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # -O1 keeps the build and the run quick enough for the whole fast suite; float-cast-overflow is
  # not part of GCC's -fsanitize=undefined. Every report is an error (-fno-sanitize-recover).
  flags="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all"
  cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Sanitize "${launcher[@]}" \
    -DCMAKE_CXX_FLAGS_SANITIZE="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS_SANITIZE="-fsanitize=address,undefined,float-cast-overflow" \
    -DCMAKE_SHARED_LINKER_FLAGS_SANITIZE="-fsanitize=address,undefined,float-cast-overflow" \
    -DSBI_BUILD_BENCH=OFF -DSBI_PYTHON=OFF `# the interpreter is not instrumented: no sanitized Python module` \
    -DSBI_MPI=OFF >/dev/null  # OpenMPI's own allocations would be reported as leaks; this also builds the one-process backend
  cmake --build build-sanitize -j "$(nproc)"
  # allocator_may_return_null: a refused huge allocation is std::bad_alloc (a test failure), not an
  # abort. detect_leaks: the run also fails on memory leaks.
  export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:strict_string_checks=1:detect_stack_use_after_return=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  ctest --test-dir build-sanitize -LE slow -j "$(nproc)" --output-on-failure
  exit
fi
bash scripts/build.sh
python_tests=$(ctest --test-dir build -N -L python)
if ! grep -q "Total Tests: [1-9]" <<<"$python_tests"; then
  echo "[sbi++] the Python tests are not registered: see the sbipp lines of \`cmake -S . -B build\` (python3-dev, python3-numpy, pybind11-dev, python3-pytest)" >&2
  exit 1
fi
if [ "$mode" = "slow" ]; then
  ctest --test-dir build -L slow --output-on-failure
else
  ctest --test-dir build -LE slow -j "$(nproc)" --output-on-failure
fi
