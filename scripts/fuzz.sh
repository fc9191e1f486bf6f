#!/usr/bin/env bash
# Builds every libFuzzer target in tests/fuzz/ with clang (ASan + UBSan) and runs each for a
# fixed time on a seed corpus from tests/fixtures. A crash, leak or sanitizer report fails the run.
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
       -I include -I /usr/include/stb -I /usr/include/eigen3
       "-DPSALM_GPT2_DIR=\"$PWD/third_party/gpt2-bpe\"")  # fuzz_tokenizer's vocabulary

corpus_for() {  # target name -> seed corpus folders
  case "$1" in
    fuzz_safetensors) echo tests/fixtures/safetensors tests/fixtures/malformed/safetensors ;;
    fuzz_image) echo tests/fixtures/image tests/fixtures/malformed/image ;;
    fuzz_config) echo tests/fixtures/malformed/config ;;
    fuzz_safetensors_index) echo tests/fixtures/malformed/index ;;
    fuzz_pickle|fuzz_torch_zip) echo tests/fixtures/checkpoints tests/fixtures/malformed/checkpoints ;;
    fuzz_coco_instances|fuzz_coco_panoptic|fuzz_referring|fuzz_coco_interactive)
      echo tests/fixtures/malformed/datasets tests/fixtures/data_readers/tiny ;;
    fuzz_tiff_labels) echo tests/fixtures/data_readers/tiny/semantic/labels_tif ;;
    *) echo "" ;;
  esac
}

# Seeds that are not single files in tests/fixtures, written into the corpus folder $2.
tokenizer_files=(vocab.json merges.txt tokenizer.json added_tokens.json special_tokens_map.json
                 tokenizer_config.json)  # the order of tests/fuzz/fuzz_tokenizer_files.cpp
extra_seeds() {
  case "$1" in
    fuzz_safetensors_index)  # a valid index over the shards the target writes at start-up
      printf '%s' '{"metadata": {"total_size": 32}, "weight_map": {'\
'"a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors", '\
'"c": "model-00002-of-00002.safetensors", "d": "sub/inner.safetensors"}}' > "$2/seed_valid.json"
      ;;
    fuzz_tokenizer_files)  # each tokenizer folder as one input: mask byte, NUL-separated files
      for dir in tests/fixtures/malformed/tokenizer/*/; do
        local seed mask=0 i
        seed="$2/seed_$(basename "$dir")"
        for i in "${!tokenizer_files[@]}"; do
          if [ -f "$dir/${tokenizer_files[$i]}" ]; then mask=$((mask | (1 << i))); fi
        done
        { printf "\\$(printf '%03o' "$mask")"
          for i in "${!tokenizer_files[@]}"; do
            if [ "$i" -gt 0 ]; then printf '\0'; fi
            if [ -f "$dir/${tokenizer_files[$i]}" ]; then cat "$dir/${tokenizer_files[$i]}"; fi
          done; } > "$seed"
      done
      ;;
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
  extra_seeds "$name" "$corpus"
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
