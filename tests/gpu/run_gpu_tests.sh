#!/usr/bin/env bash
# Everything that needs a GPU, in one run of a few minutes:
#   1. build libprior with the CUDA backend in a fresh build folder (Release, sm_90 unless CUDA_ARCH says);
#   2. the device checks of test_cuda_absent (build info, device count, autocast switch);
#   3. the parity suite tests/gpu/gpu_parity.c (every op with a CUDA kernel, CPU vs GPU, forward and
#      backward, contiguous and strided inputs, guarded outputs, random fills, bf16 autocast);
#   4. the same suite's quick pass under compute-sanitizer memcheck, when the toolkit has it;
#   5. the benchmark tests/gpu/gpu_bench.c (achieved TFLOP/s and TB/s against the H200's peaks);
#   6. the whole C unit-test suite in the CUDA build (a GPU present must not change CPU results).
# The log, the parity report and the benchmark table go to $OUT (default ./gpu-out). Exit status: 0 when
# every step passed, 1 otherwise; the last lines say which steps failed.
#
#   OUT=/tmp/gpu-out tests/gpu/run_gpu_tests.sh
#   CUDA_ARCH="80;90" SKIP_UNIT=1 SKIP_MEMCHECK=1 tests/gpu/run_gpu_tests.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-./gpu-out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
log="$OUT/run.log"
: >"$log"
exec > >(tee -a "$log") 2>&1

build=${BUILD_DIR:-$root/build-gpu}
arch=${CUDA_ARCH:-90}
jobs=$(nproc 2>/dev/null || echo 4)
failed=()

step() { echo; echo "== $(date -u +%H:%M:%S) $*"; }
die() { echo "run_gpu_tests: $*" >&2; exit 1; }

step "machine"
export PATH="/usr/local/cuda/bin:$PATH"
command -v nvcc >/dev/null || die "nvcc not found (looked in PATH and /usr/local/cuda/bin): install the CUDA toolkit"
nvcc --version | tail -1
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv || true
else
  echo "nvidia-smi not found: the driver may be missing"
fi
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"

step "configure and build (fresh $build, CMAKE_CUDA_ARCHITECTURES=$arch)"
rm -rf "$build"
if ! cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DPRIOR_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" \
     >"$OUT/configure.log" 2>&1; then
  tail -30 "$OUT/configure.log"
  die "cmake configure failed (full log: $OUT/configure.log). The build also needs oneDNN, LuaJIT, libturbojpeg
and readline (scripts/install-deps.sh installs them where a package mirror is reachable)."
fi
grep -E "CUDA backend" "$OUT/configure.log" || die "configure did not enable the CUDA backend (see $OUT/configure.log)"
cmake --build "$build" -j"$jobs" --target prior gpu_parity gpu_bench test_cuda_absent >"$OUT/build.log" 2>&1 ||
  { tail -40 "$OUT/build.log"; die "build failed (full log: $OUT/build.log)"; }
echo "built: $(grep -c 'Building' "$OUT/build.log") objects"

step "device checks"
if "$build/test_cuda_absent"; then :; else failed+=("device checks"); fi

step "parity suite"
set +e
timeout 900 "$build/gpu_parity" >"$OUT/parity.txt" 2>&1
parity=$?
set -e
grep -E "^(FAIL|skip)" "$OUT/parity.txt" || true
tail -2 "$OUT/parity.txt"
case $parity in
  0) ;;
  2) failed+=("parity (no CUDA device found)") ;;
  124) failed+=("parity (timed out)") ;;
  *) failed+=("parity (exit $parity; details in $OUT/parity.txt)") ;;
esac

step "memcheck (quick parity under compute-sanitizer)"
if [ "${SKIP_MEMCHECK:-0}" = 1 ]; then
  echo "skipped (SKIP_MEMCHECK=1)"
elif command -v compute-sanitizer >/dev/null; then
  set +e
  timeout 600 compute-sanitizer --tool memcheck --leak-check no --error-exitcode 3 "$build/gpu_parity" --quick \
    >"$OUT/memcheck.txt" 2>&1
  mc=$?
  set -e
  tail -3 "$OUT/memcheck.txt"
  [ $mc -eq 0 ] || failed+=("memcheck (exit $mc; details in $OUT/memcheck.txt)")
else
  echo "compute-sanitizer not in the toolkit: skipped"
fi

step "benchmark"
set +e
timeout 600 "$build/gpu_bench" "$OUT/bench.md" >"$OUT/bench.txt" 2>&1
bench=$?
set -e
cat "$OUT/bench.txt"
[ $bench -eq 0 ] || failed+=("benchmark (exit $bench)")

step "C unit tests in the CUDA build"
if [ "${SKIP_UNIT:-0}" = 1 ]; then
  echo "skipped (SKIP_UNIT=1)"
elif cmake --build "$build" -j"$jobs" >>"$OUT/build.log" 2>&1; then
  set +e
  (cd "$build" && OMP_NUM_THREADS=4 timeout 600 ctest -L c -j"$jobs" --output-on-failure >"$OUT/ctest.txt" 2>&1)
  ct=$?
  set -e
  tail -5 "$OUT/ctest.txt"
  [ $ct -eq 0 ] || failed+=("C unit tests (details in $OUT/ctest.txt)")
else
  tail -20 "$OUT/build.log"
  failed+=("building the unit tests")
fi

step "summary"
echo "log: $log"
echo "parity: $(tail -1 "$OUT/parity.txt" 2>/dev/null)"
[ -f "$OUT/bench.md" ] && { echo "benchmark table ($OUT/bench.md):"; cat "$OUT/bench.md"; }
if [ ${#failed[@]} -eq 0 ]; then
  echo "run_gpu_tests: all steps passed"
  exit 0
fi
echo "run_gpu_tests: FAILED: ${failed[*]}"
exit 1
