#!/usr/bin/env bash
# Installs the system packages (if missing), configures and builds prior.
#   scripts/build.sh [build-dir] [extra cmake args...]
# Default build dir: build (RelWithDebInfo). Safe to run any number of times.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${1:-$root/build}
shift || true
bash "$root/scripts/install-deps.sh"
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE="${PRIOR_BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
