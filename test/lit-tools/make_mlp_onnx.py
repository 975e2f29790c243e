#!/usr/bin/env python3
"""Writes a small ONNX MLP for the quantization tests, and a seeded input for it.

  make_mlp_onnx.py [--hidden 128,96] [--seed 0] OUT.onnx [--input X.npy]
  make_mlp_onnx.py --conv [--seed 0] OUT.onnx [--input X.npy]

The graph covers the layer forms the importer emits:
  x [4, 16, 64] -> fc1: MatMul (3-D activation, collapsed to [64, 64]) + bias -> Relu
                -> fc2: MatMul + bias -> Relu -> Reshape [64, H2]
                -> head: Gemm(transB=1, a [64, H2] weight stored [N, K]) + bias -> y [64, 64]
--hidden sets H1, H2 (e.g. 128,40 gives head a reduction dim of 40, which
blocks of 16 or 32 do not divide). Weights are Gaussian / sqrt(K) with a few
larger input channels, as in trained layers; the input is Gaussian with a few
outlier channels. Run with /usr/bin/python3 (numpy, onnx).

--conv writes three convolutions instead: x [1, 64, 8, 8] -> conv1 (3x3, 64 -> 32, bias)
-> Relu -> conv_grouped (3x3, groups 2: 16 input channels per group) -> conv_dw
(depthwise 3x3) -> y [1, 32, 8, 8].
"""
import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--hidden", default="128,96")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--input", help="also write a seeded input x.npy here")
    parser.add_argument("--conv", action="store_true", help="the convolution model")
    args = parser.parse_args()
    if args.conv:
        return conv_model(args)
    h1, h2 = (int(v) for v in args.hidden.split(","))
    rng = np.random.default_rng(args.seed)
    d_in, d_out, batch, seq = 64, 64, 4, 16

    def weight(k, n, name, transposed=False):
        w = rng.standard_normal((k, n)).astype(np.float32) / np.sqrt(k)
        w[rng.choice(k, size=max(1, k // 32), replace=False)] *= 4.0
        if transposed:
            w = np.ascontiguousarray(w.T)
        return numpy_helper.from_array(w, name)

    def bias(n, name):
        return numpy_helper.from_array((0.1 * rng.standard_normal(n)).astype(np.float32), name)

    inits = [weight(d_in, h1, "w1"), bias(h1, "b1"), weight(h1, h2, "w2"), bias(h2, "b2"),
             weight(h2, d_out, "w3", transposed=True), bias(d_out, "b3"),
             numpy_helper.from_array(np.array([batch * seq, h2], dtype=np.int64), "shape2d")]
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h1"], name="fc1"),
        helper.make_node("Add", ["h1", "b1"], ["h1b"], name="fc1_bias"),
        helper.make_node("Relu", ["h1b"], ["a1"], name="act1"),
        helper.make_node("MatMul", ["a1", "w2"], ["h2"], name="fc2"),
        helper.make_node("Add", ["h2", "b2"], ["h2b"], name="fc2_bias"),
        helper.make_node("Relu", ["h2b"], ["a2"], name="act2"),
        helper.make_node("Reshape", ["a2", "shape2d"], ["a2flat"], name="flatten"),
        helper.make_node("Gemm", ["a2flat", "w3", "b3"], ["y"], name="head", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, seq, d_in])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch * seq, d_out])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="make_mlp_onnx.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, args.out)

    if args.input:
        x = rng.standard_normal((batch, seq, d_in)).astype(np.float32)
        x[..., rng.choice(d_in, size=2, replace=False)] *= 8.0
        np.save(args.input, x)


def conv_model(args):
    rng = np.random.default_rng(args.seed)

    def filt(f, c, name):
        return numpy_helper.from_array(
            (rng.standard_normal((f, c, 3, 3)) / np.sqrt(9 * c)).astype(np.float32), name)

    inits = [filt(32, 64, "w1"), numpy_helper.from_array(
        (0.1 * rng.standard_normal(32)).astype(np.float32), "b1"),
        filt(32, 16, "w2"), filt(32, 1, "w3")]
    pads = [1, 1, 1, 1]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=pads),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv_grouped", pads=pads, group=2),
        helper.make_node("Conv", ["c2", "w3"], ["y"], name="conv_dw", pads=pads, group=32),
    ]
    graph = helper.make_graph(
        nodes, "convs", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 32, 8, 8])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="make_mlp_onnx.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, args.out)
    if args.input:
        np.save(args.input, rng.standard_normal((1, 64, 8, 8)).astype(np.float32))


if __name__ == "__main__":
    main()
