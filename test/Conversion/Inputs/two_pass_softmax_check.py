#!/usr/bin/env python3
"""ONNX Softmax through quant-run's CPU pipeline (quantc-two-pass-softmax)
against float64 numpy.

One small model per case, run with `quant-run --threads 1` and `--threads 2`:

  * the two runs must be bit-identical;
  * finite results within a bound in ulp of the float64 softmax (of the f32
    input), |y - ref| <= bound * ulp(ref): 6 ulp for the two-pass kernel
    (measured up to 5.2 on rows of 100-128), 32 for the three-pass loops
    (measured up to 18: exp(x - max) of MLIR's polynomial loses bits far
    below the max); where ref is below the smallest normal f32,
    |y - ref| <= 2^-126 (both algorithms flush there);
  * rows holding NaN or +inf, or only -inf, NaN throughout (what max / exp /
    sum / div gives, and the importer's decomposition gave).

`vs-three-pass` also softmaxes the same rows along axis 0 of the transposed
input, which the pass lowers to the scalar three-pass loops, and prints the
largest error in ulp of both against float64 and their largest distance;
the two-pass kernel must be at least as close to float64.

Prints `ok <case> ...` or `FAIL <case>: <why>` per case.
"""
import argparse
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

TWO_PASS_ULPS = 6
THREE_PASS_ULPS = 32
TINY = np.float64(2.0 ** -126)


def reference(x, axis):
    x = x.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        m = np.max(x, axis=axis, keepdims=True)
        e = np.exp(x - m)
        return e / np.sum(e, axis=axis, keepdims=True)


def softmax_model(shape, axis, opset=13):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, list(shape))
    node = helper.make_node("Softmax", ["x"], ["y"], axis=axis)
    graph = helper.make_graph([node], "softmax", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def run(quant_run, model_path, x_path, work, threads):
    out_dir = os.path.join(work, "out%d" % threads)
    subprocess.run([quant_run, model_path, "--threads", str(threads),
                    "--input", "x=" + x_path, "--output-dir", out_dir],
                   check=True, stdout=subprocess.DEVNULL)
    return np.load(os.path.join(out_dir, "y.npy"))


def ulp_error(y, ref):
    """|y - ref| in ulp of ref; 0 where both are at or below 2^-126 apart."""
    y = y.astype(np.float64)
    ulp = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
    error = np.abs(y - ref) / ulp
    error[(ref < TINY) & (np.abs(y - ref) <= TINY)] = 0.0
    return error


def causal_scores(rng, heads, n, mask_value):
    x = (rng.standard_normal((heads, n, n)) * 3.0).astype(np.float32)
    mask = np.triu(np.ones((n, n), dtype=bool), 1)
    x[:, mask] = mask_value
    return x


def cases(rng):
    f32min = np.finfo(np.float32).min
    yield "attention_causal_-inf_4x128x128", causal_scores(rng, 4, 128, -np.inf), -1
    yield "attention_causal_f32min_2x128x128", causal_scores(rng, 2, 128, f32min), -1
    for length in (1, 5, 16, 17, 31, 100, 129):
        yield "tail_3x%d" % length, (rng.standard_normal((3, length)) * 4).astype(np.float32), -1
    yield "range_pm80_8x77", rng.uniform(-80, 80, (8, 77)).astype(np.float32), -1
    # Rows whose max lies outside [-190, 200] take pass 1 again on x - max.
    far = rng.standard_normal((8, 40)).astype(np.float32)
    far += np.array([0, 150, 199, 201, 1000, -195, -1000, 3e4],
                    dtype=np.float32)[:, None]
    far[7, 3] = 1e30
    yield "far_rows_8x40", far, -1
    # A row of f32 min is uniform (x - max = 0); NaN, +inf and all -inf rows
    # are NaN; -inf and f32 min elements contribute 0.
    special = rng.standard_normal((7, 21)).astype(np.float32)
    special[0, :] = -np.inf
    special[1, 4] = np.nan
    special[2, 9] = np.inf
    special[3, :] = f32min
    special[4, ::2] = -np.inf
    special[5, 1:] = f32min
    special[6, 20] = 88.0
    yield "special_rows_7x21", special, -1
    # Not the last axis: the three-pass loops.
    yield "axis0_37x5", rng.standard_normal((37, 5)).astype(np.float32) * 5, 0
    yield "axis1_of_3_4x6x5", rng.standard_normal((4, 6, 5)).astype(np.float32) * 5, 1


def check(x, axis, y1, y2):
    ref = reference(x, axis)
    if y1.shape != ref.shape:
        return "shape %s, expected %s" % (y1.shape, ref.shape)
    if not np.array_equal(y1.view(np.uint32), y2.view(np.uint32)):
        return "1 and 2 threads differ"
    nan_ref = np.isnan(ref)
    if not np.array_equal(np.isnan(y1), nan_ref):
        where = np.argwhere(np.isnan(y1) != nan_ref)[0]
        return "NaN pattern differs at %s: %r, expected %r" % (
            tuple(where), y1[tuple(where)], ref[tuple(where)])
    error = ulp_error(y1[~nan_ref], ref[~nan_ref])
    worst = float(error.max()) if error.size else 0.0
    bound = TWO_PASS_ULPS if axis in (-1, x.ndim - 1) else THREE_PASS_ULPS
    if worst > bound:
        flat = np.argmax(ulp_error(np.where(nan_ref, 0, y1), np.where(nan_ref, 0, ref)))
        at = np.unravel_index(flat, ref.shape)
        return "%.2f ulp > %d at %s: %r, expected %r" % (
            worst, bound, at, y1[at], ref[at])
    return None, worst


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quant-run", default="quant-run")
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    rng = np.random.default_rng(11)
    failures = 0

    def run_case(name, x, axis):
        work = os.path.join(args.work, name)
        os.makedirs(work, exist_ok=True)
        model_path = os.path.join(work, "model.onnx")
        onnx.save(softmax_model(x.shape, axis), model_path)
        x_path = os.path.join(work, "x.npy")
        np.save(x_path, x)
        return (run(args.quant_run, model_path, x_path, work, 1),
                run(args.quant_run, model_path, x_path, work, 2))

    for name, x, axis in cases(rng):
        y1, y2 = run_case(name, x, axis)
        result = check(x, axis, y1, y2)
        if isinstance(result, str):
            print("FAIL %s: %s" % (name, result))
            failures += 1
        else:
            print("ok %s max %.2f ulp" % (name, result[1]))

    # The two-pass kernel (axis -1) against the three-pass loops (axis 0 of
    # the transpose) on the same rows.
    x = rng.uniform(-80, 80, (64, 128)).astype(np.float32)
    two, _ = run_case("vs_three_pass_rows", x, -1)
    three, _ = run_case("vs_three_pass_columns", np.ascontiguousarray(x.T), 0)
    three = three.T
    ref = reference(x, -1)
    two_error = ulp_error(two, ref).max()
    three_error = ulp_error(three, ref).max()
    distance = ulp_error(two, three.astype(np.float64))
    ok = two_error <= TWO_PASS_ULPS and two_error <= three_error
    print("%s vs-three-pass 64x128 in [-80, 80]: two-pass %.2f ulp, three-pass "
          "%.2f ulp from float64; apart by %.2f ulp at most, %.3f on average" % (
              "ok" if ok else "FAIL", two_error, three_error, distance.max(),
              distance.mean()))
    failures += not ok
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
