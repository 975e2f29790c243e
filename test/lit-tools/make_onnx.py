#!/usr/bin/env python3
"""Writes the tiny ONNX models the importer's lit tests run on.

  make_onnx.py MODEL OUT.onnx      write model MODEL to OUT.onnx
  make_onnx.py data MODEL DIR      write random inputs DIR/<input>.npy and the
                                   numpy reference DIR/expected/<output>.npy
  make_onnx.py check DIR OUT       compare OUT/<output>.npy with DIR/expected
                                   (floats: rtol 1e-5, atol 1e-6; else exact)
  make_onnx.py --list              list the models

Models are built with onnx.helper (Debian's python3-onnx, run by
/usr/bin/python3), so a test states in its RUN line exactly which graph it
imports. Some are deliberately broken (truncated, cyclic, ...) to test the
importer's errors; those skip onnx.checker here.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F32 = TensorProto.FLOAT
I64 = TensorProto.INT64


def model(nodes, inputs, outputs, initializers=(), opset=17, name="test", check=True,
          extra_opsets=()):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=list(initializers))
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in extra_opsets]
    m = helper.make_model(graph, opset_imports=opsets, producer_name="make_onnx.py")
    m.ir_version = 8
    if check:
        onnx.checker.check_model(m)
    return m


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def add():
    return model([helper.make_node("Add", ["x", "y"], ["z"], name="add")],
                 [vi("x", F32, [2, 3]), vi("y", F32, [3])], [vi("z", F32, [2, 3])])


def mlp():
    """x[2,4] -> Gemm(W1,b1) -> Relu -> MatMul(W2) -> Softmax; weights > 16 elements."""
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.standard_normal((8, 4)).astype(np.float32), "w1")
    b1 = numpy_helper.from_array(np.arange(8, dtype=np.float32) / 8, "b1")
    w2 = numpy_helper.from_array(rng.standard_normal((8, 3)).astype(np.float32), "w2")
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1", transB=1),
        helper.make_node("Relu", ["h"], ["r"], name="relu"),
        helper.make_node("MatMul", ["r", "w2"], ["logits"], name="fc2"),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=-1),
    ]
    return model(nodes, [vi("x", F32, [2, 4])], [vi("probs", F32, [2, 3])], [w1, b1, w2])


def shape_chain():
    """Shape -> Gather -> Concat -> Reshape, folded to a static reshape."""
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
        helper.make_node("Constant", [], ["i0"], name="c0",
                         value=numpy_helper.from_array(np.array(0, dtype=np.int64))),
        helper.make_node("Gather", ["s", "i0"], ["d0"], name="gather", axis=0),
        helper.make_node("Unsqueeze", ["d0", "ax"], ["d0v"], name="unsq"),
        helper.make_node("Constant", [], ["m1"], name="c1",
                         value=numpy_helper.from_array(np.array([-1], dtype=np.int64))),
        helper.make_node("Concat", ["d0v", "m1"], ["target"], name="concat", axis=0),
        helper.make_node("Reshape", ["x", "target"], ["y"], name="reshape"),
    ]
    ax = numpy_helper.from_array(np.array([0], dtype=np.int64), "ax")
    return model(nodes, [vi("x", F32, [2, 3, 4])], [vi("y", F32, [2, 12])], [ax])


def const_of_shape_range():
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
        helper.make_node("ConstantOfShape", ["s"], ["ones"], name="cos",
                         value=numpy_helper.from_array(np.array([1.0], dtype=np.float32))),
        helper.make_node("Range", ["start", "limit", "delta"], ["r"], name="range"),
        helper.make_node("Cast", ["r"], ["rf"], name="cast", to=F32),
        helper.make_node("Mul", ["ones", "rf"], ["y"], name="mul"),
    ]
    inits = [numpy_helper.from_array(np.array(v, dtype=np.int64), n)
             for n, v in (("start", 0), ("limit", 4), ("delta", 1))]
    return model(nodes, [vi("x", F32, [3, 4])], [vi("y", F32, [3, 4])], inits)


def if_model():
    """If whose branches compute from the outer x (subgraph scoping)."""
    then_graph = helper.make_graph(
        [helper.make_node("Add", ["x", "x"], ["doubled"], name="then_add")],
        "then", [], [vi("doubled", F32, [3])])
    else_graph = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["negated"], name="else_neg")],
        "else", [], [vi("negated", F32, [3])])
    node = helper.make_node("If", ["cond"], ["y"], name="choose",
                            then_branch=then_graph, else_branch=else_graph)
    return model([node], [vi("cond", TensorProto.BOOL, []), vi("x", F32, [3])],
                 [vi("y", F32, [3])])


def opset21():
    """A model of an opset newer than Debian's libonnx (1.12, opset 17) knows."""
    nodes = [helper.make_node("Add", ["x", "y"], ["s"], name="add"),
             helper.make_node("Unsqueeze", ["s", "axes"], ["z"], name="unsqueeze")]
    axes = numpy_helper.from_array(np.array([0], dtype=np.int64), "axes")
    return model(nodes, [vi("x", F32, [2, 3]), vi("y", F32, [3])], [vi("z", F32, [1, 2, 3])],
                 [axes], opset=21, check=False)


