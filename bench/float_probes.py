#!/usr/bin/env python3
"""Time the test decoder's float code outside the matmuls, one op at a time.

Small ONNX models, each one piece of a forward of the test decoder
(scripts/make-test-decoder.py: 4 heads, 128 positions, hidden 256, FFN 768),
run by `quant-run MODEL --benchmark RUNS --threads T` for each build given:

  softmax     Softmax(scores + causal mask) over [1, 4, 128, 128] (one
              layer's attention rows)
  rmsnorm     x * (1 / sqrt(mean(x^2) + eps)) * g over [1, 128, 256]
  reducesum   ReduceSum over the last axis of [128, 768]
  layernorm   LayerNormalization over the last axis of [128, 256]
  matmul256   [1, 128, 256] x [256, 256] weights (wq, wk, wv, wo: 16 per
              forward, 17 with the LM head)
  matmul768   [1, 128, 256] x [256, 768] weights (w1, w3; w2 is
              768 x 256, the same work: 12 per forward)
  attention   softmax(Q K^T / 8 + mask) V for 4 heads of 64 over 128
              positions (one layer)

Prints a Markdown table of median (min) microseconds per call per build.
Measures; asserts nothing.

  bench/float_probes.py --bin before=/path/to/old/bin --bin after=build/bin
                        [--threads 1,2] [--runs 200] [--probes softmax,...]
"""
import argparse
import os
import re
import subprocess

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def value(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def softmax_probe(rng):
    n = 128
    mask = np.triu(np.full((n, n), -np.inf, dtype=np.float32), 1)[None, None]
    nodes = [helper.make_node("Add", ["x", "mask"], ["s"]),
             helper.make_node("Softmax", ["s"], ["y"], axis=-1)]
    graph = helper.make_graph(nodes, "softmax", [value("x", [1, 4, n, n])],
                              [value("y", [1, 4, n, n])],
                              [numpy_helper.from_array(mask, "mask")])
    return graph, {"x": (rng.standard_normal((1, 4, n, n)) * 3).astype(np.float32)}


def rmsnorm_probe(rng):
    g = (1 + 0.1 * rng.standard_normal(256)).astype(np.float32)
    nodes = [helper.make_node("Mul", ["x", "x"], ["sq"]),
             helper.make_node("ReduceMean", ["sq"], ["ms"], axes=[-1], keepdims=1),
             helper.make_node("Add", ["ms", "eps"], ["mse"]),
             helper.make_node("Sqrt", ["mse"], ["rms"]),
             helper.make_node("Div", ["one", "rms"], ["inv"]),
             helper.make_node("Mul", ["x", "inv"], ["xn"]),
             helper.make_node("Mul", ["xn", "g"], ["y"])]
    inits = [numpy_helper.from_array(g, "g"),
             numpy_helper.from_array(np.array(1e-5, dtype=np.float32), "eps"),
             numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one")]
    graph = helper.make_graph(nodes, "rmsnorm", [value("x", [1, 128, 256])],
                              [value("y", [1, 128, 256])], inits)
    return graph, {"x": rng.standard_normal((1, 128, 256)).astype(np.float32)}


def reducesum_probe(rng):
    nodes = [helper.make_node("ReduceSum", ["x", "axes"], ["y"], keepdims=0)]
    inits = [numpy_helper.from_array(np.array([-1], dtype=np.int64), "axes")]
    graph = helper.make_graph(nodes, "reducesum", [value("x", [128, 768])],
                              [value("y", [128])], inits)
    return graph, {"x": rng.standard_normal((128, 768)).astype(np.float32)}


def layernorm_probe(rng):
    nodes = [helper.make_node("LayerNormalization", ["x", "g", "b"], ["y"], axis=-1)]
    inits = [numpy_helper.from_array(np.ones(256, dtype=np.float32), "g"),
             numpy_helper.from_array(np.zeros(256, dtype=np.float32), "b")]
    graph = helper.make_graph(nodes, "layernorm", [value("x", [128, 256])],
                              [value("y", [128, 256])], inits)
    return graph, {"x": rng.standard_normal((128, 256)).astype(np.float32)}


def matmul_probe(n):
    def make(rng):
        w = (rng.standard_normal((256, n)) * 0.05).astype(np.float32)
        node = helper.make_node("MatMul", ["x", "w"], ["y"])
        graph = helper.make_graph([node], "matmul", [value("x", [1, 128, 256])],
                                  [value("y", [1, 128, n])],
                                  [numpy_helper.from_array(w, "w")])
        return graph, {"x": rng.standard_normal((1, 128, 256)).astype(np.float32)}
    return make


def attention_probe(rng):
    n = 128
    mask = np.triu(np.full((n, n), -np.inf, dtype=np.float32), 1)[None, None]
    nodes = [helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
             helper.make_node("MatMul", ["q", "kt"], ["s0"]),
             helper.make_node("Mul", ["s0", "scale"], ["s1"]),
             helper.make_node("Add", ["s1", "mask"], ["s"]),
             helper.make_node("Softmax", ["s"], ["p"], axis=-1),
             helper.make_node("MatMul", ["p", "v"], ["y"])]
    shape = [1, 4, n, 64]
    graph = helper.make_graph(
        nodes, "attention", [value("q", shape), value("k", shape), value("v", shape)],
        [value("y", shape)],
        [numpy_helper.from_array(mask, "mask"),
         numpy_helper.from_array(np.array(0.125, dtype=np.float32), "scale")])
    return graph, {name: rng.standard_normal(shape).astype(np.float32) for name in "qkv"}


PROBES = {"softmax": softmax_probe, "rmsnorm": rmsnorm_probe,
          "reducesum": reducesum_probe, "layernorm": layernorm_probe,
          "matmul256": matmul_probe(256), "matmul768": matmul_probe(768),
          "attention": attention_probe}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", action="append", required=True,
                        help="NAME=DIR of a build's bin/ (repeatable)")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--probes", default=",".join(PROBES))
    parser.add_argument("--work", default=os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                                       "quantc-float-probes"))
    args = parser.parse_args()
    builds = [b.split("=", 1) for b in args.bin]
    rng = np.random.default_rng(3)
    print("| probe | threads | " + " | ".join("%s: median (min) us" % name for name, _ in builds) + " |")
    print("| --- | ---: |" + " ---: |" * len(builds))
    for probe in args.probes.split(","):
        graph, inputs = PROBES[probe](rng)
        work = os.path.join(args.work, probe)
        os.makedirs(work, exist_ok=True)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        path = os.path.join(work, "model.onnx")
        onnx.save(model, path)
        flags = []
        for name, array in inputs.items():
            np.save(os.path.join(work, name + ".npy"), array)
            flags += ["--input", "%s=%s" % (name, os.path.join(work, name + ".npy"))]
        for threads in args.threads.split(","):
            cells = []
            for name, directory in builds:
                out = subprocess.run(
                    [os.path.join(directory, "quant-run"), path, *flags,
                     "--output-dir", os.path.join(work, "out-" + name),
                     "--benchmark", str(args.runs), "--threads", threads],
                    check=True, capture_output=True, text=True).stdout
                m = re.search(r"median: ([0-9.]+) us\s+min: ([0-9.]+) us", out)
                cells.append("%s (%s)" % (m.group(1), m.group(2)) if m else "?")
            print("| %s | %s | %s |" % (probe, threads, " | ".join(cells)))


if __name__ == "__main__":
    main()
