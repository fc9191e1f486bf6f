#!/usr/bin/env bash
# Installs what is missing, builds the examples and runs the main job. Until the
# segmentation model lands, the main job is the most complete example: examples/tour.cpp.
# Usage: scripts/demo.sh [build-dir]     (default: build/demo)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/demo}

scripts/install-deps.sh
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPSALM_BUILD_TESTS=OFF \
  -DPSALM_BUILD_BENCHMARKS=OFF -DPSALM_BUILD_TOOLS=OFF -DPSALM_BUILD_EXAMPLES=ON -DPSALM_WITH_CUDA=OFF
cmake --build "$build" -j "$(nproc)" --target example_tour
"$build/examples/example_tour" "$@"
