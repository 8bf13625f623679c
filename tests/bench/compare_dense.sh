#!/bin/sh
# Runs bench_dense (prior) and bench_dense_torch.py (PyTorch) with the same thread count, each twice and
# interleaved (other processes may share the machine), keeps for every row the better of the two medians,
# and prints them side by side with the ratio ours / PyTorch (below 1: we are faster).
#
# Usage (from the repository root, after building): tests/bench/compare_dense.sh [threads] [build_dir] [section]
#   threads    default 2; section: all (default), gemm or conv; build_dir default build.
# Columns: kind name count ours_ms torch_ms ratio ours_gflops torch_gflops ours_%roof, where ms is the GEMM time
# or the conv fwd + bwd-data + bwd-weights time (see tests/bench/bench_dense.c).
set -e
threads=${1:-2}
build=${2:-build}
section=${3:-all}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS="$threads"
for run in 1 2; do
  "$build/bench_dense" --threads "$threads" --section "$section" > "$tmp/ours$run"
  python3 tests/bench/bench_dense_torch.py --threads "$threads" --section "$section" > "$tmp/torch$run"
done
head -n 1 "$tmp/ours1"
head -n 1 "$tmp/torch1"
awk -v threads="$threads" '
  function num(v) { return v == "-" ? "-" : sprintf("%.1f", v) }
  /^#/ { next }
  {
    side = FILENAME ~ /ours/ ? "ours" : "torch"
    key = $1 " " $2
    if (!(key in seen)) { seen[key] = 1; order[n++] = key; count[key] = $3 }
    if (!((side, key) in best) || $7 < best[side, key]) { best[side, key] = $7; gf[side, key] = $8; pct[side, key] = $9 }
  }
  END {
    printf "# threads=%d; each ms is the better of two medians\n", threads
    printf "%-5s %-28s %5s %10s %10s %7s %11s %12s %10s\n", "kind", "name", "count", "ours_ms", "torch_ms", "ratio",
           "ours_gflops", "torch_gflops", "ours_%roof"
    for (i = 0; i < n; i++) {
      k = order[i]; split(k, parts, " ")
      o = best["ours", k]; t = best["torch", k]
      printf "%-5s %-28s %5d %10.3f %10.3f %7.2f %11s %12s %10s\n", parts[1], parts[2], count[k], o, t, o / t,
             num(gf["ours", k]), num(gf["torch", k]), num(pct["ours", k])
      if (parts[1] == "conv") { net_o += count[k] * o; net_t += count[k] * t }
    }
    if (net_t > 0)
      printf "# ResNet-50 convs, one fwd+bwd step at batch 16 (rows weighted by count): ours %.1f ms, PyTorch %.1f ms, ratio %.2f\n",
             net_o, net_t, net_o / net_t
  }' "$tmp/ours1" "$tmp/ours2" "$tmp/torch1" "$tmp/torch2"
