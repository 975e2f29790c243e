#!/usr/bin/env python3
"""Models for test/Import/onnx-op-forms.test: opset forms of ops the ONNX node
tests exercise only in their newest (or oldest) form, each a one-node model
with a numpy reference.

  make_forms_onnx.py model CASE OUT.onnx        write the model
  make_forms_onnx.py inputs CASE DIR            write DIR/input_<i>.pb
  make_forms_onnx.py check CASE DIR OUTDIR      compare quant-run's outputs
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F32, I64 = TensorProto.FLOAT, TensorProto.INT64
RNG = np.random.default_rng(7)
X24 = RNG.standard_normal((2, 4)).astype(np.float32)
X27 = RNG.standard_normal((2, 7)).astype(np.float32)
X1133 = RNG.standard_normal((1, 1, 3, 3)).astype(np.float32)
X35 = np.round(RNG.standard_normal((3, 5)) * 4).astype(np.float32)


def const(name, values):
    return numpy_helper.from_array(np.array(values, np.int64), name)


def topk_ref(x, k, axis, largest=True):
    order = np.argsort(-x if largest else x, axis=axis, kind="stable")
    idx = np.take(order, np.arange(k), axis=axis)
    return np.take_along_axis(x, idx, axis=axis), idx.astype(np.int64)


# name: (opset, node, inputs {name: array}, initializers, {output: reference})
CASES = {
    # Split-11: sizes as an attribute.
    "split11": (11, helper.make_node("Split", ["x"], ["a", "b"], axis=1, split=[1, 3]),
                {"x": X24}, [], {"a": X24[:, :1], "b": X24[:, 1:]}),
    # Split-18: num_outputs, the last part smaller.
    "split18": (18, helper.make_node("Split", ["x"], ["a", "b", "c"], axis=1, num_outputs=3),
                {"x": X27}, [], {"a": X27[:, :3], "b": X27[:, 3:6], "c": X27[:, 6:]}),
    # Pad-18: only the axes listed (reflect on axis 1).
    "pad18axes": (18, helper.make_node("Pad", ["x", "pads", "", "axes"], ["y"], mode="reflect"),
                  {"x": X24}, [const("pads", [2, 1]), const("axes", [1])],
                  {"y": np.pad(X24, [(0, 0), (2, 1)], mode="reflect")}),
    # Pad-19: wrap mode (pads up to the axis size; beyond it numpy's wrap,
    # ONNX's reference, is not periodic, and quantc rejects it).
    "pad19wrap": (19, helper.make_node("Pad", ["x", "pads"], ["y"], mode="wrap"),
                  {"x": X24}, [const("pads", [1, 3, 0, 4])],
                  {"y": np.pad(X24, [(1, 0), (3, 4)], mode="wrap")}),
    # Pad-2: pads and value as attributes, negative pads crop.
    "pad2": (2, helper.make_node("Pad", ["x"], ["y"], pads=[0, -1, 1, 2], value=1.5),
             {"x": X24}, [],
             {"y": np.pad(X24[:, 1:], [(0, 1), (0, 2)], constant_values=1.5)}),
    # TopK-1: k as an attribute; ties resolved to the lower index.
    "topk1": (1, helper.make_node("TopK", ["x"], ["v", "i"], k=3, axis=1),
              {"x": X35}, [],
              dict(zip(["v", "i"], topk_ref(X35, 3, 1)))),
    # TopK-11 smallest along axis 0.
    "topk11small": (11, helper.make_node("TopK", ["x", "k"], ["v", "i"], axis=0, largest=0),
                    {"x": X35}, [const("k", [2])],
                    dict(zip(["v", "i"], topk_ref(X35, 2, 0, largest=False)))),
    # Resize-10: scales input, nearest = floor(x_out / scale).
    "resize10": (10, helper.make_node("Resize", ["x", "scales"], ["y"], mode="nearest"),
                 {"x": X1133},
                 [numpy_helper.from_array(np.array([1, 1, 2, 1.5], np.float32), "scales")],
                 {"y": X1133[:, :, [0, 0, 1, 1, 2, 2]][:, :, :, [0, 0, 1, 2]]}),
    # ScatterND-18 with max reduction and a duplicate index.
    "scatternd18max": (18, helper.make_node("ScatterND", ["x", "idx", "u"], ["y"], reduction="max"),
                       {"x": X24, "u": np.array([[5, -5, 0, 1], [0, 9, -9, 0]], np.float32)},
                       [const("idx", [[1], [1]])],
                       {"y": np.vstack([X24[0], np.maximum(np.maximum(X24[1], [5, -5, 0, 1]),
                                                           [0, 9, -9, 0])]).astype(np.float32)}),
}


def model(case):
    opset, node, inputs, inits, outputs = CASES[case]
    graph = helper.make_graph(
        [node], case,
        [helper.make_tensor_value_info(n, F32, v.shape) for n, v in inputs.items()],
        [helper.make_tensor_value_info(n, I64 if v.dtype == np.int64 else F32, v.shape)
         for n, v in outputs.items()],
        inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def main():
    command, case = sys.argv[1], sys.argv[2]
    if command == "model":
        with open(sys.argv[3], "wb") as f:
            f.write(model(case).SerializeToString())
    elif command == "inputs":
        os.makedirs(sys.argv[3], exist_ok=True)
        for index, (name, value) in enumerate(CASES[case][2].items()):
            with open(os.path.join(sys.argv[3], f"input_{index}.pb"), "wb") as f:
                f.write(numpy_helper.from_array(value, name).SerializeToString())
    elif command == "check":
        ok = True
        for name, want in CASES[case][4].items():
            got = np.load(os.path.join(sys.argv[4], name + ".npy"))
            good = (got.shape == want.shape and got.dtype == want.dtype
                    and np.allclose(got, want, rtol=1e-6, atol=1e-6))
            ok &= good
            print(f"{case} {name}: {'ok' if good else 'MISMATCH'} {got.shape}"
                  + ("" if good else f" got {got.tolist()} want {want.tolist()}"))
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
