#!/usr/bin/python3
"""Writes ONNX models of the layers quantc-bench-cpu times, for ONNX Runtime.

Each model is one com.microsoft MatMulNBits node, Y[M, N] = A[M, K] x B^T, with
4-bit weights in blocks of 32 along K, one f32 scale per block and no zero
points (so the default zero point 8: code - 8, the same grid as quantc's
int4_g32), and a symbolic M so that one model serves every n. accuracy_level
4 makes ONNX Runtime quantize A to int8 per block and use VNNI; level 0 keeps
A in f32. Streaming runs need several copies with different weights.

  make_models.py OUT_DIR [--shapes 4096x4096,4096x14336,14336x4096]
                 [--levels 0,4] [--copies 6]

Shapes are K x N (input features x output features). Needs /usr/bin/python3
with onnx and numpy (Debian's python3-onnx).
"""
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper


def make_model(k, n, level, seed, block=32):
    rng = np.random.default_rng(seed)
    blocks = k // block
    codes = rng.integers(0, 256, size=(n, blocks, block // 2), dtype=np.uint8)
    scales = (rng.random(n * blocks, dtype=np.float32) * 0.01 + 0.001).astype(np.float32)
    node = helper.make_node(
        "MatMulNBits", ["A", "B", "scales"], ["Y"], domain="com.microsoft",
        K=k, N=n, bits=4, block_size=block, accuracy_level=level)
    graph = helper.make_graph(
        [node], "matmulnbits_%dx%d" % (k, n),
        [helper.make_tensor_value_info("A", TensorProto.FLOAT, ["M", k])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["M", n])],
        initializer=[
            helper.make_tensor("B", TensorProto.UINT8, codes.shape, codes.tobytes(), raw=True),
            helper.make_tensor("scales", TensorProto.FLOAT, scales.shape, scales.tobytes(), raw=True),
        ])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--shapes", default="4096x4096,4096x14336,14336x4096")
    parser.add_argument("--levels", default="0,4")
    parser.add_argument("--copies", type=int, default=6,
                        help="models per shape and level with different weights "
                             "(a rotating set for the streaming runs)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for shape in args.shapes.split(","):
        k, n = map(int, shape.split("x"))
        for level in map(int, args.levels.split(",")):
            for copy in range(args.copies):
                path = os.path.join(args.out, "matmulnbits_K%d_N%d_b32_level%d_%d.onnx"
                                    % (k, n, level, copy))
                if not os.path.exists(path):
                    onnx.save(make_model(k, n, level, seed=copy), path)
                    print(path)


if __name__ == "__main__":
    main()
