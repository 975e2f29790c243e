#!/usr/bin/env python3
"""Writes one linear layer as MLIR, with calibration and held-out inputs, for the GPTQ tests.

  make_gptq_layer.py OUTDIR [--k 256] [--n 96] [--rows 64] [--seed 0]

OUTDIR/layer.mlir: func @main(%x: tensor<ROWSxKxf32>) -> tensor<ROWSxNxf32>, y = x · W with
W [K, N] (an ONNX MatMul weight) a dense f32 constant, the layer named "fc". Weights are
Gaussian / sqrt(K) with a few larger input channels. Inputs are correlated as activations
are: x = z · A · diag(g), A mixing each channel with its neighbours, g channel gains over a
factor of 20 with a few outlier channels. OUTDIR/calib.npy holds 8 batches (8·ROWS rows,
[8·ROWS, K]) for calibration, OUTDIR/test.npy one other batch [ROWS, K].
"""
import argparse
import os

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--k", type=int, default=256)
    parser.add_argument("--n", type=int, default=96)
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    k, n, rows = args.k, args.n, args.rows
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out, exist_ok=True)

    w = rng.standard_normal((k, n)) / np.sqrt(k)
    w[rng.choice(k, 4, replace=False)] *= 3.0
    mixing = np.zeros((k, k))
    for i in range(k):
        lo, hi = max(0, i - 8), min(k, i + 8)
        mixing[i, lo:hi] = rng.standard_normal(hi - lo)
        mixing[i, i] += 2.0
    gains = rng.uniform(0.2, 4.0, k)
    gains[rng.choice(k, 4, replace=False)] *= 5.0

    def inputs(count):
        return ((rng.standard_normal((count, k)) @ mixing) * gains).astype(np.float32)

    np.save(os.path.join(args.out, "calib.npy"), inputs(8 * rows))
    np.save(os.path.join(args.out, "test.npy"), inputs(rows))
    hex_bytes = w.astype("<f4").tobytes().hex().upper()
    with open(os.path.join(args.out, "layer.mlir"), "w") as f:
        f.write(f"""func.func @main(%x: tensor<{rows}x{k}xf32>) -> tensor<{rows}x{n}xf32> {{
  %w = arith.constant dense<"0x{hex_bytes}"> : tensor<{k}x{n}xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<{rows}x{n}xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<{rows}x{n}xf32>) -> tensor<{rows}x{n}xf32>
  %y = linalg.matmul ins(%x, %w : tensor<{rows}x{k}xf32>, tensor<{k}x{n}xf32>)
                     outs(%init : tensor<{rows}x{n}xf32>) -> tensor<{rows}x{n}xf32> loc("fc")
  return %y : tensor<{rows}x{n}xf32>
}}
""")


if __name__ == "__main__":
    main()
