#!/usr/bin/env python3
"""Writes the calibration statistics of test/Transforms/bias-correct.mlir.

  bias_correct_stats.py DIR

Every linear layer of the test reads 4 input channels with means
[1, 2, -1, 0.5] (two rows that average to them); the convolution "conv"
reads 2 channels with means [2, -1]. Exact binary fractions, so the
corrected biases are exact. Uses write_stats.py's format.
"""
import os
import subprocess
import sys

import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
linear = np.array([[0, 4, -2, 1], [2, 0, 0, 0]], np.float32)  # means 1, 2, -1, 0.5
conv = np.array([[4, -3], [0, 1]], np.float32)                 # means 2, -1
np.save(os.path.join(out, "linear.npy"), linear)
np.save(os.path.join(out, "conv.npy"), conv)
tool = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lit-tools",
                    "write_stats.py")
specs = [f"{name}={os.path.join(out, 'linear.npy')}"
         for name in ("add", "init", "gemm", "nobias", "shared", "shared#2", "scalar")]
specs.append(f"conv={os.path.join(out, 'conv.npy')}")
subprocess.run([sys.executable, tool, out] + specs, check=True)
