#!/usr/bin/env bash
# The sanitizer stage of CI: builds the test executables of the layers that parse outside input
# and the layers they rest on, plus the `psalm` program, with AddressSanitizer +
# UndefinedBehaviorSanitizer (PSALM_SANITIZE=ON, -O0 -g1, assertions on), and runs their CTest
# entries. Any report stops the test that made it and fails the stage: ASan halts on the first
# error, UBSan is built with -fno-sanitize-recover, leaks count as errors.
# Usage: scripts/sanitize.sh [build-dir]     (default: build/sanitize)
# Environment:
#   PSALM_SANITIZE_LAYERS  test executables to build and run (default below; "all" = every
#                          tests/<layer>/ folder, which costs about as much again as CI's
#                          Release build per layer added)
#   PSALM_SANITIZE_CLI     1 (default): also the `psalm` program and its tests/cli tests
#                          (the cli_* CTest entries and test_cli)
#   PSALM_JOBS             parallel compile and test jobs (default: nproc)
# docs/testing.md explains the choice of layers and flags, and how to run one test by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/sanitize}
layers=${PSALM_SANITIZE_LAYERS:-core kernels tensor io eval data nn}
with_cli=${PSALM_SANITIZE_CLI:-1}
jobs=${PSALM_JOBS:-$(nproc)}

if [ "$layers" = all ]; then
  layers=""
  for dir in tests/*/; do
    layer=$(basename "$dir")
    case "$layer" in consumer|cuda|cli|fixtures|fuzz|support) continue ;; esac
    if compgen -G "$dir/test_*.cpp" >/dev/null; then layers+=" $layer"; fi
  done
fi

# -O0: under ASan it compiles in 0.45x the time of -O1 and 0.3x of -O2 (and about 0.9x the
# Release build's -O3 without sanitizers); compile time is what this stage costs, the tests run
# in about a CPU-minute. -g1: line tables for symbolised reports. No -DNDEBUG: asserts stay on.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O0 -g1" -DPSALM_SANITIZE=ON -DPSALM_WITH_CUDA=OFF \
  -DPSALM_BUILD_TESTS=ON -DPSALM_BUILD_TOOLS="$([ "$with_cli" = 1 ] && echo ON || echo OFF)" \
  -DPSALM_BUILD_BENCHMARKS=OFF -DPSALM_BUILD_EXAMPLES=OFF >/dev/null

targets=()
regex=""
for layer in $layers; do
  targets+=("test_$layer")
  regex+="${regex:+|}$layer"
done
if [ "$with_cli" = 1 ]; then
  targets+=(psalm_cli test_cli)  # test_cli: the cli_end_to_end test, which runs psalm
  regex+="${regex:+|}cli_.*"
fi
echo "sanitize: building ${targets[*]} with ASan + UBSan in $build"
cmake --build "$build" -j "$jobs" --target "${targets[@]}"

# halt_on_error / -fno-sanitize-recover: the first report fails the test. exitcode 86 tells a
# sanitizer failure apart from the CLI's own exit codes (0, 1, 2) in tests/cli.
asan=halt_on_error=1:exitcode=86:detect_leaks=1:detect_stack_use_after_return=1
asan+=:strict_string_checks=1:check_initialization_order=1:strict_init_order=1
export ASAN_OPTIONS="$asan:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:exitcode=86:print_stacktrace=1:${UBSAN_OPTIONS:-}"
# OpenMP threads stay few: each sanitized thread carries large shadow and fake stacks.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
ctest --test-dir "$build" -R "^($regex)\$" --output-on-failure --timeout 900 -j "$jobs"
