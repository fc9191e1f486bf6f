#!/usr/bin/env bash
# Regenerates the committed test fixtures (tests/fixtures/...) from the independent references:
# every tools/reference/*_fixtures.py plus malformed_safetensors.py, run from the repository
# root with the pinned venv (tools/reference/README.md). CI never runs this.
# Usage: tools/reference/regenerate.sh [--list] [NAME ...]
#   NAME: a script name with or without .py (default: all of them); --list prints them only.
#   synthetic_check (tests/fixtures/synthetic/pycocotools_check.json) needs the C++ exporter of a
#   build: PSALM_BUILD_DIR=build/ci adds it to "all", or name it with PSALM_BUILD_DIR set.
# Afterwards `git status tests/fixtures` shows what changed: with unchanged scripts and the pinned
# versions, nothing should.
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${PSALM_REFERENCE_PYTHON:-tools/reference/.venv/bin/python}

list_only=0
names=()
for arg in "$@"; do
  case "$arg" in
    --list) list_only=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) names+=("${arg%.py}") ;;
  esac
done
if [ ${#names[@]} -eq 0 ]; then
  for f in tools/reference/*_fixtures.py tools/reference/malformed_safetensors.py; do
    names+=("$(basename "$f" .py)")
  done
  if [ -n "${PSALM_BUILD_DIR:-}" ]; then names+=(synthetic_check); fi
fi

if [ "$list_only" = 1 ]; then
  printf '%s\n' "${names[@]}"
  exit 0
fi
if [ ! -x "$python" ]; then
  echo "regenerate: $python not found; create the venv first (tools/reference/README.md)" >&2
  exit 1
fi

export PYTHONHASHSEED=0 OMP_NUM_THREADS=1
status=0
for name in "${names[@]}"; do
  if [ "$name" = synthetic_check ]; then
    # The C++ exporter writes a small synthetic dataset; pycocotools reads it back.
    if [ -z "${PSALM_BUILD_DIR:-}" ]; then
      echo "regenerate: synthetic_check needs PSALM_BUILD_DIR (a build with tests/test_data)" >&2
      status=1
      continue
    fi
    echo "regenerate: synthetic_check (exporting with $PSALM_BUILD_DIR/tests/test_data)"
    export_dir=$(mktemp -d)
    if ! PSALM_SYNTH_EXPORT_DIR="$export_dir" "$PSALM_BUILD_DIR/tests/test_data" \
           "[.synthetic_export]" >/dev/null ||
       ! "$python" tools/reference/synthetic_check.py "$export_dir" \
           tests/fixtures/synthetic/pycocotools_check.json; then
      echo "regenerate: synthetic_check FAILED" >&2
      status=1
    fi
    rm -rf "$export_dir"
    continue
  fi
  script=tools/reference/$name.py
  if [ ! -f "$script" ]; then
    echo "regenerate: no $script" >&2
    status=1
    continue
  fi
  echo "regenerate: $name"
  if ! "$python" "$script"; then
    echo "regenerate: $name FAILED" >&2
    status=1
  fi
done

exit $status
