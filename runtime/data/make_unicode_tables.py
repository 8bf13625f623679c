#!/usr/bin/env python3
"""Writes unicode_tables.c: the Unicode facts the BERT tokenizer needs, taken from Python's `unicodedata` and str
methods, so that the C tokenizer sees characters exactly as the Hugging Face (Python) BERT tokenizer does.

Run from anywhere: python3 runtime/data/make_unicode_tables.py  (writes beside this script). The Unicode version is
the one of the Python that runs it; it is written into the table file and checked by the tests' fixtures.

Tables (all sorted, searched by binary search):
- property ranges: [start of range i, start of range i+1) share one flag byte (whitespace, control, punctuation,
  Mn, CJK, str.isspace, and the cased / case-ignorable classes that str.lower's final-sigma rule needs);
- lowercase: runs (first, last, delta, stride) of str.lower's one-to-one mappings;
- canonical combining class: runs (first, last, class) of the non-zero classes;
- canonical decomposition: one entry per decomposable code point (Hangul syllables are algorithmic), with a flag
  for primary composites (those NFC composes back);
- composition: the primary composites keyed by their (first, second) pair.
"""
import os
import sys
import unicodedata

MAX_CP = 0x110000
SIGMA = 0x3A3

F_WHITESPACE = 1    # BERT _is_whitespace: ' ', \t, \n, \r or category Zs
F_CONTROL = 2       # BERT _is_control: category C* except \t, \n, \r
F_PUNCT = 4         # BERT _is_punctuation: ASCII 33-47, 58-64, 91-96, 123-126 or category P*
F_MN = 8            # category Mn (dropped when stripping accents)
F_CJK = 16          # BERT _is_chinese_char
F_ISSPACE = 32      # Python str.isspace (what str.split() splits on)
F_CASED = 64        # cased and not case-ignorable (final-sigma rule)
F_IGNORABLE = 128   # case-ignorable (final-sigma rule)

CJK_RANGES = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
              (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]


def is_final_sigma(text, i):
    return text.lower()[i] == "\u03c2"


def sigma_classes(c):
    """Python does not expose the Cased / Case_Ignorable properties; probe str.lower's final-sigma rule instead.
    In "A" + c + "Σ" the sigma is final iff c is case-ignorable or cased; in c + "Σ" it is final iff c is cased
    and not case-ignorable. Whether a case-ignorable character is also cased never matters to the rule."""
    ch = chr(c)
    a = is_final_sigma("A" + ch + "\u03a3", 2)
    b = is_final_sigma(ch + "\u03a3", 1)
    if b:
        return F_CASED
    if a:
        return F_IGNORABLE
    return 0


def flags_of(c):
    ch = chr(c)
    cat = unicodedata.category(ch)
    f = 0
    if ch in " \t\n\r" or cat == "Zs":
        f |= F_WHITESPACE
    if ch not in "\t\n\r" and cat.startswith("C"):
        f |= F_CONTROL
    if 33 <= c <= 47 or 58 <= c <= 64 or 91 <= c <= 96 or 123 <= c <= 126 or cat.startswith("P"):
        f |= F_PUNCT
    if cat == "Mn":
        f |= F_MN
    if any(lo <= c <= hi for lo, hi in CJK_RANGES):
        f |= F_CJK
    if ch.isspace():
        f |= F_ISSPACE
    if c < 0xD800 or c > 0xDFFF:  # lone surrogates cannot be lowered in a str built from UTF-8
        f |= sigma_classes(c)
    return f


def property_ranges():
    starts, flags = [], []
    prev = None
    for c in range(MAX_CP):
        f = flags_of(c)
        if f != prev:
            starts.append(c)
            flags.append(f)
            prev = f
    return starts, flags


def lower_runs():
    """Runs of one-to-one lowercase mappings: cp -> cp + delta for cp = first, first+stride, ..., last."""
    maps = {}
    for c in range(MAX_CP):
        low = chr(c).lower()
        if len(low) == 1 and ord(low) != c:
            maps[c] = ord(low) - c
        elif len(low) != 1:
            assert c == 0x130 and low == "i\u0307", hex(c)  # the one multi-character mapping; handled in code
    assert maps[SIGMA] == 0x3C3 - SIGMA  # the context-free mapping; the final form is chosen in code
    runs = []
    cps = sorted(maps)
    i = 0
    while i < len(cps):
        first, delta = cps[i], maps[cps[i]]
        stride = 1
        if i + 1 < len(cps) and maps[cps[i + 1]] == delta and cps[i + 1] - first in (1, 2):
            stride = cps[i + 1] - first
        last = first
        j = i + 1
        while j < len(cps) and cps[j] == last + stride and maps[cps[j]] == delta:
            last = cps[j]
            j += 1
        runs.append((first, last, delta, stride))
        i = j
    return runs


