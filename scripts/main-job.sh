#!/usr/bin/env bash
# The main job: set-up, build, then run it on the built-in data.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/build.sh" "$root/build"
cd "$root"
exec "$root/build/prior" scripts/demo.lua "$@"
