#!/usr/bin/env python3
"""Helpers for the quant-run lit tests: make .npy inputs, print .npy outputs
in a FileCheck-friendly form, and check exit codes and absent files without
relying on shell features (lit may run RUN lines in its internal shell).

  quant-run-npy.py save FILE DTYPE EXPR      np.asarray(eval(EXPR), DTYPE) -> FILE
  quant-run-npy.py show FILE...              print dtype, shape and values
  quant-run-npy.py same FILE EXPR            succeed iff FILE holds exactly the
                                             bits of EXPR (same dtype and shape)
  quant-run-npy.py exit-code N -- CMD...     run CMD; succeed iff it exits with N
  quant-run-npy.py absent PATH...            succeed iff no PATH exists
  quant-run-npy.py clean PATH...             remove files or directory trees

EXPR is a Python expression with `np` and `load` (np.load) in scope, e.g. "np.arange(6).reshape(2, 3)"
or "[[1, 2], [3, 4]]". `show` prints one line per row of the last axis, floats
with the fewest digits that round-trip in their own precision, so expected
values in CHECK lines are exact:

  y.npy: float32 (2, 2)
    1 2.5
    -3 inf
"""
import os
import shutil
import subprocess
import sys

import numpy as np


def format_value(value):
    if isinstance(value, np.bool_):
        return "true" if value else "false"
    if isinstance(value, np.floating):
        if np.isnan(value):
            return "nan"
        if np.isinf(value):
            return "inf" if value > 0 else "-inf"
        if value == 0 or 1e-4 <= abs(value) < 1e16:
            return np.format_float_positional(value, unique=True, trim="-")
        return np.format_float_scientific(value, unique=True, trim="-")
    return str(value)


def show(paths):
    for path in paths:
        array = np.load(path)
        shape = "(" + ", ".join(str(d) for d in array.shape) + ")"
        print(f"{os.path.basename(path)}: {array.dtype} {shape}")
        if array.ndim == 0:
            print("  " + format_value(array[()]))
            continue
        rows = array.reshape(-1, array.shape[-1]) if array.size else []
        for row in rows:
            print("  " + " ".join(format_value(v) for v in row))


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    command, args = argv[1], argv[2:]
    if command == "save":
        path, dtype, expr = args
        array = np.asarray(eval(expr, {"np": np, "load": np.load}),
                           dtype=np.dtype(dtype))
        np.save(path, array)
        return 0
    if command == "show":
        show(args)
        return 0
    if command == "same":
        path, expr = args
        actual = np.load(path)
        expected = np.asarray(eval(expr, {"np": np, "load": np.load}))
        if actual.dtype != expected.dtype or actual.shape != expected.shape:
            print(f"same: {path} holds {actual.dtype} {actual.shape}, expected "
                  f"{expected.dtype} {expected.shape}")
            return 1
        if actual.size == 0:
            print(f"same: {os.path.basename(path)}")
            return 0
        # Compare bits, so that -0 vs 0 and NaN payloads count too.
        differ = actual.view(np.uint8).reshape(actual.size, -1) != \
            expected.view(np.uint8).reshape(expected.size, -1)
        wrong = np.flatnonzero(differ.any(axis=1))
        if wrong.size:
            first = np.unravel_index(wrong[0], actual.shape)
            print(f"same: {path}: {wrong.size} of {actual.size} elements differ; "
                  f"first at {tuple(int(i) for i in first)}: got {actual[first]!r}, "
                  f"expected {expected[first]!r}")
            return 1
        print(f"same: {os.path.basename(path)}")
        return 0
    if command == "exit-code":
        expected = int(args[0])
        if args[1] != "--":
            print("exit-code: expected '--' before the command", file=sys.stderr)
            return 2
        code = subprocess.call(args[2:])
        if code != expected:
            print(f"exit-code: expected {expected}, got {code}: {' '.join(args[2:])}",
                  file=sys.stderr)
            return 1
        return 0
    if command == "absent":
        present = [path for path in args if os.path.exists(path)]
        for path in present:
            print(f"absent: {path} exists", file=sys.stderr)
        return 1 if present else 0
    if command == "clean":
        for path in args:
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.lexists(path):
                os.remove(path)
        return 0
    print(f"unknown command '{command}'\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
