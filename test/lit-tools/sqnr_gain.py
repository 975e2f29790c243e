#!/usr/bin/env python3
"""Output SQNR of two quantized models against float, and the gain of the second.

  sqnr_gain.py REFERENCE.npy BASE.npy NEW.npy [--labels BASE,NEW] [--min-gain DB]

Prints "BASE X.XX dB, NEW Y.YY dB, gain Z.ZZ dB", SQNR = 10 log10(|ref|^2 / |ref - test|^2)
in float64; exits 1 when the gain is below --min-gain.
"""
import argparse
import math
import sys

import numpy as np


def sqnr(ref, test):
    noise = float(np.sum((ref - test) ** 2))
    return math.inf if noise == 0 else 10 * math.log10(float(np.sum(ref ** 2)) / noise)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reference")
    parser.add_argument("base")
    parser.add_argument("new")
    parser.add_argument("--labels", default="base,new")
    parser.add_argument("--min-gain", type=float, default=None, metavar="DB")
    args = parser.parse_args()
    ref, base, new = (np.load(p).astype(np.float64) for p in (args.reference, args.base, args.new))
    a, b = sqnr(ref, base), sqnr(ref, new)
    names = args.labels.split(",")
    print(f"{names[0]} {a:.2f} dB, {names[1]} {b:.2f} dB, gain {b - a:.2f} dB")
    if args.min_gain is not None and not b - a >= args.min_gain:
        print(f"FAILED: gain below {args.min_gain} dB")
        sys.exit(1)


if __name__ == "__main__":
    main()
