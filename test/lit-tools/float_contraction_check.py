#!/usr/bin/env python3
"""Float convolutions and matmuls through quant-run against numpy.

Builds one small ONNX model per case (Conv with strides, padding, dilation,
groups, depthwise, bias or not; Relu(Conv(x) + x); MatMul / Gemm of odd
sizes), runs it with
`quant-run --threads 1` and `--threads 2`, and checks

  * the two runs are bit-identical (results must not depend on the thread
    count), and
  * every output is within the f32 accumulation bound of the float64
    reference: |y - ref| <= 4 * (terms + 2) * eps_f32 * sum|products| + tiny,
    where terms is the number of products summed into it.

Prints `ok <case>` or `FAIL <case>: <why>` per case.
"""
import argparse
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def conv_reference(x, w, b, strides, pads, dilations, group):
    x = x.astype(np.float64)
    w = w.astype(np.float64)
    n, c, h, wd = x.shape
    f, cg, kh, kw = w.shape
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh = (x.shape[2] - dilations[0] * (kh - 1) - 1) // strides[0] + 1
    ow = (x.shape[3] - dilations[1] * (kw - 1) - 1) // strides[1] + 1
    y = np.zeros((n, f, oh, ow))
    mag = np.zeros((n, f, oh, ow))
    fg = f // group
    for o in range(f):
        g = o // fg
        for ci in range(cg):
            for i in range(kh):
                for j in range(kw):
                    patch = x[:, g * cg + ci,
                              i * dilations[0]:i * dilations[0] + strides[0] * (oh - 1) + 1:strides[0],
                              j * dilations[1]:j * dilations[1] + strides[1] * (ow - 1) + 1:strides[1]]
                    y[:, o] += patch * w[o, ci, i, j]
                    mag[:, o] += np.abs(patch * w[o, ci, i, j])
    if b is not None:
        y += b.astype(np.float64)[None, :, None, None]
        mag += np.abs(b.astype(np.float64))[None, :, None, None]
    return y, mag, cg * kh * kw + 1


def conv_model(case, rng):
    n, c, h, wd, f, kh, kw, strides, pads, dilations, group, bias = case
    x = rng.standard_normal((n, c, h, wd)).astype(np.float32)
    w = rng.standard_normal((f, c // group, kh, kw)).astype(np.float32)
    b = rng.standard_normal(f).astype(np.float32) if bias else None
    inits = [numpy_helper.from_array(w, "w")]
    inputs = ["x", "w"]
    if bias:
        inits.append(numpy_helper.from_array(b, "b"))
        inputs.append("b")
    node = helper.make_node("Conv", inputs, ["y"], strides=list(strides),
                            pads=list(pads), dilations=list(dilations),
                            group=group, kernel_shape=[kh, kw])
    y, mag, terms = conv_reference(x, w, b, strides, pads, dilations, group)
    graph = helper.make_graph(
        [node], "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(y.shape))],
        inits)
    return graph, {"x": x}, y, mag, terms


def conv_residual_relu_model(case, rng):
    """Relu(Conv(x) + x): the add and the Relu become the kernel's epilogue."""
    graph, inputs, y, mag, terms = conv_model(case, rng)
    conv = graph.node[0]
    conv.output[0] = "conv"
    add = helper.make_node("Add", ["conv", "x"], ["sum"])
    relu = helper.make_node("Relu", ["sum"], ["y"])
    graph = helper.make_graph([conv, add, relu], "conv_residual_relu",
                              list(graph.input), list(graph.output),
                              list(graph.initializer))
    x = inputs["x"].astype(np.float64)
    return (graph, inputs, np.maximum(y + x, 0), mag + np.abs(x), terms + 1)


def matmul_model(case, rng):
    batch, m, k, n, gemm = case
    a_shape = ([batch] if batch else []) + [m, k]
    a = rng.standard_normal(a_shape).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    if gemm:
        c = rng.standard_normal(n).astype(np.float32)
        node = helper.make_node("Gemm", ["a", "b", "c"], ["y"])
        inits = [numpy_helper.from_array(b, "b"), numpy_helper.from_array(c, "c")]
        y = a.astype(np.float64) @ b.astype(np.float64) + c
        mag = np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64)) + np.abs(c)
    else:
        node = helper.make_node("MatMul", ["a", "b"], ["y"])
        inits = [numpy_helper.from_array(b, "b")]
        y = a.astype(np.float64) @ b.astype(np.float64)
        mag = np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64))
    graph = helper.make_graph(
        [node], "matmul",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, list(a.shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(y.shape))],
        inits)
    return graph, {"a": a}, y, mag, k + 1


