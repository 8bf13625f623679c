#!/usr/bin/env python3
"""Hugging Face tokenizers on the reports of bench_tokenizer.c, in the same output format.

    build/bench_tokenizer VOCAB 10000 --write /tmp/reports.txt
    python3 tests/bench/bench_tokenizer_hf.py VOCAB /tmp/reports.txt [--threads N]

Measures the Rust ("fast") BertTokenizer's batch call on the joined reports (ids and attention mask, padded and
truncated to 256), the same plus the per-sentence batch call that a sentence index needs (what the PRIOR reference
does per report), and the Python ("slow") tokenizer on a subset. The fast tokenizer runs on --threads threads
(default 1, to compare with the single-threaded C numbers).
"""
import argparse
import os
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vocab")
    ap.add_argument("reports")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--slow-subset", type=int, default=1000)
    args = ap.parse_args()
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)  # read by the Rust thread pool when it starts
    os.environ["TOKENIZERS_PARALLELISM"] = "true" if args.threads > 1 else "false"

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "tokenizer"))
    from make_tokenizer_fixtures import make_tokenizers

    slow, fast = make_tokenizers(args.vocab, True, None)
    with open(args.reports, encoding="utf-8") as f:
        reports = [line.rstrip("\n").split("\t") for line in f]
    n = len(reports)
    joined = ["".join(s) for s in reports]
    flat = [s for r in reports for s in r]
    L = 256

    best = 1e30
    for _ in range(3):
        t0 = time.perf_counter()
        enc = fast(joined, max_length=L, padding="max_length", truncation=True)
        best = min(best, time.perf_counter() - t0)
    tokens = sum(len(fast(j)["input_ids"]) for j in joined[:1000]) * n / min(n, 1000)
    print("reports: %d, sentences: %d, tokens: ~%d (%.1f per report)" % (n, len(flat), tokens, tokens / n))
    print("hf_fast_batch: %d reports in %.3f s: %.0f reports/s, %.2f M tokens/s (%d thread(s), ids+mask)"
          % (n, best, n / best, tokens / best / 1e6, args.threads))

    t0 = time.perf_counter()
    enc = fast(joined, max_length=L, padding="max_length", truncation=True)
    per_sentence = fast(flat, add_special_tokens=False)["input_ids"]
    t = time.perf_counter() - t0
    print("hf_fast_batch_with_sentences: %d reports in %.3f s: %.0f reports/s (%d thread(s), ids+mask+sentence "
          "lengths)" % (n, t, n / t, args.threads))

    m = min(n, args.slow_subset)
    t0 = time.perf_counter()
    for j in joined[:m]:
        slow(j, max_length=L, padding="max_length", truncation=True)
    t = time.perf_counter() - t0
    print("hf_slow_per_report: %d reports in %.3f s: %.0f reports/s (1 thread, ids+mask)" % (m, t, m / t))
    del enc, per_sentence


if __name__ == "__main__":
    main()