def opset6_add():
    return model([helper.make_node("Add", ["x", "y"], ["z"], name="add")],
                 [vi("x", F32, [3]), vi("y", F32, [3])], [vi("z", F32, [3])], opset=6)


def dynamic():
    return model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                 [vi("x", F32, ["N", 3])], [vi("y", F32, ["N", 3])])


def uint8():
    return model([helper.make_node("Add", ["a", "b"], ["c"], name="add")],
                 [vi("a", TensorProto.UINT8, [4]), vi("b", TensorProto.UINT8, [4])],
                 [vi("c", TensorProto.UINT8, [4])])


def unsupported():
    """An op of a custom domain no registry knows."""
    node = helper.make_node("Frobnicate", ["x"], ["y"], name="frob", domain="quantc.test")
    return model([node], [vi("x", F32, [2])], [vi("y", F32, [2])],
                 extra_opsets=[("quantc.test", 1)], check=False)


def unsupported_std():
    """A standard op with no lowering (Unique: its output shape depends on the
    data)."""
    return model([helper.make_node("Unique", ["x"], ["y"], name="uniq")],
                 [vi("x", F32, [3, 3])], [vi("y", F32, ["n"])])


def missing_initializer():
    return model([helper.make_node("Add", ["x", "w"], ["y"], name="add_w")],
                 [vi("x", F32, [2])], [vi("y", F32, [2])], check=False)


def cyclic():
    nodes = [helper.make_node("Add", ["x", "b"], ["a"], name="first"),
             helper.make_node("Relu", ["a"], ["b"], name="second")]
    return model(nodes, [vi("x", F32, [2])], [vi("b", F32, [2])], check=False)


def wrong_rank():
    """MatMul of [2,3] by [4]: the inner dims differ."""
    return model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
                 [vi("x", F32, [2, 3]), vi("w", F32, [4])], [vi("y", F32, [2])],
                 check=False)


def huge_dim():
    return model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                 [vi("x", F32, [3000000000])], [vi("y", F32, [3000000000])], check=False)


def external_data(path):
    """A weight stored in weights.bin beside the model."""
    w = np.arange(32, dtype=np.float32).reshape(4, 8)
    tensor = numpy_helper.from_array(w, "w")
    m = model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
              [vi("x", F32, [1, 4])], [vi("y", F32, [1, 8])], [tensor])
    onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location="weights.bin", size_threshold=0)
    return None


def external_outside(path):
    """External data whose location leaves the model's folder."""
    w = numpy_helper.from_array(np.zeros((4, 8), dtype=np.float32), "w")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "../../etc/passwd"), ("offset", "0"), ("length", "128")):
        entry = w.external_data.add()
        entry.key, entry.value = key, value
    return model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
                 [vi("x", F32, [1, 4])], [vi("y", F32, [1, 8])], [w], check=False)


def huge_node_dim():
    """A node whose output would have a dim over 2^31 (ConstantOfShape)."""
    shape = numpy_helper.from_array(np.array([3000000000], np.int64), "s")
    nodes = [helper.make_node("ConstantOfShape", ["s"], ["c"], name="fill"),
             helper.make_node("Add", ["x", "c"], ["y"], name="add")]
    return model(nodes, [vi("x", F32, [1])], [vi("y", F32, ["n"])], [shape], check=False)


def wrong_rank_lowering():
    """GatherElements whose indices' rank differs from the data's: libonnx's
    shape inference lets it through, the lowering must not."""
    node = helper.make_node("GatherElements", ["x", "i"], ["y"], name="gather_rows")
    return model([node], [vi("x", F32, [2, 3]), vi("i", I64, [2])], [vi("y", F32, [2])],
                 opset=13, check=False)


def external_absolute(path):
    """External data at an absolute path."""
    w = numpy_helper.from_array(np.zeros((4, 8), dtype=np.float32), "w")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    entry = w.external_data.add()
    entry.key, entry.value = "location", "/etc/hostname"
    return model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
                 [vi("x", F32, [1, 4])], [vi("y", F32, [1, 8])], [w], check=False)


