#!/usr/bin/env python3
"""The reference semantics of qc.matmul: y[..., n] = sum_k x[..., k] * w[n, k]
accumulated in f32 in order k = 0, 1, ... from +0. Usage:
  matmul_reference.py X.npy W.npy OUT.npy   (w already dequantized, x already
  fake-quantized when the matmul has an activation format)"""
import sys

import numpy as np


def main():
    x = np.load(sys.argv[1]).astype(np.float32)
    w = np.load(sys.argv[2]).astype(np.float32)
    rows = x.reshape(-1, x.shape[-1])
    acc = np.zeros((rows.shape[0], w.shape[0]), np.float32)
    for k in range(w.shape[1]):  # vectorized over m and n, sequential in k
        acc = (acc + (rows[:, k:k + 1] * w[None, :, k]).astype(np.float32)).astype(np.float32)
    np.save(sys.argv[3], acc.reshape(x.shape[:-1] + (w.shape[0],)))


if __name__ == "__main__":
    main()
