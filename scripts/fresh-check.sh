#!/usr/bin/env bash
# The README's first command on a machine that has only what scripts/install-deps.sh installs.
# Builds a minimal Debian 12 root (debootstrap --variant=minbase: the Essential and required
# packages and apt), runs install-deps.sh in it, copies the repository there with nothing beside
# it (no ../shared), runs scripts/demo.sh end to end, installs psalm with
# `cmake --install build/demo --prefix /opt/psalm` and builds and runs tests/consumer against it
# with find_package(psalm) and CMAKE_PREFIX_PATH=/opt/psalm. The root as install-deps.sh left
# it is cached as a tarball keyed on install-deps.sh (its package list) and this recipe, so a
# warm run only unpacks it and builds. docs/testing.md: what it proves, what it costs.
#
# Needs root (chroot, a private mount namespace). Without it, the fallback checks on this machine
# that every file the same commands read (CMake package files, headers, linked libraries) belongs
# to the Depends-only closure of install-deps.sh's list or to Debian's Essential/required set.
#
# Usage: scripts/fresh-check.sh [work-dir]     (default: build/fresh)
# Environment:
#   PSALM_FRESH_MODE    auto (default: chroot when possible, else closure), chroot, closure
#   PSALM_FRESH_CACHE   where the root tarball and downloaded .debs are kept between runs
#                       (default: ${XDG_CACHE_HOME:-$HOME/.cache}/psalm-fresh)
#   PSALM_FRESH_CCACHE  a ccache folder shared with the root (default: this machine's; empty:
#                       none, so everything compiles cold)
#   PSALM_FRESH_MAX_AGE_DAYS  rebuild the cached root when older (default: 7)
#   PSALM_FRESH_MIRROR  Debian mirror (default: http://deb.debian.org/debian)
#   PSALM_FRESH_KEEP    1: keep the unpacked root after a successful run (default: removed)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
work=${1:-build/fresh}
mkdir -p "$work"
work=$(cd "$work" && pwd)
mode=${PSALM_FRESH_MODE:-auto}
mirror=${PSALM_FRESH_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
# What a fresh Debian 12 machine runs the README's first command with, and what is checked after.
demo_commands='scripts/demo.sh'
# The consumer is built with the source tree moved away, so it can use only the installed package,
# whose exported targets must name no path of the machine that built it.
consumer_commands='cmake --install build/demo --prefix /opt/psalm > /tmp/install.log
if grep -n "/usr/\|/src/" /opt/psalm/share/cmake/psalm/psalmTargets*.cmake; then
  echo "the installed targets name paths of the machine that built them (above)"; exit 1
fi
cp -r tests/consumer /tmp/consumer-src && cd / && mv /src/psalm /src/psalm-away
cmake -S /tmp/consumer-src -B /tmp/consumer -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH=/opt/psalm -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
cmake --build /tmp/consumer
/tmp/consumer/consumer
mv /src/psalm-away /src/psalm'

start=$SECONDS
say() { printf 'fresh-check: %s\n' "$*"; }
elapsed() { printf '%dm%02ds' $(((SECONDS - start) / 60)) $(((SECONDS - start) % 60)); }
die() {
  say "FAILED: $*" >&2
  exit 1
}

# ---- chroot mode ------------------------------------------------------------------------------

# in_root ROOT SCRIPT [BIND...]: runs SCRIPT with bash as root inside ROOT, with /proc, /dev and
# every BIND ("host-dir:dir-in-root") mounted in a private mount namespace. The mounts vanish
# with the namespace, so nothing stays mounted under ROOT whatever happens to this script.
in_root() {
  local root=$1 script=$2
  shift 2
  unshare --mount --propagation private -- bash -euc '
    root=$1; script=$2; shift 2
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    for bind in "$@"; do
      mkdir -p "${bind%%:*}" "$root/${bind#*:}"
      mount --bind "${bind%%:*}" "$root/${bind#*:}"
    done
    cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
    exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin CCACHE_DIR=/root/.cache/ccache \
      /bin/bash -euo pipefail -c "$script"
  ' in_root "$root" "$script" "$@"
}

# Removes an unpacked root; refuses if anything is still mounted below it.
remove_root() {
  local root=$1
  [ -e "$root" ] || return 0
  if grep -q " $root/" /proc/self/mounts; then die "$root still has mounts; not removing it"; fi
  rm -rf --one-file-system "$root"
}

chroot_possible() {
  [ "$(id -u)" -eq 0 ] || { why_not="not root"; return 1; }
  command -v debootstrap >/dev/null || { why_not="debootstrap is missing"; return 1; }
  unshare --mount --propagation private -- true 2>/dev/null || { why_not="no mount namespaces here"; return 1; }
  command -v zstd >/dev/null || { why_not="zstd is missing"; return 1; }
}

# The cached root: a minimal Debian 12 plus what install-deps.sh installs, keyed on
# install-deps.sh, the suite, the mirror and this recipe (bump "recipe" when the steps change),
# and rebuilt when older than PSALM_FRESH_MAX_AGE_DAYS, so Debian's updates reach it too.
cached_root() {
  local cache=${PSALM_FRESH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/psalm-fresh}
  local max_age=${PSALM_FRESH_MAX_AGE_DAYS:-7}
  local key
  key=$({ echo "recipe 1 $suite minbase $mirror"; cat scripts/install-deps.sh; } | sha256sum | cut -c1-16)
  mkdir -p "$cache/debs"
  tarball=$cache/root-$key.tar.zst
  if [ -f "$tarball" ] && [ -z "$(find "$tarball" -mtime +"$max_age")" ]; then
    say "using the cached root $tarball"
    return
  fi
  say "no cached root for this install-deps.sh (key $key) younger than $max_age days: building one"
  local base=$work/base
  remove_root "$base"
  say "debootstrap --variant=minbase $suite (log: $work/debootstrap.log)"
  if ! debootstrap --variant=minbase --cache-dir="$cache/debs" "$suite" "$base" "$mirror" \
      > "$work/debootstrap.log" 2>&1; then
    tail -30 "$work/debootstrap.log" >&2
    die "debootstrap failed"
  fi
  # A fresh Debian 12 machine gets its updates and security fixes too.
  cat > "$base/etc/apt/sources.list" <<EOF
deb ${mirror} ${suite} main
deb ${mirror} ${suite}-updates main
deb ${mirror%/debian}/debian-security ${suite}-security main
EOF
  cp scripts/install-deps.sh "$base/root/install-deps.sh"
  say "scripts/install-deps.sh in the fresh root ($(elapsed))"
  in_root "$base" "/root/install-deps.sh && rm /root/install-deps.sh" "$cache/debs:/var/cache/apt/archives" \
    || die "scripts/install-deps.sh failed in a fresh Debian 12 root"
  rm -rf "$base/var/lib/apt/lists/"* "$base/etc/resolv.conf"
  say "packing the root ($(elapsed))"
  rm -f "$cache"/root-*.tar.zst  # one root at a time
  tar -C "$base" --numeric-owner --one-file-system -cpf - . | zstd -q -f -T0 -3 -o "$tarball.tmp"
  mv "$tarball.tmp" "$tarball"
  find "$cache/debs" -name '*.deb' -mtime +30 -delete  # old versions: downloaded again if needed
  remove_root "$base"
}

chroot_check() {
  cached_root
  local root=$work/root
  remove_root "$root"
  mkdir -p "$root"
  say "unpacking the root ($(elapsed))"
  zstd -q -dc "$tarball" | tar -C "$root" --numeric-owner -xpf -
  # The repository as a clone has it (tracked and new files, nothing ignored), alone in /src.
  git rev-parse --git-dir >/dev/null 2>&1 || die "run it from a git checkout (it copies the files git knows)"
  mkdir -p "$root/src/psalm"
  git ls-files -z -co --exclude-standard | tar --null -T - --ignore-failed-read -cf - |
    tar -C "$root/src/psalm" -xf -
  local binds=()
  local ccache_dir=${PSALM_FRESH_CCACHE-$(ccache -k cache_dir 2>/dev/null || true)}
  if [ -n "$ccache_dir" ]; then binds+=("$ccache_dir:/root/.cache/ccache"); fi
  say "in the fresh root, from /src/psalm: $demo_commands ($(elapsed))"
  in_root "$root" "cd /src/psalm && $demo_commands" "${binds[@]}" ||
    die "the README's first command failed in a fresh Debian 12 root that has only what scripts/install-deps.sh installs"
  say "in the fresh root: install psalm and build tests/consumer with find_package(psalm) ($(elapsed))"
  in_root "$root" "cd /src/psalm && set -x && $consumer_commands" "${binds[@]}" ||
    die "a consumer does not build against the installed psalm package in the fresh root"
  if [ "${PSALM_FRESH_KEEP:-0}" != 1 ]; then remove_root "$root"; fi
  say "passed in $(elapsed): the README's first command and a find_package(psalm) consumer work on a fresh Debian 12 root"
}

# ---- closure mode (no chroot) ----------------------------------------------------------------

# Absolute paths of the system files a configured and built CMake tree in $1 read: the CMake
# scripts and package files (build.ninja's re-run inputs), the headers (ninja's deps log), the
# files CMake found (FILEPATH cache entries), and the libraries its links named and its
# programs load.
build_inputs() {
  local b=$1
  ninja -C "$b" -t query build.ninja | awk '$1 == "|" && $2 ~ /^\// {print $2}'
  ninja -C "$b" -t deps | awk '$1 ~ /^\// {print $1}'
  sed -n 's/^[A-Za-z_0-9]*:FILEPATH=\(\/.*\)$/\1/p' "$b/CMakeCache.txt"
  ninja -C "$b" -t commands | grep -v ' -c ' | tr ' ' '\n' | while read -r tok; do
    case "$tok" in
      /*.so | /*.so.* | /*.a) echo "$tok" ;;
      -l*) g++ -print-file-name="lib${tok#-l}.so" ;;
    esac
  done
  find "$b" -type f -perm -u+x -exec ldd {} + 2>/dev/null |
    awk '$2 == "=>" && $3 ~ /^\// {print $3}' || true
}

closure_check() {
  local pkgs required
  mapfile -t pkgs < <(scripts/install-deps.sh --list)
  local b=$work/closure prefix=$work/closure-prefix c=$work/closure-consumer
  say "on this machine: $demo_commands $b ($(elapsed))"
  ${demo_commands} "$b" || die "the README's first command failed on this machine"
  cmake --install "$b" --prefix "$prefix" >/dev/null
  cmake -S tests/consumer -B "$c" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
  cmake --build "$c" >/dev/null && "$c/consumer" >/dev/null || die "the consumer does not build against the installed package"

  say "the Depends-only closure of install-deps.sh's list and of the Essential/required packages ($(elapsed))"
  mapfile -t required < <(dpkg-query -W -f='${Package} ${Essential} ${Priority}\n' |
    awk '$2 == "yes" || $3 == "required" {print $1}')
  declare -A allowed=()
  local p
  while read -r p; do allowed[${p%%:*}]=1; done < <(
    apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
      --no-replaces --no-enhances "${pkgs[@]}" "${required[@]}" | grep -v '^[ <]')

  # Every file, its resolved target and their /usr-merged twins, asked of dpkg in one call.
  local files f
  mapfile -t files < <({ build_inputs "$b"; build_inputs "$c"; } | sort -u |
    grep -v -e "^$top/" -e "^$work/")
  declare -A owners=()
  local line path names
  while IFS= read -r line; do
    path=${line##*: }
    names=${line%: *}
    owners[$path]=${names//,/}
  done < <(for f in "${files[@]}"; do
             for v in "$f" "$(readlink -f "$f")"; do
               echo "$v"
               case "$v" in /usr/lib/* | /usr/bin/* | /usr/sbin/*) echo "${v#/usr}" ;; /lib/* | /bin/* | /sbin/*) echo "/usr$v" ;; esac
             done
           done | sort -u | xargs -r dpkg-query -S 2>/dev/null | grep -v '^diversion' || true)
  # The path as read (a symlink such as libOpenCL.so from a -dev package) and the file it
  # resolves to must both come from allowed packages; paths no package owns (alternatives) pass.
  local bad=() unowned=0 ok v q seen any
  for f in "${files[@]}"; do
    any=""
    for v in "$f" "$(readlink -f "$f")"; do
      ok=0
      seen=""
      for q in "$v" "${v#/usr}" "/usr$v"; do
        [ -n "${owners[$q]:-}" ] || continue
        seen+=" ${owners[$q]}"
        for p in ${owners[$q]}; do if [ -n "${allowed[${p%%:*}]:-}" ]; then ok=1; fi; done
      done
      any+=$seen
      if [ -n "$seen" ] && [ $ok = 0 ]; then bad+=("$v (package${seen})"); fi
    done
    if [ -z "$any" ]; then unowned=$((unowned + 1)); fi
  done
  say "${#files[@]} files read, ${#allowed[@]} packages allowed, $unowned files owned by no package (generated or alternatives)"
  if [ ${#bad[@]} -gt 0 ]; then
    printf '  %s\n' "${bad[@]}" | sort -u >&2
    die "the build reads files from packages that scripts/install-deps.sh does not install (above)"
  fi
  say "passed in $(elapsed) (closure check; the chroot check is the stronger one: $why_not)"
}

# This machine's tools (debootstrap, zstd) come from install-deps.sh itself.
scripts/install-deps.sh
why_not=""
case "$mode" in
  chroot) chroot_possible || die "no chroot possible: $why_not"; chroot_check ;;
  closure) why_not="PSALM_FRESH_MODE=closure"; closure_check ;;
  auto)
    if chroot_possible; then
      chroot_check
    else
      say "no fresh root possible here ($why_not): falling back to the dependency-closure check," \
        "which misses what only a fresh machine shows (run as root for the real check)"
      closure_check
    fi
    ;;
  *) die "PSALM_FRESH_MODE must be auto, chroot or closure, got '$mode'" ;;
esac
