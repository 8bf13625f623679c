"""One stage-3 PRIOR training step at the paper preset in PyTorch on CPU: the reference side of the step benchmark.

usage: python3 tests/bench/bench_prior_step_torch.py --threads 2 [--batch 4] [--warmup 1] [--steps 3] [--bf16]

The model is tests/fixtures/prior/prior_reference.py with paper_config(): ResNet50 on 1x224x224, BioClinicalBERT
sizes (vocab 28996, hidden 768, 12 layers, 12 heads, FFN 3072), 512 prototypes, 16 queries, 6 decoder layers,
reports padded to 256 tokens, float32. A step is: forward of every stage-3 loss term (fresh Gumbel noise and
channel-dropout mask), backward of the total, Adam (lr 1e-5, weight decay 1e-6) update. Prints the median step
time over --steps after --warmup steps, and the process's peak resident set size (getrusage ru_maxrss: the whole
process, Python and libtorch included, which is what the machine has to hold).
--profile prints torch.profiler's table of one more step (self CPU time per op), to see where the time goes.
--flops counts the floating-point operations of one more step's forward and backward with
torch.utils.flop_counter.FlopCounterMode (matmuls and convolutions, 2 per multiply-add), and the time that work
takes at a given rate: the lower bound any implementation pays for the dense work alone.
--bf16 runs the forward under torch.autocast("cpu", dtype=torch.bfloat16): matmuls and convolutions with bf16
operands, master weights and optimizer in float32 (the counterpart of prior's autocast).
"""
import contextlib
import argparse
import os
import resource
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "prior"))
import prior_reference as pr  # noqa: E402

CLS, SEP, PAD = 101, 102, 0


def make_batch(batch, length, vocab, gen):
    """Reports laid out as build/bench_prior_step lays them out (report_layout there): report b has
    8 + (5b + 3) % 7 sentences, its sentence j 8 + (7b + 5j) % 13 tokens (8-20), after [CLS] and before [SEP],
    padded to length; a sentence that would not fit ends the report. Token ids are random."""
    ids = torch.full((batch, length), PAD, dtype=torch.int64)
    mask = torch.zeros((batch, length), dtype=torch.int64)
    sidx = torch.full((batch, length), -1, dtype=torch.int64)
    for b in range(batch):
        pos = 1
        ids[b, 0] = CLS
        for j in range(8 + (5 * b + 3) % 7):
            n = 8 + (7 * b + 5 * j) % 13
            if pos + n >= length - 1:
                break
            ids[b, pos: pos + n] = torch.randint(1000, vocab, (n,), generator=gen)
            sidx[b, pos: pos + n] = j + 1
            pos += n
        ids[b, pos] = SEP
        mask[b, : pos + 1] = 1
    return ids, mask, sidx


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--length", type=int, default=256)
    ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--flops", action="store_true")
    ap.add_argument("--roof", type=float, default=470.0, help="GFLOP/s the machine's fp32 GEMM reaches (for --flops)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    cfg = pr.paper_config()
    model = pr.Prior(cfg).train()
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=1e-5, weight_decay=1e-6)
    gen = torch.Generator().manual_seed(1)
    ids, mask, sidx = make_batch(args.batch, args.length, cfg["vocab"], gen)
    images = torch.randn((args.batch, 1, cfg["image_size"], cfg["image_size"]), generator=gen)
    m = int(sidx.max())
    k, q, d = cfg["num_prototypes"], cfg["num_queries"], cfg["hidden"]
    times = []
    for i in range(args.warmup + args.steps + (1 if args.profile or args.flops else 0)):
        profiling = args.profile and i == args.warmup + args.steps
        counting = args.flops and i == args.warmup + args.steps
        if counting:
            from torch.utils.flop_counter import FlopCounterMode
            counter = FlopCounterMode(display=False)
            counter.__enter__()
        if profiling:
            from torch.profiler import profile, ProfilerActivity
            prof = profile(activities=[ProfilerActivity.CPU])
            prof.__enter__()
        t0 = time.perf_counter()
        g = -torch.log(-torch.log(torch.rand(args.batch, m, k).clamp(1e-10, 1 - 1e-10)))
        g_gpa = -torch.log(-torch.log(torch.rand(args.batch, q, k).clamp(1e-10, 1 - 1e-10)))
        channel_mask = (torch.rand(args.batch, d) >= 0.5).float() * 2.0
        opt.zero_grad(set_to_none=True)
        autocast = torch.autocast("cpu", dtype=torch.bfloat16) if args.bf16 else contextlib.nullcontext()
        with autocast:
            losses = model.step(images, ids, mask, sidx, 3, tau=0.9, gumbel=g, gumbel_gpa=g_gpa,
                                ccr_channel_mask=channel_mask)
        losses["total"].backward()
        if counting:
            counter.__exit__(None, None, None)
            flops = counter.get_total_flops()
            by_op = sorted(((int(n), str(op)) for op, n in counter.get_flop_counts()["Global"].items()), reverse=True)
            print("one step's forward + backward: %.1f GFLOP (%s); at %.0f GFLOP/s that alone takes %.2f s"
                  % (flops / 1e9, ", ".join("%s %.1f" % (op, n / 1e9) for n, op in by_op), args.roof,
                     flops / 1e9 / args.roof))
        opt.step()
        dt = time.perf_counter() - t0
        if counting:
            continue
        if profiling:
            prof.__exit__(None, None, None)
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
            continue
        if i >= args.warmup:
            times.append(dt)
        print("  step %d: %.2f s, total loss %.4f%s" % (i, dt, losses["total"].item(), " (warm-up)" if i < args.warmup else ""),
              file=sys.stderr)
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB
    print("prior stage-3 step, PyTorch %s reference (%s), paper preset (%.1fM parameters), batch %d, %d threads: "
          "median %.2f s over %d steps (min %.2f, max %.2f), peak RSS %.0f MiB"
          % (torch.__version__, "bf16 autocast" if args.bf16 else "f32", n_params / 1e6, args.batch, args.threads, statistics.median(times), len(times),
             min(times), max(times), rss_mib))


if __name__ == "__main__":
    main()
