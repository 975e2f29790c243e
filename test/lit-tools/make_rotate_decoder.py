#!/usr/bin/env python3
"""Writes a tiny Llama-style decoder as ONNX, for the qc-rotate tests.

  make_rotate_decoder.py OUT.onnx [--layers 2] [--seed 0]

The graph has the ops the test decoder of scripts/make-test-decoder.py
exports, in the same pattern (torch.onnx's): Gather of an embedding table,
RMSNorm as Pow / ReduceMean / Add / Sqrt / Div / Mul(gain), MatMul with [in,
out] weights, Reshape + Transpose into heads, rotary embeddings from constant
tables (Slice / Neg / Concat), a causal additive mask, Softmax, SwiGLU
(Sigmoid / Mul) of width 48 = 12 x 4 (a non-power-of-two Hadamard size) and
an output head. Sizes: vocabulary 16, hidden 32, 2 heads of 16, 8 tokens.

Like the test decoder, a few RMSNorm gain channels are multiplied by 16 and
the matching weight rows divided by 16 (an exact, function-preserving change
that gives the norm outputs outlier channels). Weights are seeded normal.
"""
import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

VOCAB, DIM, HEADS, HEAD_DIM, FFN, SEQ = 16, 32, 2, 16, 48, 8


def build(layers, seed):
    rng = np.random.default_rng(seed)
    inits, nodes = [], []
    counter = [0]

    def const(name, array):
        inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(op, inputs, attrs=None, name=None):
        counter[0] += 1
        out = f"t{counter[0]}"
        nodes.append(helper.make_node(op, inputs, [out], name=name or f"/{op}_{counter[0]}",
                                      **(attrs or {})))
        return out

    def weight(name, rows, cols, scale):
        return const(name, (rng.standard_normal((rows, cols)) * scale).astype(np.float32))

    two = const("two", np.array(2.0, np.float32))
    eps = const("eps", np.array(1e-5, np.float32))
    half = HEAD_DIM // 2
    inv = 1.0 / (10000.0 ** (np.arange(0, HEAD_DIM, 2) / HEAD_DIM))
    ang = np.arange(SEQ)[:, None] * inv[None, :]
    ang = np.concatenate([ang, ang], axis=-1)
    cos = const("rope_cos", np.cos(ang).astype(np.float32))
    sin = const("rope_sin", np.sin(ang).astype(np.float32))
    mask = const("causal_mask", np.triu(np.full((SEQ, SEQ), -1e4, np.float32), 1))
    scale = const("att_scale", np.array(np.sqrt(HEAD_DIM), np.float32))
    heads_shape = const("heads_shape", np.array([1, SEQ, HEADS, HEAD_DIM], np.int64))
    merged_shape = const("merged_shape", np.array([1, SEQ, DIM], np.int64))
    starts_lo, ends_lo = const("s_lo", np.array([0], np.int64)), const("e_lo", np.array([half], np.int64))
    starts_hi, ends_hi = const("s_hi", np.array([half], np.int64)), const("e_hi", np.array([HEAD_DIM], np.int64))
    last_axis = const("last_axis", np.array([-1], np.int64))

    outliers = [3, 11, 17, 30]

    def norm_gain(name):
        gain = (1.0 + 0.1 * rng.standard_normal(DIM)).astype(np.float32)
        gain[outliers] *= 16.0
        return gain

    def rows_divided(w):
        w = w.copy()
        w[outliers, :] /= 16.0
        return w

    def rmsnorm(x, name):
        p = node("Pow", [x, two], name=f"/{name}/Pow")
        m = node("ReduceMean", [p], {"axes": [-1], "keepdims": 1}, name=f"/{name}/ReduceMean")
        a = node("Add", [m, eps], name=f"/{name}/Add")
        s = node("Sqrt", [a], name=f"/{name}/Sqrt")
        d = node("Div", [x, s], name=f"/{name}/Div")
        g = const(f"{name}.weight", norm_gain(name))
        return node("Mul", [d, g], name=f"/{name}/Mul")

    def linear(x, name, rows, cols, std, divide_rows=False):
        w = (rng.standard_normal((rows, cols)) * std).astype(np.float32)
        if divide_rows:
            w = rows_divided(w)
        return node("MatMul", [x, const(f"{name}.weight_t", w)], name=f"/{name}/MatMul")

    def rotary(t):
        lo = node("Slice", [t, starts_lo, ends_lo, last_axis])
        hi = node("Slice", [t, starts_hi, ends_hi, last_axis])
        rotated = node("Concat", [node("Neg", [hi]), lo], {"axis": -1})
        return node("Add", [node("Mul", [t, cos]), node("Mul", [rotated, sin])])

    def split_heads(t):
        return node("Transpose", [node("Reshape", [t, heads_shape])], {"perm": [0, 2, 1, 3]})

    table = (rng.standard_normal((VOCAB, DIM)) * 0.5).astype(np.float32)
    x = node("Gather", [const("embed.weight", table), "input_ids"], name="/embed/Gather")
    for layer in range(layers):
        p = f"layers.{layer}"
        h = rmsnorm(x, f"{p}/attn_norm")
        q = split_heads(linear(h, f"{p}/attn/wq", DIM, DIM, 0.2, True))
        k = split_heads(linear(h, f"{p}/attn/wk", DIM, DIM, 0.2, True))
        v = split_heads(linear(h, f"{p}/attn/wv", DIM, DIM, 0.2, True))
        q, k = rotary(q), rotary(k)
        kt = node("Transpose", [k], {"perm": [0, 1, 3, 2]})
        att = node("Div", [node("MatMul", [q, kt]), scale])
        att = node("Softmax", [node("Add", [att, mask])], {"axis": -1})
        y = node("Transpose", [node("MatMul", [att, v])], {"perm": [0, 2, 1, 3]})
        y = node("Reshape", [y, merged_shape])
        x = node("Add", [x, linear(y, f"{p}/attn/wo", DIM, DIM, 0.1)])
        h = rmsnorm(x, f"{p}/ffn_norm")
        g = linear(h, f"{p}/ffn/w1", DIM, FFN, 0.2, True)
        u = linear(h, f"{p}/ffn/w3", DIM, FFN, 0.2, True)
        s = node("Mul", [node("Mul", [g, node("Sigmoid", [g])]), u])
        x = node("Add", [x, linear(s, f"{p}/ffn/w2", FFN, DIM, 0.1)])
    h = rmsnorm(x, "norm")
    linear(h, "head", DIM, VOCAB, 0.2, True)
    nodes[-1].output[0] = "logits"

    graph = helper.make_graph(
        nodes, "rotate_decoder",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, SEQ])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, SEQ, VOCAB])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="make_rotate_decoder.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out")
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    onnx.save(build(args.layers, args.seed), args.out)


if __name__ == "__main__":
    main()
