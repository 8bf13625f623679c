"""PyTorch counterpart of tests/bench/bench_dense.c: the same rows (SGEMM sizes, each distinct ResNet-50 conv
shape at batch 16, 224 x 224, conv1 with 1 input channel), the same timing method (one untimed warm-up, then
the median of R timed runs: 9 for GEMM, 5 for conv, 3 for conv passes over 3 GFLOP) and the same output
format (see the comment at the top of bench_dense.c). Conv passes are timed separately through
torch.ops.aten.convolution_backward with an output mask, which is what autograd calls.

Usage: python3 tests/bench/bench_dense_torch.py [--threads N] [--roof GFLOPS] [--section gemm|conv|op|all] [--reps R]
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

RESNET50 = [  # layer, cin, cout, h, k, stride, count (as in bench_dense.c)
    ("conv1", 1, 64, 224, 7, 2, 1),
    ("layer1", 64, 64, 56, 1, 1, 1), ("layer1", 64, 64, 56, 3, 1, 3), ("layer1", 64, 256, 56, 1, 1, 4),
    ("layer1", 256, 64, 56, 1, 1, 2),
    ("layer2", 256, 128, 56, 1, 1, 1), ("layer2", 128, 128, 56, 3, 2, 1), ("layer2", 128, 512, 28, 1, 1, 4),
    ("layer2", 256, 512, 56, 1, 2, 1), ("layer2", 512, 128, 28, 1, 1, 3), ("layer2", 128, 128, 28, 3, 1, 3),
    ("layer3", 512, 256, 28, 1, 1, 1), ("layer3", 256, 256, 28, 3, 2, 1), ("layer3", 256, 1024, 14, 1, 1, 6),
    ("layer3", 512, 1024, 28, 1, 2, 1), ("layer3", 1024, 256, 14, 1, 1, 5), ("layer3", 256, 256, 14, 3, 1, 5),
    ("layer4", 1024, 512, 14, 1, 1, 1), ("layer4", 512, 512, 14, 3, 2, 1), ("layer4", 512, 2048, 7, 1, 1, 3),
    ("layer4", 1024, 2048, 14, 1, 2, 1), ("layer4", 2048, 512, 7, 1, 1, 2), ("layer4", 512, 512, 7, 3, 1, 2),
]


def median_ms(fn, reps):
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def row(kind, name, count, f, d, w, total, gf, roof):
    fmt = lambda v: "-" if v is None else "%.3f" % v
    print("%-5s %-28s %5d %9s %9s %9s %10.3f %8.1f %7.1f" % (kind, name, count, fmt(f), fmt(d), fmt(w), total, gf,
                                                           100 * gf / roof), flush=True)


def bench_gemm(name, m, n, k, reps, roof, linear=False, batch=1):
    flop = 2.0 * batch * m * n * k
    reps = reps or (25 if flop < 1e9 else 9)
    if linear:  # x [8, 256, 768] through F.linear, as the model's projections
        x, w = torch.rand(8, m // 8, k) * 2 - 1, torch.rand(n, k) * 2 - 1
        fn = lambda: F.linear(x, w)
    elif batch > 1:
        a, b, c = torch.rand(batch, m, k) * 2 - 1, torch.rand(batch, k, n) * 2 - 1, torch.empty(batch, m, n)
        fn = lambda: torch.bmm(a, b, out=c)
    else:
        a, b, c = torch.rand(m, k) * 2 - 1, torch.rand(k, n) * 2 - 1, torch.empty(m, n)
        fn = lambda: torch.mm(a, b, out=c)
    ms = median_ms(fn, reps)
    row("gemm", name, 1, None, None, None, ms, flop / ms * 1e-6, roof)


def bench_conv(layer, cin, cout, h, k, stride, count, batch, reps, roof):
    pad = k // 2
    oh = (h + 2 * pad - k) // stride + 1
    x = torch.rand(batch, cin, h, h) * 2 - 1
    w = torch.rand(cout, cin, k, k) * 2 - 1
    gy = torch.rand(batch, cout, oh, oh) * 2 - 1
    pass_flop = 2.0 * batch * cout * oh * oh * cin * k * k
    reps = reps or (3 if pass_flop > 3e9 else 5)
    args = ([stride, stride], [pad, pad], [1, 1], False, [0, 0], 1)
    bwd = torch.ops.aten.convolution_backward
    f = median_ms(lambda: F.conv2d(x, w, None, stride, pad), reps)
    need_data = cin > 1
    d = median_ms(lambda: bwd(gy, x, w, None, *args, [True, False, False]), reps) if need_data else None
    wt = median_ms(lambda: bwd(gy, x, w, None, *args, [False, True, False]), reps)
    total = f + (d or 0) + wt
    gf = pass_flop * (2 + need_data) / total * 1e-6
    row("conv", "%s_%dx%ds%d_%d-%d_%d" % (layer, k, k, stride, cin, cout, h), count, f, d, wt, total, gf, roof)
    return total * count


def op_row(name, f, b):
    print("%-5s %-28s %5d %9.3f %9.3f %9s %10.3f %8s %7s" % ("op", name, 1, f, b, "-", f + b, "-", "-"), flush=True)


def bench_ops(reps):
    reps = reps or 5
    x, gy = torch.rand(16, 64, 112, 112) * 2 - 1, torch.rand(16, 64, 56, 56) * 2 - 1
    y, idx = torch.ops.aten.max_pool2d_with_indices(x, [3, 3], [2, 2], [1, 1])
    bwd = torch.ops.aten.max_pool2d_with_indices_backward
    op_row("maxpool_3x3s2_64_112", median_ms(lambda: torch.ops.aten.max_pool2d_with_indices(x, [3, 3], [2, 2], [1, 1]), reps),
           median_ms(lambda: bwd(gy, x, [3, 3], [2, 2], [1, 1], [1, 1], False, idx), reps))
    gy = torch.rand(16, 64, 112, 112) * 2 - 1
    w, b, rm, rv = torch.rand(64), torch.rand(64), torch.rand(64), torch.ones(64)
    out, sm, si = torch.ops.aten.native_batch_norm(x, w, b, rm, rv, True, 0.1, 1e-5)
    op_row("batchnorm_train_64_112", median_ms(lambda: torch.ops.aten.native_batch_norm(x, w, b, rm, rv, True, 0.1, 1e-5), reps),
           median_ms(lambda: torch.ops.aten.native_batch_norm_backward(gy, x, w, rm, rv, sm, si, True, 1e-5,
                                                                       [True, True, True]), reps))
    x, gy = torch.rand(16, 2048, 7, 7) * 2 - 1, torch.rand(16, 2048, 1, 1) * 2 - 1
    op_row("avgpool_global_2048_7", median_ms(lambda: F.adaptive_avg_pool2d(x, 1), reps),
           median_ms(lambda: torch.ops.aten._adaptive_avg_pool2d_backward(gy, x), reps))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--roof", type=float, default=470.0)
    p.add_argument("--section", default="all", choices=["gemm", "conv", "op", "all"])
    p.add_argument("--reps", type=int, default=0)
    a = p.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    threads = torch.get_num_threads()
    roof = a.roof * threads / 2.0
    torch.manual_seed(0)
    print("# bench_dense_torch (PyTorch %s, mkldnn %s) threads=%d roof=%.0f GFLOP/s" %
          (torch.__version__, torch.backends.mkldnn.is_available(), threads, roof))
    print("# kind  name                         count    fwd_ms   bwdd_ms   bwdw_ms   total_ms   gflops  %roof")
    with torch.no_grad():
        if a.section in ("all", "gemm"):
            for s in (256, 512, 1024, 2048):
                bench_gemm("%dx%dx%d" % (s, s, s), s, s, s, a.reps, roof)
            bench_gemm("linear_8x256x768x768", 8 * 256, 768, 768, a.reps, roof, linear=True)
            bench_gemm("bmm_96x197x64x197", 197, 197, 64, a.reps, roof, batch=96)
        if a.section in ("all", "conv"):
            t0 = time.perf_counter()
            net = sum(bench_conv(*s, batch=16, reps=a.reps, roof=roof) for s in RESNET50)
            print("# conv network total (all ResNet-50 convs, one fwd+bwd step, batch 16): %.1f ms; bench wall %.1f s" %
                  (net, time.perf_counter() - t0))
        if a.section in ("all", "op"):
            bench_ops(a.reps)


if __name__ == "__main__":
    main()
