#!/usr/bin/env python3
"""Models for test/Import/onnx-reduce.test: the ONNX reductions at the opsets
where `axes` moved from an attribute to an input, with numpy references.

  make_reduce_onnx.py model OPSET OUT.onnx   write the model
  make_reduce_onnx.py input X.npy            write its input
  make_reduce_onnx.py check OPSET X.npy OUTDIR
                                             compare quant-run's outputs with
                                             numpy; print one line per output
"""
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

F32 = TensorProto.FLOAT
SHAPE = [2, 3, 4]


def cases(opset):
    """(output name, node builder args, numpy reference) for one opset."""
    axes_input = lambda op: opset >= (13 if op == "ReduceSum" else 18)
    out = []

    def reduce(op, name, ref, axes, **attrs):
        inputs = ["x"]
        inits = []
        if axes is not None and axes_input(op):
            inputs.append(name + "_axes")
            inits.append(numpy_helper.from_array(np.array(axes, np.int64), name + "_axes"))
        elif axes is not None:
            attrs["axes"] = axes
        node = helper.make_node(op, inputs, [name], name=name, **attrs)
        out.append((name, node, inits, ref))

    reduce("ReduceMean", "mean_last", lambda x: x.mean(-1, keepdims=True), [-1])
    reduce("ReduceSum", "sum_02", lambda x: x.sum((0, 2)), [0, 2], keepdims=0)
    reduce("ReduceMax", "max_all", lambda x: x.max(keepdims=True), None)
    reduce("ReduceLogSumExp", "lse_1", lambda x: np.log(np.exp(x).sum(1)), [1], keepdims=0)
    reduce("ReduceL2", "l2_0", lambda x: np.sqrt((x * x).sum(0, keepdims=True)), [0])
    if opset >= 13:
        # Empty axes with noop_with_empty_axes: nothing is reduced.
        name = "sum_noop"
        node = helper.make_node("ReduceSum", ["x"], [name], name=name, noop_with_empty_axes=1)
        out.append((name, node, [], lambda x: x))
    arg = dict(axis=1, keepdims=0)
    if opset >= 12:
        arg["select_last_index"] = 1
    out.append(("argmax_1", helper.make_node("ArgMax", ["xr"], ["argmax_1"], name="argmax_1", **arg), [],
                lambda x: (2 - np.flip(np.round(x), 1).argmax(1)) if opset >= 12 else np.round(x).argmax(1)))
    return out


def model(opset):
    nodes = [helper.make_node("Round", ["x"], ["xr"], name="round")]
    inits, outputs = [], []
    for name, node, node_inits, ref in cases(opset):
        nodes.append(node)
        inits += node_inits
        shape = list(np.shape(ref(make_input())))
        dtype = TensorProto.INT64 if name.startswith("arg") else F32
        outputs.append(helper.make_tensor_value_info(name, dtype, shape))
    graph = helper.make_graph(nodes, "reduce", [helper.make_tensor_value_info("x", F32, SHAPE)],
                              outputs, inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def make_input():
    # Rounded values repeat, so ArgMax's select_last_index matters.
    return (np.random.default_rng(0).standard_normal(SHAPE) * 0.7).astype(np.float32)


def main():
    if sys.argv[1] == "model":
        with open(sys.argv[3], "wb") as f:
            f.write(model(int(sys.argv[2])).SerializeToString())
    elif sys.argv[1] == "input":
        np.save(sys.argv[2], make_input())
    elif sys.argv[1] == "check":
        opset, x, outdir = int(sys.argv[2]), np.load(sys.argv[3]), sys.argv[4]
        ok = True
        for name, _, _, ref in cases(opset):
            want = ref(x.astype(np.float64) if not name.startswith("arg") else x)
            got = np.load(os.path.join(outdir, name + ".npy"))
            good = got.shape == np.shape(want) and np.allclose(got, want, rtol=1e-5, atol=1e-5)
            ok &= good
            print(f"{name}: {'ok' if good else 'MISMATCH'} {got.shape}")
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
