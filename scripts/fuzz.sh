#!/usr/bin/env bash
# Builds every libFuzzer target in tests/fuzz/ with clang (ASan + UBSan) and runs each for a
# fixed time on a seed corpus from tests/data. A crash, leak or sanitizer report fails the run.
# Usage: scripts/fuzz.sh [seconds-per-target] [build-dir]     (defaults: 20, build/fuzz)
# Longer runs: scripts/fuzz.sh 600. FUZZ_SEED (default 1) fixes libFuzzer's random choices and
# FUZZ_RUNS (default unlimited) caps the inputs per target: with both fixed, a run explores the
# same inputs on every machine (CI uses that, so its verdict does not depend on machine speed).
# FUZZ_ONLY="fuzz_image fuzz_rle" runs only the targets named. docs/testing.md has more.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
out=${2:-build/fuzz}
mkdir -p "$out"
cxx=${FUZZ_CXX:-clang++}
if ! command -v "$cxx" >/dev/null; then
  echo "fuzz: $cxx not found (scripts/install-deps.sh installs clang)" >&2
  exit 1
fi
flags=(-std=c++20 -g -O1 -fopenmp -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -I include -I /usr/include/stb -I /usr/include/eigen3)

corpus_for() {  # target name -> seed corpus folders
  case "$1" in
    fuzz_safetensors) echo tests/data/safetensors tests/data/malformed/safetensors ;;
    fuzz_image) echo tests/data/image tests/data/malformed/image ;;
    fuzz_config) echo tests/data/malformed/config ;;
    *) echo "" ;;
  esac
}

status=0
for src in tests/fuzz/fuzz_*.cpp; do
  name=$(basename "$src" .cpp)
  if [ -n "${FUZZ_ONLY:-}" ] && [[ " $FUZZ_ONLY " != *" $name "* ]]; then continue; fi
  echo "fuzz: building $name"
  "$cxx" "${flags[@]}" "$src" -o "$out/$name" -lutf8proc -lz
  corpus="$out/corpus_$name"
  mkdir -p "$corpus"
  for seed in $(corpus_for "$name"); do
    [ -d "$seed" ] && find "$seed" -maxdepth 1 -type f -size -64k -exec cp -n {} "$corpus/" \;
  done
  runs_var="FUZZ_RUNS_${name}"  # a per-target cap, e.g. FUZZ_RUNS_fuzz_image=15000
  runs=${!runs_var:-${FUZZ_RUNS:--1}}
  echo "fuzz: running $name for ${seconds}s (at most $runs inputs; -1: no cap)"
  if ! (cd "$out" && "./$name" -seed="${FUZZ_SEED:-1}" -runs="$runs" -max_total_time="$seconds" -max_len=8192 -rss_limit_mb=2048 \
        -print_final_stats=0 "corpus_$name" > "$name.log" 2>&1); then
    echo "fuzz: $name FAILED; last lines of $out/$name.log:" >&2
    tail -30 "$out/$name.log" >&2
    status=1
  else
    tail -1 "$out/$name.log"
  fi
done
exit $status
