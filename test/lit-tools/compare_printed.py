#!/usr/bin/env python3
"""Compares what examples/run_model.c printed with a reference .npy.

  compare_printed.py PRINTED.txt NAME REFERENCE.npy

Finds the block `NAME: f32 [d0, d1, ...]` in PRINTED.txt, reads the values
after it (9 significant digits: each float32 reads back exactly) and fails
unless they equal REFERENCE.npy bit for bit; prints a one-line summary.
"""
import sys

import numpy as np


def main():
    printed, name, reference = sys.argv[1], sys.argv[2], np.load(sys.argv[3])
    lines = open(printed).read().splitlines()
    header = [i for i, line in enumerate(lines) if line.startswith(name + ": ")]
    if not header:
        sys.exit(f"{printed}: no output '{name}'")
    shape = tuple(int(d) for d in lines[header[0]].split("[", 1)[1].rstrip("]").split(",") if d.strip())
    if shape != reference.shape:
        sys.exit(f"{printed}: '{name}' has shape {shape}, the reference {reference.shape}")
    count = reference.size
    values = []
    for line in lines[header[0] + 1:]:
        if len(values) >= count:
            break
        values.extend(line.split())
    got = np.array([np.float32(v) for v in values[:count]], dtype=np.float32).reshape(shape)
    if not np.array_equal(got.view(np.uint32), reference.astype(np.float32).view(np.uint32)):
        diff = np.abs(got - reference).max()
        sys.exit(f"{printed}: '{name}' differs from the reference (max |diff| {diff})")
    print(f"{name}: {count} values equal to the reference bit for bit")


if __name__ == "__main__":
    main()
