#!/usr/bin/env python3
"""qc-bias-correct on one linear layer with a bias, after round-to-nearest and after GPTQ.

  check_bias_correct.py WORKDIR RECIPE[:gptq]...

Writes layer.mlir (y = x · W + b, W [K=64, N=32] Gaussian / sqrt(K), named "fc"),
calibration inputs whose channels have means of ±1 (256 rows, statistics by
write_stats.py) and held-out inputs from the same distribution. For each recipe:
quant-opt --qc-quantize{recipe}, then (":gptq") --qc-bias-correct{record=true}
--qc-gptq --qc-bias-correct, or --qc-bias-correct alone; --qc-fold-weights; and
the same without bias correction. quant-run of the float and both quantized
functions on an input whose every row is the calibration mean μ: the layer is
linear, so after the correction Q(W)·μ + b' = W·μ + b, and its output must
match float to rounding (max |Δ| <= 1e-4 · max |y|), while the uncorrected
one must be off by more than 100 times that. On the held-out rows, prints the
mean output shift (|mean over rows of y_q − y|, largest channel) and the
output SQNR without and with the correction. Exits 1 on a failed check.
Tools from PATH; needs numpy.
"""
import math
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
WRITE_STATS = os.path.join(HERE, "..", "..", "lit-tools", "write_stats.py")
K, N, ROWS = 64, 32, 32


def run(args):
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit("FAILED: " + " ".join(args) + "\n" + result.stderr)
    return result


def layer_mlir(w, b):
    weight = w.astype("<f4").tobytes().hex().upper()
    bias = b.astype("<f4").tobytes().hex().upper()
    return f"""func.func @main(%x: tensor<{ROWS}x{K}xf32>) -> tensor<{ROWS}x{N}xf32> {{
  %w = arith.constant dense<"0x{weight}"> : tensor<{K}x{N}xf32>
  %b = arith.constant dense<"0x{bias}"> : tensor<{N}xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<{ROWS}x{N}xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<{ROWS}x{N}xf32>) -> tensor<{ROWS}x{N}xf32>
  %y = linalg.matmul ins(%x, %w : tensor<{ROWS}x{K}xf32>, tensor<{K}x{N}xf32>)
                     outs(%init : tensor<{ROWS}x{N}xf32>) -> tensor<{ROWS}x{N}xf32> loc("fc")
  %r = linalg.generic {{indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>,
                                        affine_map<(d0, d1) -> (d0, d1)>],
                       iterator_types = ["parallel", "parallel"]}}
       ins(%y, %b : tensor<{ROWS}x{N}xf32>, tensor<{N}xf32>) outs(%empty : tensor<{ROWS}x{N}xf32>) {{
  ^bb0(%a: f32, %c: f32, %o: f32):
    %s = arith.addf %a, %c : f32
    linalg.yield %s : f32
  }} -> tensor<{ROWS}x{N}xf32>
  return %r : tensor<{ROWS}x{N}xf32>
}}
"""


def outputs(work, mlir, x, tag):
    path = os.path.join(work, tag + "-x.npy")
    np.save(path, x)
    out = os.path.join(work, tag + "-out")
    run(["quant-run", mlir, "--entry", "main", "--input", path, "--output-dir", out])
    return np.load(os.path.join(out, "0.npy")).astype(np.float64)


def sqnr(ref, test):
    noise = float(np.sum((ref - test) ** 2))
    return math.inf if noise == 0 else 10 * math.log10(float(np.sum(ref ** 2)) / noise)


def main():
    work, recipes = sys.argv[1], sys.argv[2:]
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(0)
    w = rng.standard_normal((K, N)) / np.sqrt(K)
    b = 0.1 * rng.standard_normal(N)
    mu = rng.choice([-1.0, 1.0], K)

    def inputs(rows):
        return (mu + rng.standard_normal((rows, K))).astype(np.float32)

    calib, held_out = inputs(256), inputs(ROWS)
    stats = os.path.join(work, "stats")
    np.save(os.path.join(work, "calib.npy"), calib)
    run([sys.executable, WRITE_STATS, stats, "fc=" + os.path.join(work, "calib.npy")])
    mean_row = np.tile(calib.astype(np.float64).mean(axis=0), (ROWS, 1)).astype(np.float32)
    layer = os.path.join(work, "layer.mlir")
    with open(layer, "w") as f:
        f.write(layer_mlir(w, b))
    float_mean = outputs(work, layer, mean_row, "float-mean")
    float_held = outputs(work, layer, held_out, "float-held")

    failed = False
    for spec in recipes:
        recipe, _, rounding = spec.partition(":")
        results = {}
        for correct in (False, True):
            passes = [f"--qc-quantize=recipe={recipe}"]
            if rounding == "gptq":
                if correct:
                    passes.append(f"--qc-bias-correct=stats={stats} record=true")
                passes.append(f"--qc-gptq=stats={stats}")
            if correct:
                passes.append(f"--qc-bias-correct=stats={stats}")
            passes.append("--qc-fold-weights")
            tag = f"{recipe}-{rounding or 'rtn'}-{'bc' if correct else 'plain'}"
            mlir = os.path.join(work, tag + ".mlir")
            run(["quant-opt", layer] + passes + ["-o", mlir])
            results[correct] = (outputs(work, mlir, mean_row, tag + "-mean"),
                                outputs(work, mlir, held_out, tag + "-held"))
        scale = np.abs(float_mean).max()
        at_mean = {c: np.abs(results[c][0] - float_mean).max() for c in results}
        shift = {c: np.abs((results[c][1] - float_held).mean(axis=0)).max() for c in results}
        name = spec
        print(f"{name}: at the mean input max |dy| {at_mean[False]:.3g} -> {at_mean[True]:.3g}; "
              f"held-out mean shift {shift[False]:.3g} -> {shift[True]:.3g}, "
              f"SQNR {sqnr(float_held, results[False][1]):.2f} -> "
              f"{sqnr(float_held, results[True][1]):.2f} dB")
        if not at_mean[True] <= 1e-4 * scale:
            print(f"FAILED: {name}: corrected output at the mean input is off by {at_mean[True]}")
            failed = True
        if not at_mean[False] > 100 * 1e-4 * scale:
            print(f"FAILED: {name}: the uncorrected output is already within {at_mean[False]}")
            failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
