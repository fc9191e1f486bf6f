#!/usr/bin/env bash
# Installs the Debian 12 packages psalm builds with, and only those that are missing; prints
# what it installs, and apt's own error output when apt fails. Idempotent: a second run
# installs nothing. Uses sudo when not run as root. scripts/fresh-check.sh proves in CI that
# this list alone builds and runs the README's commands on a minimal Debian 12 root.
# Usage: scripts/install-deps.sh          install what is missing
#        scripts/install-deps.sh --list   print the package list, one a line, and exit
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config ccache
  libeigen3-dev libfmt-dev libcxxopts-dev catch2 libstb-dev nlohmann-json3-dev
  libopenblas-dev libdnnl-dev libbenchmark-dev libutf8proc-dev zlib1g-dev
  ocl-icd-opencl-dev   # oneDNN's CMake package requires OpenCL; libdnnl-dev only recommends it
  libopenmpi-dev openmpi-bin               # data-parallel training under mpirun (docs/distributed.md)
  clang libclang-rt-14-dev libomp-14-dev   # the fuzz targets (scripts/fuzz.sh)
  clang-format                             # the `format` test (tests/support/check_format.cmake)
  debootstrap zstd                         # the fresh-root check (scripts/fresh-check.sh)
  libcpp-httplib-dev                       # psalm serve's HTTP server (psalm::serve, docs/serve.md)
  chromium chromium-driver                 # psalm serve's browser test (tests/serve/test_browser.cpp)
  doxygen                                  # the API reference and its test `api_docs` (docs/api/README.md)
)

if [ "${1:-}" = --list ]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${#missing[@]} missing package(s) of ${#packages[@]}: ${missing[*]}"
run() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    echo "install-deps: not root and no sudo: run this script as root to install: ${missing[*]}" >&2
    exit 1
  fi
}
# apt prints its own reasons (unreachable mirror, unknown package, conflicts) on stderr; they
# are left visible, and the step that failed is named.
apt_step() {
  local what=$1
  shift
  if ! run env DEBIAN_FRONTEND=noninteractive "$@"; then
    echo "install-deps: '$*' failed while $what (apt's messages above say why)" >&2
    exit 1
  fi
}
apt_step "updating the package lists" apt-get update -q
apt_step "installing ${missing[*]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${missing[*]}"
