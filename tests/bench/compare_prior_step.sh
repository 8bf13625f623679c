#!/bin/sh
# One stage-3 PRIOR training step at the paper preset, ours (build/bench_prior_step) and the PyTorch re-creation of
# the reference (tests/bench/bench_prior_step_torch.py), in f32 and under bf16 autocast, with the same thread count,
# each run twice, interleaved (other processes may share the machine), keeping the better median of each side;
# prints the step times, the ratio ours / PyTorch (below 1: we are faster) and peak RSS.
#
# Usage (from the repository root, after building): tests/bench/compare_prior_step.sh [threads] [steps] [build_dir]
#   threads default 2, steps (timed, after one warm-up) default 3, build_dir default build.
set -e
threads=${1:-2}
steps=${2:-3}
build=${3:-build}
export OMP_NUM_THREADS="$threads"
printf "# stage-3 step, paper preset, batch 4, %s threads, median of %s steps after a warm-up\n" "$threads" "$steps"
printf "%-14s %10s %10s %7s %14s %15s\n" precision ours_s torch_s ratio ours_rss_MiB torch_rss_MiB
for precision in f32 bf16; do
  flag=""
  [ "$precision" = bf16 ] && flag="--bf16"
  o=""; t=""
  for run in 1 2; do
    ours=$("$build/bench_prior_step" paper 4 3 "$steps" "$precision")
    torch=$(python3 tests/bench/bench_prior_step_torch.py --threads "$threads" --steps "$steps" $flag 2>/dev/null)
    o="$o $(echo "$ours" | sed -n 's/.*median \([0-9.]*\) s.*/\1/p')"
    t="$t $(echo "$torch" | sed -n 's/.*median \([0-9.]*\) s.*/\1/p')"
    orss=$(echo "$ours" | sed -n 's/.*peak RSS \([0-9]*\) MiB.*/\1/p')
    trss=$(echo "$torch" | sed -n 's/.*peak RSS \([0-9]*\) MiB.*/\1/p')
  done
  label=$precision
  case "$ours" in *"no native bf16"*) label="bf16 (ours f32)" ;; esac
  echo "$o" "|" "$t" | awk -v p="$label" -v orss="$orss" -v trss="$trss" '
    { split($0, side, "|"); n = split(side[1], a, " "); m = split(side[2], b, " ")
      o = a[1]; for (i = 2; i <= n; i++) if (a[i] < o) o = a[i]
      t = b[1]; for (i = 2; i <= m; i++) if (b[i] < t) t = b[i]
      printf "%-14s %10.2f %10.2f %7.2f %14d %15d\n", p, o, t, o / t, orss, trss }'
done
