#!/usr/bin/env python3
"""ONNX reductions over the last axis through quant-run's CPU pipeline
(quantc-vectorize-reductions) against float64 numpy.

One small model per case, run with `quant-run --threads 1` and `--threads 2`:

  * the two runs must be bit-identical;
  * sums and products within the f32 bound of any summation order,
    |y - ref| <= (n + 2) * eps * sum|terms| (n terms), max / min exact;
  * RMSNorm, LayerNormalization and LogSoftmax within 2e-6 relative (of
    max(|ref|, 1) for LogSoftmax).

Prints `ok <case> ...` or `FAIL <case>: <why>` per case.
"""
import argparse
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

EPS = float(np.finfo(np.float32).eps)


def value(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def reduce_case(op, shape, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    if op == "ReduceProd":
        x = (1 + 0.1 * x).astype(np.float32)
    out_shape = list(shape[:-1])
    inits = []
    if op == "ReduceSum":
        node = helper.make_node(op, ["x", "axes"], ["y"], keepdims=0)
        inits.append(numpy_helper.from_array(np.array([-1], dtype=np.int64), "axes"))
    else:
        node = helper.make_node(op, ["x"], ["y"], axes=[-1], keepdims=0)
    graph = helper.make_graph([node], op, [value("x", shape)], [value("y", out_shape)], inits)
    x64 = x.astype(np.float64)
    n = shape[-1]
    if op == "ReduceSum":
        ref, mag = x64.sum(-1), np.abs(x64).sum(-1)
    elif op == "ReduceMean":
        ref, mag = x64.mean(-1), np.abs(x64).mean(-1)
    elif op == "ReduceSumSquare":
        ref = (x64 * x64).sum(-1)
        mag = ref
    elif op == "ReduceProd":
        ref = x64.prod(-1)
        mag = np.abs(ref)
    elif op == "ReduceMax":
        ref, mag = x.max(-1).astype(np.float64), None
    else:
        ref, mag = x.min(-1).astype(np.float64), None
    bound = None if mag is None else (n + 2) * EPS * mag + 1e-30
    return graph, x, ref, bound


def rmsnorm_case(shape, rng):
    g = (1 + 0.1 * rng.standard_normal(shape[-1])).astype(np.float32)
    nodes = [helper.make_node("Mul", ["x", "x"], ["sq"]),
             helper.make_node("ReduceMean", ["sq"], ["ms"], axes=[-1], keepdims=1),
             helper.make_node("Add", ["ms", "eps"], ["mse"]),
             helper.make_node("Sqrt", ["mse"], ["rms"]),
             helper.make_node("Div", ["x", "rms"], ["xn"]),
             helper.make_node("Mul", ["xn", "g"], ["y"])]
    inits = [numpy_helper.from_array(g, "g"),
             numpy_helper.from_array(np.array(1e-5, dtype=np.float32), "eps")]
    graph = helper.make_graph(nodes, "rmsnorm", [value("x", shape)], [value("y", shape)], inits)
    x = rng.standard_normal(shape).astype(np.float32)
    x64 = x.astype(np.float64)
    ref = x64 / np.sqrt((x64 * x64).mean(-1, keepdims=True) + 1e-5) * g
    return graph, x, ref, 2e-6 * np.abs(ref) + 1e-30


def layernorm_case(shape, rng):
    g = rng.standard_normal(shape[-1]).astype(np.float32)
    b = rng.standard_normal(shape[-1]).astype(np.float32)
    node = helper.make_node("LayerNormalization", ["x", "g", "b"], ["y"], axis=-1)
    graph = helper.make_graph([node], "layernorm", [value("x", shape)], [value("y", shape)],
                              [numpy_helper.from_array(g, "g"), numpy_helper.from_array(b, "b")])
    x = (rng.standard_normal(shape) * 3 + 1).astype(np.float32)
    x64 = x.astype(np.float64)
    mean = x64.mean(-1, keepdims=True)
    var = ((x64 - mean) ** 2).mean(-1, keepdims=True)
    normed = (x64 - mean) / np.sqrt(var + 1e-5)
    ref = normed * g + b
    return graph, x, ref, 2e-6 * (np.abs(normed * g) + np.abs(b)) + 1e-30


def logsoftmax_case(shape, rng):
    node = helper.make_node("LogSoftmax", ["x"], ["y"], axis=-1)
    graph = helper.make_graph([node], "logsoftmax", [value("x", shape)], [value("y", shape)])
    x = (rng.standard_normal(shape) * 10).astype(np.float32)
    x64 = x.astype(np.float64)
    m = x64.max(-1, keepdims=True)
    ref = x64 - m - np.log(np.exp(x64 - m).sum(-1, keepdims=True))
    return graph, x, ref, 2e-6 * np.maximum(np.abs(ref), 1)


def cases(rng):
    yield "reducesum_7x300", reduce_case("ReduceSum", (7, 300), rng)
    yield "reducemean_3x5x64", reduce_case("ReduceMean", (3, 5, 64), rng)
    yield "reducemax_5x37", reduce_case("ReduceMax", (5, 37), rng)
    yield "reducemin_5x37", reduce_case("ReduceMin", (5, 37), rng)
    yield "reduceprod_4x9", reduce_case("ReduceProd", (4, 9), rng)
    yield "reducesumsquare_6x129", reduce_case("ReduceSumSquare", (6, 129), rng)
    yield "rmsnorm_128x256", rmsnorm_case((128, 256), rng)
    yield "layernorm_16x100", layernorm_case((16, 100), rng)
    yield "logsoftmax_9x77", logsoftmax_case((9, 77), rng)
    yield "long_row_sum_2x100000", reduce_case("ReduceSum", (2, 100000), rng)


def run(quant_run, model_path, x_path, work, threads):
    out_dir = os.path.join(work, "out%d" % threads)
    subprocess.run([quant_run, model_path, "--threads", str(threads),
                    "--input", "x=" + x_path, "--output-dir", out_dir],
                   check=True, stdout=subprocess.DEVNULL)
    return np.load(os.path.join(out_dir, "y.npy"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quant-run", default="quant-run")
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    rng = np.random.default_rng(5)
    failures = 0
    for name, (graph, x, ref, bound) in cases(rng):
        work = os.path.join(args.work, name)
        os.makedirs(work, exist_ok=True)
        model_path = os.path.join(work, "model.onnx")
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
                  model_path)
        x_path = os.path.join(work, "x.npy")
        np.save(x_path, x)
        y1 = run(args.quant_run, model_path, x_path, work, 1)
        y2 = run(args.quant_run, model_path, x_path, work, 2)
        error = np.abs(y1.astype(np.float64) - ref)
        if y1.shape != ref.shape:
            print("FAIL %s: shape %s, expected %s" % (name, y1.shape, ref.shape))
            failures += 1
        elif not np.array_equal(y1.view(np.uint32), y2.view(np.uint32)):
            print("FAIL %s: 1 and 2 threads differ" % name)
            failures += 1
        elif bound is None and not np.array_equal(y1.astype(np.float64), ref):
            print("FAIL %s: not exact (max error %g)" % (name, error.max()))
            failures += 1
        elif bound is not None and not (error <= bound).all():
            worst = np.unravel_index(np.argmax(error - bound), error.shape)
            print("FAIL %s: |error| %g > bound %g at %s" % (name, error[worst], bound[worst], worst))
            failures += 1
        else:
            print("ok %s max_error=%.3g" % (name, error.max()))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
