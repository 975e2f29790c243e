#!/usr/bin/env python3
"""Checks that two quant-run output directories hold the same results.

  same_outputs.py DIR_A DIR_B

Every .npy in DIR_A must exist in DIR_B with the same dtype, shape and bits
(NaNs included), and DIR_B must hold no other .npy; prints
"N outputs identical".
"""
import os
import sys

import numpy as np


def main():
    a, b = sys.argv[1], sys.argv[2]
    names_a = sorted(f for f in os.listdir(a) if f.endswith(".npy"))
    names_b = sorted(f for f in os.listdir(b) if f.endswith(".npy"))
    if names_a != names_b:
        sys.exit(f"{a} holds {names_a}, {b} holds {names_b}")
    for name in names_a:
        x, y = np.load(os.path.join(a, name)), np.load(os.path.join(b, name))
        if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
            diff = np.abs(x.astype(np.float64) - y.astype(np.float64)).max() \
                if x.shape == y.shape else "n/a"
            sys.exit(f"{name}: {x.dtype} {x.shape} vs {y.dtype} {y.shape}, max |diff| {diff}")
    print(f"{len(names_a)} outputs identical")


if __name__ == "__main__":
    main()
