"""PIL + torchvision counterpart of bench_decode.c: read a grayscale JPEG, resize to 224x224 with antialiasing,
on one thread; prints the same format.

    python3 tests/bench/bench_decode_pil.py [image.jpg] [iterations]
Run build/bench_decode first: it writes /tmp/prior_bench_2500x3000.jpg, the default input here.
"""
import sys
import time

import numpy as np
import torch
import torchvision.transforms.functional as F
from PIL import Image
from torchvision.transforms import InterpolationMode

OUT = 224


def load_tensor_full(path):
    img = Image.open(path)
    img = img.convert("L")
    return F.to_tensor(img), img.size


def load_tensor_draft(path):
    img = Image.open(path)
    img.draft("L", (OUT, OUT))  # libjpeg DCT scaling, as TurboJPEG's scaled decode
    img = img.convert("L")
    return F.to_tensor(img), img.size


def run(path, loader, iters, label):
    times = []
    size = None
    for i in range(iters + 1):
        t0 = time.perf_counter()
        x, size = loader(path)
        y = F.resize(x, [OUT, OUT], interpolation=InterpolationMode.BILINEAR, antialias=True)
        assert y.shape[-2:] == (OUT, OUT)
        dt = time.perf_counter() - t0
        if i:
            times.append(dt)
    mean = sum(times) / len(times)
    print(f"{label:<34} decoded {size[0]:4d}x{size[1]:<4d} -> {OUT}x{OUT}: {1 / mean:7.1f} images/s "
          f"(mean {1e3 * mean:.2f} ms, best {1e3 * min(times):.2f} ms), 1 thread")


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "/tmp/prior_bench_2500x3000.jpg"
    iters = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    torch.set_num_threads(1)
    import PIL
    print(f"PIL {PIL.__version__} + torchvision resize (torch {torch.__version__}), {path}")
    run(path, load_tensor_draft, iters, "PIL draft decode + antialiased resize")
    run(path, load_tensor_full, iters // 3 + 1, "PIL full decode + antialiased resize")


if __name__ == "__main__":
    main()
