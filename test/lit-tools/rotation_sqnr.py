#!/usr/bin/env python3
"""Output SQNR of a quantized model with and without rotation, against float.

  rotation_sqnr.py FLOAT.npy PLAIN.npy ROTATED.npy [--min-gain DB]

Prints "without rotation: X dB, with rotation: Y dB, gain: Z dB", SQNR =
10 log10(|ref|^2 / |ref - test|^2) in float64; exits 1 when the gain is
below --min-gain.
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
    parser.add_argument("plain")
    parser.add_argument("rotated")
    parser.add_argument("--min-gain", type=float, default=None, metavar="DB")
    args = parser.parse_args()
    ref, plain, rotated = (np.load(p).astype(np.float64)
                           for p in (args.reference, args.plain, args.rotated))
    without, with_rotation = sqnr(ref, plain), sqnr(ref, rotated)
    gain = with_rotation - without
    print(f"without rotation: {without:.2f} dB, with rotation: {with_rotation:.2f} dB, "
          f"gain: {gain:.2f} dB")
    if args.min_gain is not None and not gain >= args.min_gain:
        print(f"FAILED: the rotation gains {gain:.2f} dB, less than {args.min_gain} dB")
        sys.exit(1)


if __name__ == "__main__":
    main()