# n, c, h, w, f, kh, kw, strides, pads (t, l, b, r), dilations, group, bias
CONV_CASES = {
    "conv3x3_pad1": (1, 3, 17, 19, 5, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1, True),
    "conv5x5_stride2_asym_pad": (1, 3, 33, 31, 24, 5, 5, (2, 2), (1, 1, 2, 2), (1, 1), 1, True),
    "conv3x3_stride3": (1, 4, 20, 41, 7, 3, 3, (3, 3), (0, 0, 0, 0), (1, 1), 1, False),
    "conv3x3_dilation2": (1, 5, 16, 37, 6, 3, 3, (1, 1), (2, 2, 2, 2), (2, 2), 1, True),
    "conv_stride2x1_dilation1x3": (2, 3, 15, 23, 9, 3, 2, (2, 1), (1, 0, 1, 0), (1, 3), 1, True),
    "conv_groups3": (1, 6, 12, 35, 9, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 3, True),
    "depthwise3x3": (1, 24, 18, 66, 24, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 24, False),
    "depthwise3x3_stride2": (1, 28, 17, 33, 28, 3, 3, (2, 2), (0, 0, 1, 1), (1, 1), 28, True),
    "depthwise_multiplier2": (1, 4, 9, 21, 8, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 4, True),
    "pointwise_odd": (1, 29, 7, 9, 37, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1, True),
    "pointwise_wide": (1, 48, 4, 130, 13, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1, False),
}

# Same fields; output shape = input shape (the residual is x).
RESIDUAL_CASES = {
    "pointwise_bias_add_relu": (1, 24, 12, 40, 24, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1, True),
    "depthwise_add_relu": (1, 16, 10, 21, 16, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 16, False),
}

# batch (0: none), m, k, n, gemm with bias
MATMUL_CASES = {
    "matmul_1x7x37": (0, 1, 7, 37, False),
    "matmul_5x33x17": (0, 5, 33, 17, False),
    "matmul_13x64x129": (0, 13, 64, 129, False),
    "batch_matmul_3x9x11x70": (3, 9, 11, 70, False),
    "gemm_bias_7x19x45": (0, 7, 19, 45, True),
}


def run(quant_run, model_path, inputs, work, threads):
    out_dir = os.path.join(work, "out%d" % threads)
    args = [quant_run, model_path, "--threads", str(threads), "--output-dir", out_dir]
    for name, path in inputs.items():
        args += ["--input", "%s=%s" % (name, path)]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    files = [f for f in os.listdir(out_dir) if f.endswith(".npy")]
    assert len(files) == 1, files
    return np.load(os.path.join(out_dir, files[0]))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quant-run", default="quant-run")
    parser.add_argument("--work", required=True)
    parser.add_argument("--cases", default="all")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    cases = [(name, conv_model, case) for name, case in CONV_CASES.items()]
    cases += [(name, conv_residual_relu_model, case)
              for name, case in RESIDUAL_CASES.items()]
    cases += [(name, matmul_model, case) for name, case in MATMUL_CASES.items()]
    if args.cases != "all":
        wanted = set(args.cases.split(","))
        cases = [c for c in cases if c[0] in wanted]
    failures = 0
    for name, make, case in cases:
        work = os.path.join(args.work, name)
        os.makedirs(work, exist_ok=True)
        graph, inputs, ref, mag, terms = make(case, rng)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model_path = os.path.join(work, "model.onnx")
        onnx.save(model, model_path)
        paths = {}
        for input_name, value in inputs.items():
            paths[input_name] = os.path.join(work, input_name + ".npy")
            np.save(paths[input_name], value)
        y1 = run(args.quant_run, model_path, paths, work, 1)
        y2 = run(args.quant_run, model_path, paths, work, 2)
        bound = 4 * (terms + 2) * np.finfo(np.float32).eps * mag + 1e-30
        error = np.abs(y1.astype(np.float64) - ref)
        if y1.shape != ref.shape:
            print("FAIL %s: shape %s, expected %s" % (name, y1.shape, ref.shape))
            failures += 1
        elif not np.array_equal(y1.view(np.uint32), y2.view(np.uint32)):
            print("FAIL %s: 1 and 2 threads differ" % name)
            failures += 1
        elif not (error <= bound).all():
            worst = np.unravel_index(np.argmax(error - bound), error.shape)
            print("FAIL %s: |error| %g > bound %g at %s" %
                  (name, error[worst], bound[worst], worst))
            failures += 1
        else:
            print("ok %s shape=%s max_error=%.3g" % (name, "x".join(map(str, y1.shape)),
                                                    error.max()))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
