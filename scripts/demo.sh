#!/usr/bin/env bash
# The README's first command: installs what is missing, builds the psalm program and runs the main
# job, `psalm segment` with the shipped tiny model (models/psalm-tiny) on a shipped scene
# (examples/data/scene.png) and a referring sentence, and prints where the overlay is.
# Usage: scripts/demo.sh [build-dir]     (default: build/demo; the answer goes to <build-dir>/segment)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/demo}

scripts/install-deps.sh
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPSALM_BUILD_TESTS=OFF \
  -DPSALM_BUILD_BENCHMARKS=OFF -DPSALM_BUILD_TOOLS=ON -DPSALM_BUILD_EXAMPLES=OFF -DPSALM_WITH_CUDA=OFF
cmake --build "$build" -j "$(nproc)" --target psalm_cli
"$build/tools/psalm" segment examples/data/scene.png --text "the large blue square with dots" \
  --out "$build/segment" --overwrite
echo "every task and output file: $build/tools/psalm segment --help, docs/cli.md"
