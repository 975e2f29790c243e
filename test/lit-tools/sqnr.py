#!/usr/bin/env python3
"""Output SQNR of a quantized model against the float model, asserted above a floor.

  sqnr.py REFERENCE.npy TEST.npy [--label NAME] [--min DB]

Prints "NAME: SQNR X.XX dB (floor Y dB)" with SQNR = 10 log10(|ref|^2 / |ref - test|^2)
accumulated in float64; exits 1 (printing FAILED) when it is below --min or not finite.
"""
import argparse
import math
import sys

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reference")
    parser.add_argument("test")
    parser.add_argument("--label", default="output")
    parser.add_argument("--min", type=float, default=None, metavar="DB")
    args = parser.parse_args()
    ref = np.load(args.reference).astype(np.float64)
    test = np.load(args.test).astype(np.float64)
    if ref.shape != test.shape:
        sys.exit(f"sqnr.py: shapes differ: {ref.shape} vs {test.shape}")
    noise = float(np.sum((ref - test) ** 2))
    signal = float(np.sum(ref ** 2))
    sqnr = math.inf if noise == 0 else 10 * math.log10(signal / noise)
    floor = "" if args.min is None else f" (floor {args.min:g} dB)"
    print(f"{args.label}: SQNR {sqnr:.2f} dB{floor}")
    if not np.all(np.isfinite(test)) or (args.min is not None and not sqnr >= args.min):
        print(f"FAILED: {args.label}: SQNR {sqnr:.2f} dB is below {args.min} dB")
        sys.exit(1)


if __name__ == "__main__":
    main()
