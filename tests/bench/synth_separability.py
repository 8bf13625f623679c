"""How visually distinct are the five zero-shot findings of the synthetic set?

Renders N frontal 64x64 images per class (Atelectasis, Cardiomegaly, Consolidation, Edema, Pleural Effusion;
each image holds that finding only, as in CheXpert 5x200) and reports the 5-fold accuracy of a logistic
regression on raw pixels (chance: 0.2). A pre-trained encoder should do at least this well zero-shot.

Usage: python3 tests/bench/synth_separability.py build/libprior.so [N=300]
Calls the library through ctypes with opaque buffers; only the leading fields are touched:
prior_synth_config starts with `uint64_t seed; int image_size;`, prior_synth_profile with `float p[14]`
(observations in mimic-cxr-2.0.0-chexpert.csv order) then ap_fraction, lateral_fraction, uncertain_fraction.
"""
import ctypes
import struct
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

CLASSES = {"Atelectasis": 0, "Cardiomegaly": 1, "Consolidation": 2, "Edema": 3, "Pleural Effusion": 9}
SIZE = 64


def main(lib_path, n):
    lib = ctypes.CDLL(lib_path)
    cfg = ctypes.create_string_buffer(4096)
    lib.prior_synth_config_default(cfg)
    struct.pack_into("<Qi", cfg, 0, 5, SIZE)
    img = (ctypes.c_float * (SIZE * SIZE))()
    truth = ctypes.create_string_buffer(8192)
    xs, ys = [], []
    for label, (name, index) in enumerate(CLASSES.items()):
        prof = ctypes.create_string_buffer(4096)
        lib.prior_synth_profile_default(prof)
        for i in range(14):
            struct.pack_into("<f", prof, 4 * i, 1.0 if i == index else 0.0)
        struct.pack_into("<fff", prof, 56, 0.4, 0.0, 0.0)
        for k in range(n):
            if lib.prior_synth_sample(cfg, prof, ctypes.c_uint64(label * 1000003 + k), truth) != 0:
                raise RuntimeError("prior_synth_sample failed")
            lib.prior_synth_render_truth(truth, img, None, None)
            xs.append(np.frombuffer(img, dtype=np.float32).copy())
            ys.append(label)
    x, y = np.array(xs), np.array(ys)
    x = (x - x.mean(0)) / (x.std(0) + 1e-3)
    acc = cross_val_score(LogisticRegression(max_iter=300, C=0.01), x, y, cv=5).mean()
    print(f"5-class accuracy of a logistic regression on raw {SIZE}x{SIZE} pixels, {n} per class: {acc:.3f} "
          f"(chance 0.200)")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 300)
