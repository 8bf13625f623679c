"""PyTorch's side of tests/bench/bench_encoders.c: the same rows, the same output format.
usage: python3 tests/bench/bench_encoders_torch.py THREADS [REPEATS=3]"""
import sys
import time

import torch
import torchvision
from transformers import BertConfig, BertModel

threads = int(sys.argv[1])
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
torch.set_num_threads(threads)
torch.manual_seed(0)


def timed(fn):
    times = []
    for r in range(reps + 1):
        t0 = time.perf_counter()
        fn()
        if r:
            times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def report(name, sec, gflop):
    print(f"{name:<24} {sec * 1e3:10.1f} {gflop / sec:8.1f}", flush=True)


resnet_fwd = 16 * (4.089 - 0.079)
net = torchvision.models.resnet50()
net.conv1 = torch.nn.Conv2d(1, 64, 7, 2, 3, bias=False)
net.fc = torch.nn.Identity()
net.avgpool = torch.nn.Identity()  # stop after layer4, as ours
x = torch.randn(16, 1, 224, 224)
net.train()


def resnet_train():
    net(x).sum().backward()
    net.zero_grad(set_to_none=True)


report("resnet50_train_b16", timed(resnet_train), 3 * resnet_fwd)
net.eval()
with torch.no_grad():
    report("resnet50_infer_b16", timed(lambda: net(x)), resnet_fwd)

b, l, h, f = 8, 256, 768, 3072
bert_fwd = 2.0 * b * l * 12 * (4.0 * h * h + 2.0 * h * f + 2.0 * l * h) / 1e9
bert = BertModel(BertConfig(attn_implementation="eager"), add_pooling_layer=True)
ids = (1000 + (torch.arange(b * l) * 7919) % 20000).reshape(b, l)
mask = torch.ones(b, l, dtype=torch.long)
bert.train()


def bert_train():
    bert(input_ids=ids, attention_mask=mask).last_hidden_state.sum().backward()
    bert.zero_grad(set_to_none=True)


report("bert_base_train_b8_l256", timed(bert_train), 3 * bert_fwd)
bert.eval()
with torch.no_grad():
    report("bert_base_infer_b8_l256", timed(lambda: bert(input_ids=ids, attention_mask=mask)), bert_fwd)