def external_short(path):
    """External data whose file is shorter than the tensor."""
    with open(os.path.join(os.path.dirname(os.path.abspath(path)), "short.bin"), "wb") as f:
        f.write(bytes(64))
    w = numpy_helper.from_array(np.zeros((4, 8), dtype=np.float32), "w")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    entry = w.external_data.add()
    entry.key, entry.value = "location", "short.bin"
    return model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
                 [vi("x", F32, [1, 4])], [vi("y", F32, [1, 8])], [w], check=False)


def truncated(path):
    data = add().SerializeToString()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
    return None


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def mlp_reference(x):
    m = mlp()
    w = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    h = np.maximum(x @ w["w1"].T + w["b1"], 0)
    return {"probs": softmax(h @ w["w2"])}


# Inputs (name -> array) and numpy references (inputs -> {output: array}).
rng = np.random.default_rng(1)
DATA = {
    "add": ({"x": rng.standard_normal((2, 3)).astype(np.float32),
             "y": rng.standard_normal(3).astype(np.float32)},
            lambda x, y: {"z": x + y}),
    "mlp": ({"x": rng.standard_normal((2, 4)).astype(np.float32)}, mlp_reference),
    "shape-chain": ({"x": rng.standard_normal((2, 3, 4)).astype(np.float32)},
                    lambda x: {"y": x.reshape(2, 12)}),
    "const-of-shape-range": ({"x": rng.standard_normal((3, 4)).astype(np.float32)},
                             lambda x: {"y": np.tile(np.arange(4, dtype=np.float32), (3, 1))}),
    "uint8": ({"a": np.array([1, 2, 200, 255], np.uint8), "b": np.array([3, 4, 100, 1], np.uint8)},
              lambda a, b: {"c": a + b}),
    "external-data": ({"x": rng.standard_normal((1, 4)).astype(np.float32)},
                      lambda x: {"y": x @ np.arange(32, dtype=np.float32).reshape(4, 8)}),
}


def write_data(name, directory):
    inputs, reference = DATA[name]
    os.makedirs(os.path.join(directory, "expected"), exist_ok=True)
    for key, value in inputs.items():
        np.save(os.path.join(directory, key + ".npy"), value)
    for key, value in reference(**inputs).items():
        np.save(os.path.join(directory, "expected", key + ".npy"), value)


def check(directory, out):
    status = 0
    expected_dir = os.path.join(directory, "expected")
    for file in sorted(os.listdir(expected_dir)):
        expected = np.load(os.path.join(expected_dir, file))
        path = os.path.join(out, file)
        if not os.path.exists(path):
            print(f"check: {file}: missing")
            status = 1
            continue
        actual = np.load(path)
        if actual.dtype != expected.dtype or actual.shape != expected.shape:
            print(f"check: {file}: {actual.dtype} {actual.shape}, expected "
                  f"{expected.dtype} {expected.shape}")
            status = 1
        elif expected.dtype.kind == "f" and not np.allclose(actual, expected, rtol=1e-5, atol=1e-6):
            print(f"check: {file}: max abs diff {np.max(np.abs(actual - expected))}")
            status = 1
        elif expected.dtype.kind != "f" and not np.array_equal(actual, expected):
            print(f"check: {file}: values differ: {actual} vs {expected}")
            status = 1
        else:
            print(f"check: {file}: ok")
    return status


MODELS = {
    "add": add, "mlp": mlp, "shape-chain": shape_chain,
    "const-of-shape-range": const_of_shape_range, "dynamic": dynamic, "uint8": uint8,
    "unsupported": unsupported, "unsupported-std": unsupported_std,
    "missing-initializer": missing_initializer, "cyclic": cyclic,
    "wrong-rank": wrong_rank, "if": if_model, "opset21": opset21, "opset6-add": opset6_add, "huge-dim": huge_dim,
    "external-data": external_data, "external-outside": external_outside,
    "truncated": truncated, "huge-node-dim": huge_node_dim,
    "wrong-rank-lowering": wrong_rank_lowering, "external-absolute": external_absolute,
    "external-short": external_short,
}
WRITERS = {"external-data", "truncated"}


def main():
    if sys.argv[1:] == ["--list"]:
        print("\n".join(sorted(MODELS)))
        return
    if len(sys.argv) == 4 and sys.argv[1] == "data":
        write_data(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) == 4 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3]))
    if len(sys.argv) != 3 or sys.argv[1] not in MODELS:
        sys.exit(f"usage: make_onnx.py MODEL OUT.onnx  (MODEL: {', '.join(sorted(MODELS))})")
    name, path = sys.argv[1], sys.argv[2]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fn = MODELS[name]
    if name in WRITERS:
        fn(path)
        return
    m = fn(path) if fn.__code__.co_argcount else fn()
    with open(path, "wb") as f:
        f.write(m.SerializeToString())


if __name__ == "__main__":
    main()
