"""Compares prior's t-SNE (tests/bench/bench_tsne.c) with scikit-learn's and openTSNE's on the same data.

usage: OMP_NUM_THREADS=2 python3 tests/bench/bench_tsne_py.py [--bench build/bench_tsne] [--out runs/bench_tsne]

Writes the data sets to binary files (int64 rows, int64 cols, float64 row-major) that the C benchmark
reads, runs every implementation with perplexity 30, 1000 iterations (250 exaggerated), PCA init and
Barnes-Hut (theta 0.5), and prints time, final KL divergence and trustworthiness (k = 10).
"""
import argparse
import os
import re
import subprocess
import time

import numpy as np
from sklearn.datasets import make_blobs
from sklearn.manifold import TSNE, trustworthiness


def write_matrix(path, a):
    a = np.ascontiguousarray(a, dtype=np.float64)
    with open(path, "wb") as f:
        f.write(np.array(a.shape, dtype=np.int64).tobytes())
        f.write(a.tobytes())


def read_matrix(path):
    with open(path, "rb") as f:
        rows, cols = np.frombuffer(f.read(16), dtype=np.int64)
        return np.frombuffer(f.read(), dtype=np.float64).reshape(rows, cols)


def datasets():
    x1, _ = make_blobs(n_samples=2000, n_features=50, centers=10, cluster_std=2.0, random_state=0)
    # Embedding-like: 1000 points in 768-D, 8 overlapping clusters of unequal spread.
    x2, _ = make_blobs(n_samples=1000, n_features=768, centers=8, cluster_std=[2, 3, 4, 2.5, 3.5, 4.5, 3, 2],
                       center_box=(-6, 6), random_state=1)
    return {"blobs2000x50": x1, "blobs1000x768": x2}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", default="build/bench_tsne")
    ap.add_argument("--out", default="runs/bench_tsne")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    threads = os.environ.get("OMP_NUM_THREADS", "(unset)")
    print(f"threads: OMP_NUM_THREADS={threads} for every implementation")
    try:
        import openTSNE
    except ImportError:
        openTSNE = None
    for name, x in datasets().items():
        data_path = os.path.join(args.out, name + ".bin")
        out_path = os.path.join(args.out, name + ".prior.bin")
        write_matrix(data_path, x)
        rows = []
        for _ in range(args.repeat):
            t = time.time()
            res = subprocess.run([args.bench, data_path, out_path, "30", "1000", "pca", "bh"],
                                 capture_output=True, text=True, check=True)
            wall = time.time() - t
            kl = float(re.search(r"kl=([0-9.]+)", res.stdout).group(1))
            inner = float(re.search(r"time=([0-9.]+)", res.stdout).group(1))
            y = read_matrix(out_path)
            rows.append(("prior", inner, wall, kl, trustworthiness(x, y, n_neighbors=10)))
        for _ in range(args.repeat):
            t = time.time()
            ts = TSNE(n_components=2, perplexity=30, max_iter=1000, init="pca", method="barnes_hut",
                      angle=0.5, learning_rate="auto", random_state=0)
            y = ts.fit_transform(x)
            wall = time.time() - t
            rows.append(("sklearn", wall, wall, ts.kl_divergence_, trustworthiness(x, y, n_neighbors=10)))
        if openTSNE is not None:
            for method in ("bh", "fft"):
                t = time.time()
                emb = openTSNE.TSNE(n_components=2, perplexity=30, early_exaggeration_iter=250,
                                    early_exaggeration=12, n_iter=750, initialization="pca",
                                    negative_gradient_method=method, theta=0.5,
                                    n_jobs=int(os.environ.get("OMP_NUM_THREADS", "1")),
                                    random_state=0).fit(x)
                wall = time.time() - t
                y = np.asarray(emb)
                rows.append((f"openTSNE-{method}", wall, wall, emb.kl_divergence,
                             trustworthiness(x, y, n_neighbors=10)))
        print(f"\n{name} [{x.shape[0]} x {x.shape[1]}]")
        print(f"{'implementation':16s} {'time s':>8s} {'wall s':>8s} {'KL':>8s} {'trust@10':>9s}")
        for r in rows:
            print(f"{r[0]:16s} {r[1]:8.3f} {r[2]:8.3f} {r[3]:8.4f} {r[4]:9.4f}")
        sk = [r for r in rows if r[0] == "sklearn"]
        ours = [r for r in rows if r[0] == "prior"]
        sk_t, our_t = min(r[1] for r in sk), min(r[1] for r in ours)
        print(f"speed-up over sklearn: {sk_t / our_t:.1f}x (wall, incl. process start: {min(r[2] for r in sk) / min(r[2] for r in ours):.1f}x); "
              f"KL ratio prior/sklearn {ours[0][3] / sk[0][3]:.3f}; "
              f"trustworthiness prior - sklearn {ours[0][4] - sk[0][4]:+.4f}")


if __name__ == "__main__":
    main()
