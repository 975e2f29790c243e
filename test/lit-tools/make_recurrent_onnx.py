#!/usr/bin/env python3
"""Models for test/Import/onnx-recurrent.test: RNN / GRU / LSTM in the forms
the ONNX node tests leave out (bidirectional, reverse, sequences longer than
3, initial states, peepholes, linear_before_reset, clip, other activations,
layout = 1), with a numpy reference written from the ONNX operator spec.

  make_recurrent_onnx.py model CASE OUT.onnx    write the model
  make_recurrent_onnx.py inputs CASE DIR        write its inputs as DIR/input_<i>.pb
                                                (quant-run --input-dir DIR)
  make_recurrent_onnx.py check CASE DIR OUTDIR  compare quant-run's outputs;
                                                one line per output
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F32 = TensorProto.FLOAT
SEQ, BATCH, INPUT, HIDDEN = 5, 2, 3, 4

ACTS = {
    "Sigmoid": lambda x, a, b: 1 / (1 + np.exp(-x)),
    "Tanh": lambda x, a, b: np.tanh(x),
    "Relu": lambda x, a, b: np.maximum(x, 0),
    "HardSigmoid": lambda x, a, b: np.clip(a * x + b, 0, 1),
    "LeakyRelu": lambda x, a, b: np.where(x < 0, a * x, x),
}

# name: (op, attributes, gates, inputs present beyond X, W, R)
CASES = {
    "lstm_bidi": ("LSTM", dict(direction="bidirectional"), 4, ["B", "initial_h", "initial_c", "P"]),
    "lstm_layout1": ("LSTM", dict(layout=1, clip=0.8), 4, ["B"]),
    "gru_bidi_lbr": ("GRU", dict(direction="bidirectional", linear_before_reset=1), 3, ["B", "initial_h"]),
    "gru_reverse": ("GRU", dict(direction="reverse", activations=["HardSigmoid", "Tanh"],
                                activation_alpha=[0.3], activation_beta=[0.4]), 3, ["B"]),
    "rnn_reverse_relu": ("RNN", dict(direction="reverse", activations=["Relu"]), 1, ["B", "initial_h"]),
    "rnn_leaky_clip": ("RNN", dict(activations=["LeakyRelu"], activation_alpha=[0.2], clip=1.5), 1, []),
}


def dirs(case):
    return 2 if CASES[case][1].get("direction") == "bidirectional" else 1


def shapes(case):
    op, attrs, gates, extra = CASES[case]
    d = dirs(case)
    layout1 = attrs.get("layout", 0) == 1
    s = {"X": [BATCH, SEQ, INPUT] if layout1 else [SEQ, BATCH, INPUT],
         "W": [d, gates * HIDDEN, INPUT], "R": [d, gates * HIDDEN, HIDDEN],
         "B": [d, 2 * gates * HIDDEN],
         "initial_h": [BATCH, d, HIDDEN] if layout1 else [d, BATCH, HIDDEN],
         "initial_c": [BATCH, d, HIDDEN] if layout1 else [d, BATCH, HIDDEN],
         "P": [d, 3 * HIDDEN]}
    return s


def input_names(case):
    return ["X", "W", "R"] + CASES[case][3]


def make_inputs(case):
    rng = np.random.default_rng(len(case))
    return {n: (rng.standard_normal(shapes(case)[n]) * 0.6).astype(np.float32)
            for n in input_names(case)}


def node_inputs(case):
    # Positional: X W R B sequence_lens initial_h initial_c P
    order = ["X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"]
    present = set(input_names(case))
    last = max(i for i, n in enumerate(order) if n in present)
    return [n if n in present else "" for n in order[:last + 1]]


def out_shapes(case):
    d = dirs(case)
    layout1 = CASES[case][1].get("layout", 0) == 1
    y = [BATCH, SEQ, d, HIDDEN] if layout1 else [SEQ, d, BATCH, HIDDEN]
    h = [BATCH, d, HIDDEN] if layout1 else [d, BATCH, HIDDEN]
    return {"Y": y, "Y_h": h, "Y_c": h}


def output_names(case):
    return ["Y", "Y_h"] + (["Y_c"] if CASES[case][0] == "LSTM" else [])


def model(case):
    op, attrs, gates, extra = CASES[case]
    node = helper.make_node(op, node_inputs(case), output_names(case), name=case,
                            hidden_size=HIDDEN, **attrs)
    graph = helper.make_graph(
        [node], case,
        [helper.make_tensor_value_info(n, F32, shapes(case)[n]) for n in input_names(case)],
        [helper.make_tensor_value_info(n, F32, out_shapes(case)[n]) for n in output_names(case)])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    m.ir_version = 8
    return m


def reference(case, v):
    """The spec's equations, one direction at a time, in float64."""
    op, attrs, gates, extra = CASES[case]
    d = dirs(case)
    layout1 = attrs.get("layout", 0) == 1
    x = v["X"].astype(np.float64)
    if layout1:
        x = x.transpose(1, 0, 2)
    names = attrs.get("activations")
    per_dir = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"], "RNN": ["Tanh"]}[op]
    if names is None:
        names = per_dir * d
    alphas = attrs.get("activation_alpha", [])
    betas = attrs.get("activation_beta", [])
    defaults = {"HardSigmoid": (0.2, 0.5), "LeakyRelu": (0.01, 0.0)}
    acts = []
    for i, n in enumerate(names):
        a, b = defaults.get(n, (0.0, 0.0))
        a = alphas[i] if i < len(alphas) else a
        b = betas[i] if i < len(betas) else b
        acts.append(lambda z, n=n, a=a, b=b: ACTS[n](z, a, b))
    clip = attrs.get("clip")
    clipped = (lambda z: np.clip(z, -clip, clip)) if clip is not None else (lambda z: z)
    lbr = attrs.get("linear_before_reset", 0)

    def state(name):
        if name not in v:
            return np.zeros((d, BATCH, HIDDEN))
        s = v[name].astype(np.float64)
        return s.transpose(1, 0, 2) if layout1 else s

    h0s, c0s = state("initial_h"), state("initial_c")
    ys, hs, cs = [], [], []
    for k in range(d):
        reverse = attrs.get("direction") == "reverse" or k == 1
        f = acts[len(per_dir) * k]
        g = acts[len(per_dir) * k + 1] if len(per_dir) > 1 else None
        hact = acts[len(per_dir) * k + 2] if len(per_dir) > 2 else None
        W = v["W"][k].astype(np.float64)
        R = v["R"][k].astype(np.float64)
        B = v["B"][k].astype(np.float64) if "B" in v else np.zeros(2 * gates * HIDDEN)
        Wb, Rb = B[:gates * HIDDEN], B[gates * HIDDEN:]
        P = v["P"][k].astype(np.float64) if "P" in v else np.zeros(3 * HIDDEN)
        split = lambda m: [m[i * HIDDEN:(i + 1) * HIDDEN] for i in range(gates)]
        Ws, Rs, Wbs, Rbs = split(W), split(R), split(Wb), split(Rb)
        h, c = h0s[k], c0s[k]
        y = np.zeros((SEQ, BATCH, HIDDEN))
        for t in (range(SEQ - 1, -1, -1) if reverse else range(SEQ)):
            xt = x[t]
            if op == "RNN":
                h = f(clipped(xt @ Ws[0].T + h @ Rs[0].T + Wbs[0] + Rbs[0]))
            elif op == "GRU":
                z = f(clipped(xt @ Ws[0].T + h @ Rs[0].T + Wbs[0] + Rbs[0]))
                r = f(clipped(xt @ Ws[1].T + h @ Rs[1].T + Wbs[1] + Rbs[1]))
                if lbr:
                    hh = g(clipped(xt @ Ws[2].T + r * (h @ Rs[2].T + Rbs[2]) + Wbs[2]))
                else:
                    hh = g(clipped(xt @ Ws[2].T + (r * h) @ Rs[2].T + Rbs[2] + Wbs[2]))
                h = (1 - z) * hh + z * h
            else:  # gates i, o, f, c; peepholes i, o, f
                pi, po, pf = P[:HIDDEN], P[HIDDEN:2 * HIDDEN], P[2 * HIDDEN:]
                pre = lambda j: xt @ Ws[j].T + h @ Rs[j].T + Wbs[j] + Rbs[j]
                i = f(clipped(pre(0) + pi * c))
                fg = f(clipped(pre(2) + pf * c))
                cc = g(clipped(pre(3)))
                c = fg * c + i * cc
                o = f(clipped(pre(1) + po * c))
                h = o * hact(clipped(c))
            y[t] = h
        ys.append(y)
        hs.append(h)
        cs.append(c)
    out = {"Y": np.stack(ys, 1), "Y_h": np.stack(hs), "Y_c": np.stack(cs)}
    if layout1:
        out = {"Y": out["Y"].transpose(2, 0, 1, 3), "Y_h": out["Y_h"].transpose(1, 0, 2),
               "Y_c": out["Y_c"].transpose(1, 0, 2)}
    return out


def main():
    command, case = sys.argv[1], sys.argv[2]
    if command == "model":
        with open(sys.argv[3], "wb") as f:
            f.write(model(case).SerializeToString())
    elif command == "inputs":
        os.makedirs(sys.argv[3], exist_ok=True)
        values = make_inputs(case)
        for index, name in enumerate(input_names(case)):
            with open(os.path.join(sys.argv[3], f"input_{index}.pb"), "wb") as f:
                f.write(numpy_helper.from_array(values[name], name).SerializeToString())
    elif command == "check":
        inputs = {n: numpy_helper.to_array(onnx.load_tensor(os.path.join(sys.argv[3], f"input_{i}.pb")))
                  for i, n in enumerate(input_names(case))}
        want = reference(case, inputs)
        ok = True
        for name in output_names(case):
            got = np.load(os.path.join(sys.argv[4], name + ".npy"))
            good = got.shape == want[name].shape and np.allclose(got, want[name], rtol=1e-4, atol=1e-5)
            ok &= good
            err = np.max(np.abs(got - want[name])) if got.shape == want[name].shape else float("nan")
            print(f"{case} {name}: {'ok' if good else 'MISMATCH'} {got.shape}"
                  + ("" if good else f" max abs err {err:.3g}"))
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
