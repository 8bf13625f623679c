#!/usr/bin/env bash
# The main job: set-up, build, then PRIOR pre-training of the tiny preset on the built-in synthetic set (generated
# on first use under data/synthetic), followed by zero-shot classification and retrieval. Extra arguments go to
# scripts/pretrain.lua.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/build.sh" "$root/build"
cd "$root"
exec "$root/build/prior" scripts/pretrain.lua "$@"
