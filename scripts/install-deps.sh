#!/usr/bin/env bash
# Installs the Debian packages prior needs to build, test and plot. Safe to run any number of times:
# apt-get skips what is already installed, and the package index is refreshed only when it is missing or stale.
set -euo pipefail

packages=(
  cmake build-essential pkg-config
  libdnnl-dev                         # oneDNN: CPU convolution, matmul, batch norm, pooling
  luajit libluajit-5.1-dev            # the embedded interpreter and its FFI
  libreadline-dev                     # REPL line editing and history
  libturbojpeg0-dev                   # JPEG decoding (scaled) and encoding
  gnuplot-nox                         # figures
  libopenmpi-dev openmpi-bin          # multi-process CPU training
  tmux                                # the REPL test drives a real terminal
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
stamp=/var/lib/apt/periodic/update-success-stamp
lists_age=$(( $(date +%s) - $(stat -c %Y /var/lib/apt/lists 2>/dev/null || echo 0) ))
if [ ! -e "$stamp" ] || [ "$lists_age" -gt 86400 ] || [ -z "$(ls /var/lib/apt/lists 2>/dev/null | grep -v lock)" ]; then
  $SUDO apt-get update -qq
fi
echo "install-deps: installing ${missing[*]}"
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
