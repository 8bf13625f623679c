"""Draws docs/images/synth_grid.png: twelve synthetic radiographs (224 px) beside their report sentences.

Usage: python3 docs/tools/synth_grid.py build/libprior.so docs/images/synth_grid.png

The library is called through ctypes with opaque buffers; only the leading fields of two structs are
touched: prior_synth_config starts with `uint64_t seed; int image_size;`, prior_synth_profile starts
with `float p[14]` (observations in mimic-cxr-2.0.0-chexpert.csv column order) followed by `float
ap_fraction, lateral_fraction, uncertain_fraction`.
"""
import ctypes
import struct
import sys
import textwrap

from PIL import Image, ImageDraw, ImageFont

LABELS = ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Enlarged Cardiomediastinum", "Fracture",
          "Lung Lesion", "Lung Opacity", "No Finding", "Pleural Effusion", "Pleural Other", "Pneumonia",
          "Pneumothorax", "Support Devices"]
# (title, findings forced on, key, lateral view)
PANELS = [("No Finding", [], 3, False), ("Cardiomegaly", ["Cardiomegaly"], 7, False),
          ("Pleural Effusion", ["Pleural Effusion"], 12, False), ("Consolidation", ["Consolidation"], 4, False),
          ("Pneumonia", ["Pneumonia"], 21, False), ("Atelectasis", ["Atelectasis"], 33, False),
          ("Edema", ["Edema"], 2, False), ("Pneumothorax", ["Pneumothorax"], 8, False),
          ("Lung Opacity", ["Lung Opacity"], 5, False), ("Lung Lesion", ["Lung Lesion"], 6, False),
          ("Support Devices", ["Support Devices"], 9, False),
          ("Effusion + cardiomegaly, lateral", ["Pleural Effusion", "Cardiomegaly"], 15, True)]
SIZE, TEXT_W = 224, 330


def sentences(report):
    """FINDINGS and IMPRESSION text of a report, unwrapped."""
    keep, out = False, []
    for line in report.splitlines():
        s = line.strip()
        if s in ("FINDINGS:", "IMPRESSION:"):
            keep = True
            out.append("\n" + s[:-1].lower() + ": ")
            continue
        if keep and s:
            out.append(s + " ")
    return "".join(out).strip()


def main(lib_path, out_path):
    lib = ctypes.CDLL(lib_path)
    cfg = ctypes.create_string_buffer(4096)
    lib.prior_synth_config_default(cfg)
    struct.pack_into("<Qi", cfg, 0, 2024, SIZE)
    font_path = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    try:
        font, bold = ImageFont.truetype(font_path, 11), ImageFont.truetype(font_path.replace("Sans", "Sans-Bold"), 12)
    except OSError:
        font = bold = ImageFont.load_default()
    cols, rows = 3, 4
    grid = Image.new("L", (cols * (SIZE + TEXT_W), rows * SIZE), 255)
    draw = ImageDraw.Draw(grid)
    img = (ctypes.c_float * (SIZE * SIZE))()
    for k, (title, on, key, lateral) in enumerate(PANELS):
        prof = ctypes.create_string_buffer(4096)
        lib.prior_synth_profile_default(prof)
        for i, name in enumerate(LABELS):
            struct.pack_into("<f", prof, 4 * i, 1.0 if name in on else 0.0)
        struct.pack_into("<fff", prof, 56, 0.3, 0.0, 0.0)
        truth = ctypes.create_string_buffer(8192)
        if lib.prior_synth_sample(cfg, prof, ctypes.c_uint64(key), truth) != 0:
            raise RuntimeError("prior_synth_sample failed")
        if lateral:
            lat = ctypes.create_string_buffer(8192)
            lib.prior_synth_sample_view(truth, ctypes.c_uint64(key + 1), 2, lat)
            shown = lat
        else:
            shown = truth
        if lib.prior_synth_render_truth(shown, img, None, None) != 0:
            raise RuntimeError("prior_synth_render_truth failed")
        report = ctypes.create_string_buffer(8192)
        lib.prior_synth_report(truth, ctypes.c_float(0.0), report, 8192, None)
        pixels = bytes(int(min(max(v, 0.0), 1.0) * 255 + 0.5) for v in img)
        x0, y0 = (k % cols) * (SIZE + TEXT_W), (k // cols) * SIZE
        grid.paste(Image.frombytes("L", (SIZE, SIZE), pixels), (x0, y0))
        draw.text((x0 + SIZE + 8, y0 + 6), title, fill=0, font=bold)
        y = y0 + 24
        for para in sentences(report.value.decode()).split("\n"):
            for line in textwrap.wrap(para, 52):
                if y < y0 + SIZE - 12:
                    draw.text((x0 + SIZE + 8, y), line, fill=40, font=font)
                y += 13
    grid.save(out_path, optimize=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
