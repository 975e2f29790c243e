#!/usr/bin/env python3
"""Writes an ONNX model whose MatMuls are followed by the elementwise ops
qc-lower-cpu folds into its kernels' stores, and a seeded input for it.

  make_epilogue_onnx.py OUT.onnx --input X.npy [--seed 0]

x [3, 5, 64] (15 rows, a 3-D activation collapsed to [15, 64]):
  relu   = Relu(x W1 + b1)                            N = 96
  gelu   = 0.5 h (1 + Tanh(sqrt(2/pi) (h + 0.044715 h^3))), h = x W2 + b2
                                                      N = 72 (a partial tile)
  erf    = 0.5 h (1 + Erf(h / sqrt 2)), h = x W3 + b3  N = 40, GELU as
           torch.onnx writes it for opsets without Gelu
  swiglu = x + (Sigmoid(x Wg) * (x Wg) * (x Wu)) Wd     N = 96 gate / up, a
           residual add after the down projection (N = 64)
  gemm   = Gemm(x2d, W5, b5, transB = 1)              N = 33 (odd)
Run with /usr/bin/python3 (numpy, onnx).
"""
import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--input", required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    batch, seq, d = 3, 5, 64
    inits = []

    def weight(k, n, name, transposed=False):
        w = rng.standard_normal((k, n)).astype(np.float32) / np.sqrt(k)
        if transposed:
            w = np.ascontiguousarray(w.T)
        inits.append(numpy_helper.from_array(w, name))
        return name

    def bias(n, name):
        inits.append(numpy_helper.from_array(
            (0.5 * rng.standard_normal(n)).astype(np.float32), name))
        return name

    def const(value, name):
        inits.append(numpy_helper.from_array(np.array(value, dtype=np.float32), name))
        return name

    node = helper.make_node
    const(1.0, "one")
    const(0.5, "half")
    nodes = [
        node("MatMul", ["x", weight(d, 96, "w1")], ["h1"]),
        node("Add", ["h1", bias(96, "b1")], ["h1b"]),
        node("Relu", ["h1b"], ["relu"]),
        node("MatMul", ["x", weight(d, 72, "w2")], ["h2"]),
        node("Add", ["h2", bias(72, "b2")], ["h2b"]),
        # GELU, tanh approximation, as written for opsets without Gelu.
        node("Mul", ["h2b", "h2b"], ["h2sq"]),
        node("Mul", ["h2sq", "h2b"], ["h2cube"]),
        node("Mul", ["h2cube", const(0.044715, "c044715")], ["h2c"]),
        node("Add", ["h2b", "h2c"], ["h2sum"]),
        node("Mul", ["h2sum", const(0.7978845608028654, "sqrt2pi")], ["h2in"]),
        node("Tanh", ["h2in"], ["h2t"]),
        node("Add", ["h2t", "one"], ["h2p"]),
        node("Mul", ["h2b", "half"], ["h2h"]),
        node("Mul", ["h2h", "h2p"], ["gelu"]),
        node("MatMul", ["x", weight(d, 40, "w3")], ["h3"]),
        node("Add", ["h3", bias(40, "b3")], ["h3b"]),
        node("Div", ["h3b", const(1.4142135381698608, "sqrt2")], ["h3s"]),
        node("Erf", ["h3s"], ["h3e"]),
        node("Add", ["h3e", "one"], ["h3p"]),
        node("Mul", ["h3b", "h3p"], ["h3m"]),
        node("Mul", ["h3m", "half"], ["erf"]),
        node("MatMul", ["x", weight(d, 96, "wg")], ["gate"]),
        node("Sigmoid", ["gate"], ["gate_s"]),
        node("Mul", ["gate", "gate_s"], ["silu"]),
        node("MatMul", ["x", weight(d, 96, "wu")], ["up"]),
        node("Mul", ["silu", "up"], ["prod"]),
        node("MatMul", ["prod", weight(96, d, "wd")], ["down"]),
        node("Add", ["x", "down"], ["swiglu"]),
        node("Reshape", ["x", "shape2d"], ["x2d"]),
        node("Gemm", ["x2d", weight(d, 33, "w5", transposed=True), bias(33, "b5")], ["gemm"],
             transB=1),
    ]
    inits.append(numpy_helper.from_array(np.array([batch * seq, d], dtype=np.int64), "shape2d"))
    f = TensorProto.FLOAT
    outputs = [helper.make_tensor_value_info("relu", f, [batch, seq, 96]),
               helper.make_tensor_value_info("gelu", f, [batch, seq, 72]),
               helper.make_tensor_value_info("erf", f, [batch, seq, 40]),
               helper.make_tensor_value_info("swiglu", f, [batch, seq, d]),
               helper.make_tensor_value_info("gemm", f, [batch * seq, 33])]
    graph = helper.make_graph(nodes, "epilogues",
                              [helper.make_tensor_value_info("x", f, [batch, seq, d])],
                              outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="make_epilogue_onnx.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, args.out)
    np.save(args.input, rng.standard_normal((batch, seq, d)).astype(np.float32))


if __name__ == "__main__":
    main()
