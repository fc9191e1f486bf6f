#!/usr/bin/env bash
# Installs what is missing, builds everything (library checks, tests, benchmarks, tools,
# examples; CUDA sources too when nvcc exists), runs the whole test suite with CTest, runs the
# input-handling layers' tests again under ASan + UBSan, then a short fuzzing pass over every
# parser (docs/testing.md).
# Usage: scripts/test.sh [build-dir]     (default: build/ci)
# Local switches: PSALM_CI_SANITIZE=0 skips the sanitizer stage, PSALM_CI_FUZZ=0 the fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/ci}

scripts/install-deps.sh
jobs=$(nproc)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DPSALM_BUILD_TESTS=ON -DPSALM_BUILD_BENCHMARKS=ON -DPSALM_BUILD_TOOLS=ON -DPSALM_BUILD_EXAMPLES=ON
cmake --build "$build" -j "$jobs"
# The GPU test returns 77 (skipped) where no CUDA device exists.
ctest --test-dir "$build" --output-on-failure -j "$jobs"
# The test executables of the layers that parse outside input (and those they rest on) plus the
# psalm program, rebuilt with ASan + UBSan; any report fails. Selection and cost: docs/testing.md.
if [ "${PSALM_CI_SANITIZE:-1}" != 0 ]; then
  PSALM_JOBS=$jobs scripts/sanitize.sh "$build/sanitize"
fi
# Every parser under libFuzzer with ASan + UBSan: a fixed seed and a fixed number of inputs per
# target (100000; 15000 for the slower image decoders), at most 20 s each, so the verdict does
# not depend on machine speed. Longer exploration: scripts/fuzz.sh 600.
if [ "${PSALM_CI_FUZZ:-1}" != 0 ]; then
  FUZZ_RUNS=${PSALM_FUZZ_RUNS:-100000} FUZZ_RUNS_fuzz_image=${PSALM_FUZZ_IMAGE_RUNS:-15000} \
    scripts/fuzz.sh "${PSALM_FUZZ_SECONDS:-20}" "$build/fuzz"
fi
