#!/usr/bin/env python3
"""Models for test/Import/onnx-conv.test: the Conv cases the ONNX node tests
leave out (group, depthwise, dilations, 1-D, auto_pad with strides), with a
float64 numpy reference.

  make_conv_onnx.py model OUT.onnx      write the model (inputs x2, x1)
  make_conv_onnx.py input X2.npy X1.npy write its inputs
  make_conv_onnx.py check X2.npy X1.npy OUTDIR
                                        compare quant-run's outputs with
                                        numpy; print one line per output
"""
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

F32 = TensorProto.FLOAT
X2 = [1, 8, 9, 9]
X1 = [2, 6, 11]
# name, input, weight shape, attributes
CASES = [
    ("depthwise_s2_bias", "x2", [8, 1, 3, 3], dict(group=8, strides=[2, 2], pads=[1, 1, 1, 1])),
    ("group2_dil_asym", "x2", [6, 4, 3, 2], dict(group=2, dilations=[2, 1], pads=[0, 1, 2, 0])),
    ("depthwise_same_upper", "x2", [8, 1, 5, 5], dict(group=8, strides=[2, 2], auto_pad="SAME_UPPER")),
    ("group4_same_lower", "x2", [4, 2, 2, 2], dict(group=4, auto_pad="SAME_LOWER")),
    ("mult2_valid", "x2", [16, 1, 3, 3], dict(group=8, auto_pad="VALID")),
    ("conv1d_group3", "x1", [3, 2, 3], dict(group=3, strides=[2], dilations=[2], pads=[1, 2])),
    ("conv1d_plain", "x1", [5, 6, 4], dict(pads=[2, 1])),
]


def weights(name, shape):
    rng = np.random.default_rng(sum(map(ord, name)))
    w = rng.standard_normal(shape).astype(np.float32)
    b = rng.standard_normal(shape[0]).astype(np.float32)
    return w, b


def reference(x, w, b, a):
    k = x.ndim - 2
    group = a.get("group", 1)
    strides = a.get("strides", [1] * k)
    dil = a.get("dilations", [1] * k)
    ks = w.shape[2:]
    ap = a.get("auto_pad", "NOTSET")
    if ap.startswith("SAME"):
        pb, pe = [], []
        for i in range(k):
            o = -(-x.shape[2 + i] // strides[i])
            t = max(0, (o - 1) * strides[i] + (ks[i] - 1) * dil[i] + 1 - x.shape[2 + i])
            pb.append(t // 2 if ap == "SAME_UPPER" else t - t // 2)
            pe.append(t - pb[-1])
    elif ap == "VALID":
        pb = pe = [0] * k
    else:
        p = a.get("pads", [0] * 2 * k)
        pb, pe = p[:k], p[k:]
    x = np.pad(x.astype(np.float64), [(0, 0), (0, 0)] + [(pb[i], pe[i]) for i in range(k)])
    n, c = x.shape[:2]
    m = w.shape[0]
    cg, mg = c // group, m // group
    outs = [(x.shape[2 + i] - ((ks[i] - 1) * dil[i] + 1)) // strides[i] + 1 for i in range(k)]
    y = np.zeros([n, group, mg] + outs)
    wg = w.astype(np.float64).reshape([group, mg, cg] + list(ks))
    for kidx in np.ndindex(*ks):
        sl = tuple(slice(kidx[i] * dil[i], kidx[i] * dil[i] + strides[i] * (outs[i] - 1) + 1, strides[i])
                   for i in range(k))
        xs = x[(slice(None), slice(None)) + sl].reshape([n, group, cg] + outs)
        y += np.einsum("ngc...,gmc->ngm...", xs, wg[(Ellipsis,) + kidx])
    return y.reshape([n, m] + outs) + b.reshape([1, m] + [1] * k)


def main():
    cmd = sys.argv[1]
    if cmd == "input":
        rng = np.random.default_rng(3)
        np.save(sys.argv[2], rng.standard_normal(X2).astype(np.float32))
        np.save(sys.argv[3], rng.standard_normal(X1).astype(np.float32))
    elif cmd == "model":
        nodes, inits, outputs = [], [], []
        for name, inp, wshape, attrs in CASES:
            w, b = weights(name, wshape)
            inits += [numpy_helper.from_array(w, name + "_w"), numpy_helper.from_array(b, name + "_b")]
            nodes.append(helper.make_node("Conv", [inp, name + "_w", name + "_b"], [name], name=name, **attrs))
            outputs.append(helper.make_tensor_value_info(name, F32, [None] * len(wshape)))
        graph = helper.make_graph(
            nodes, "conv", [helper.make_tensor_value_info("x2", F32, X2),
                            helper.make_tensor_value_info("x1", F32, X1)], outputs, inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        model.ir_version = 7
        with open(sys.argv[2], "wb") as f:
            f.write(model.SerializeToString())
    elif cmd == "check":
        xs = {"x2": np.load(sys.argv[2]), "x1": np.load(sys.argv[3])}
        for name, inp, wshape, attrs in CASES:
            w, b = weights(name, wshape)
            ref = reference(xs[inp], w, b, attrs)
            got = np.load(os.path.join(sys.argv[4], name + ".npy"))
            if got.shape != ref.shape:
                print(f"{name}: shape {got.shape}, expected {ref.shape}")
                continue
            err = np.abs(got - ref).max()
            ok = err <= 1e-4 * max(1.0, np.abs(ref).max())
            print(f"{name}: {'ok' if ok else f'WRONG (max error {err})'} {ref.shape}")


if __name__ == "__main__":
    main()