def ccc_runs():
    runs = []
    for c in range(MAX_CP):
        k = unicodedata.combining(chr(c))
        if k and runs and runs[-1][1] == c - 1 and runs[-1][2] == k:
            runs[-1][1] = c
        elif k:
            runs.append([c, c, k])
    return runs


def decompositions():
    """Canonical (not compatibility) decompositions, one level deep; Hangul syllables excluded."""
    out = []
    for c in range(MAX_CP):
        if 0xAC00 <= c <= 0xD7A3:
            continue
        d = unicodedata.decomposition(chr(c))
        if not d or d.startswith("<"):
            continue
        parts = [int(x, 16) for x in d.split()]
        assert 1 <= len(parts) <= 2, hex(c)
        # A primary composite is its own NFC; excluded and singleton decompositions are not.
        primary = len(parts) == 2 and unicodedata.normalize("NFC", chr(c)) == chr(c)
        out.append((c, parts[0], parts[1] if len(parts) == 2 else 0, primary))
    return out


def c_array(ctype, name, rows, per_line):
    lines = []
    for i in range(0, len(rows), per_line):
        lines.append("  " + " ".join(r + "," for r in rows[i:i + per_line]))
    return f"const {ctype} {name}[{len(rows)}] = {{\n" + "\n".join(lines) + "\n};\n"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    starts, flags = property_ranges()
    lows = lower_runs()
    cccs = ccc_runs()
    decs = decompositions()
    comps = sorted(((a << 21) | b, c) for c, a, b, p in decs if p)
    ascii_flags = [flags_of(c) for c in range(128)]
    # Below these code points a string is its own NFD / NFC, which lets the tokenizer skip normalising plain text.
    nfd_stable = min([c for c, _, _, _ in decs] + [r[0] for r in cccs] + [0xAC00])
    nfc_stable = min([c for c, _, _, p in decs if not p] + [r[0] for r in cccs] + [b for _, b in
                     ((k >> 21, k & 0x1FFFFF) for k, _ in comps)] + [0x1100])

    out = []
    out.append("/* Generated by make_unicode_tables.py from Python %s's unicodedata (Unicode %s). Do not edit. */\n"
               % (sys.version.split()[0], unicodedata.unidata_version))
    out.append('#include "data/unicode.h"\n\n')
    out.append('const char prior_unicode_version[] = "%s";\n\n' % unicodedata.unidata_version)
    out.append("const uint32_t prior_unicode_nfd_stable_below = 0x%x;\n" % nfd_stable)
    out.append("const uint32_t prior_unicode_nfc_stable_below = 0x%x;\n\n" % nfc_stable)
    out.append(c_array("uint8_t", "prior_unicode_ascii_flags", ["0x%02x" % f for f in ascii_flags], 16))
    out.append("const int prior_unicode_prop_count = %d;\n" % len(starts))
    out.append(c_array("uint32_t", "prior_unicode_prop_start", ["0x%x" % s for s in starts], 12))
    out.append(c_array("uint8_t", "prior_unicode_prop_flags", ["0x%02x" % f for f in flags], 16))
    out.append("const int prior_unicode_lower_count = %d;\n" % len(lows))
    out.append(c_array("prior_unicode_lower_run", "prior_unicode_lower_runs",
                       ["{0x%x, 0x%x, %d, %d}" % r for r in lows], 4))
    out.append("const int prior_unicode_ccc_count = %d;\n" % len(cccs))
    out.append(c_array("prior_unicode_ccc_run", "prior_unicode_ccc_runs", ["{0x%x, 0x%x, %d}" % tuple(r) for r in cccs], 5))
    out.append("const int prior_unicode_decomp_count = %d;\n" % len(decs))
    out.append(c_array("prior_unicode_decomp", "prior_unicode_decomps",
                       ["{0x%x, 0x%x, 0x%x, %d}" % (c, a, b, int(p)) for c, a, b, p in decs], 4))
    out.append("const int prior_unicode_comp_count = %d;\n" % len(comps))
    out.append(c_array("prior_unicode_comp", "prior_unicode_comps", ["{0x%xull, 0x%x}" % r for r in comps], 4))
    path = os.path.join(here, "unicode_tables.c")
    with open(path, "w") as f:
        f.write("".join(out))
    print("wrote %s: %d property ranges, %d lowercase runs, %d ccc runs, %d decompositions, %d compositions"
          % (path, len(starts), len(lows), len(cccs), len(decs), len(comps)))


if __name__ == "__main__":
    main()
