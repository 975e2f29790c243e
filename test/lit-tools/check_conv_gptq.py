#!/usr/bin/env python3
"""GPTQ on convolutions, end to end through quant-compile.

  check_conv_gptq.py WORKDIR [--min-gain DB] FORMAT...

A two-convolution ONNX model (convA: 32 -> 64 channels, 3x3, pads 1, stride 2,
bias; ReLU; convB: groups 2 of 32 -> 32 channels, 3x3, dilations 2, pads 2)
on inputs whose 32 channels mix 4 latent ones plus noise, with outlier
channels (what makes GPTQ's compensation worth it). For each weight FORMAT
(a format name, e.g. int4_g32): quant-compile --calib (64 samples) with
recipes {"weights": FORMAT} (round-to-nearest), {"weights": FORMAT, "clip":
{"weights": "mse"}} (round-to-nearest with the named 4-bit recipes' MSE
clipping) and {"weights": FORMAT, "gptq": true}; then

 * the patch Hessians calibration wrote (--calib-stats) must equal numpy's
   Σ p·pᵀ over the im2col patches of each convolution's padded input (convB:
   one per group, the input computed in float64 by numpy), relative to the
   largest entry within 1e-5;
 * quant-run of each on 4 held-out samples against numpy's float64 model:
   GPTQ's output SQNR must beat round-to-nearest by --min-gain dB and the
   MSE-clipped round-to-nearest by any margin.

Prints "hessian convA: match (288 columns, 1 group(s))", ... and "FORMAT: RTN
X dB, RTN+MSE Y dB, GPTQ Z dB, gain G dB"; exits 1 on a mismatch or too small
a gain. Tools from PATH; run with an interpreter that has numpy and onnx.
"""
import json
import math
import os
import subprocess
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

CIN, COUT, SIZE = 32, 64, 10


def run(args):
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}\n{result.stderr}")
    return result


def weights():
    rng = np.random.default_rng(7)
    wa = (rng.standard_normal((COUT, CIN, 3, 3)) * 0.2).astype(np.float32)
    ba = (rng.standard_normal(COUT) * 0.1).astype(np.float32)
    wb = (rng.standard_normal((COUT, COUT // 2, 3, 3)) * 0.2).astype(np.float32)
    return wa, ba, wb


def write_model(path):
    wa, ba, wb = weights()
    f32 = TensorProto.FLOAT
    nodes = [
        helper.make_node("Conv", ["x", "wa", "ba"], ["a"], name="convA",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["a"], ["r"], name="relu"),
        helper.make_node("Conv", ["r", "wb"], ["y"], name="convB", group=2,
                         kernel_shape=[3, 3], pads=[2, 2, 2, 2], dilations=[2, 2]),
    ]
    graph = helper.make_graph(
        nodes, "convs", [helper.make_tensor_value_info("x", f32, [1, CIN, SIZE, SIZE])],
        [helper.make_tensor_value_info("y", f32, [1, COUT, 5, 5])],
        [numpy_helper.from_array(wa, "wa"), numpy_helper.from_array(ba, "ba"),
         numpy_helper.from_array(wb, "wb")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    open(path, "wb").write(model.SerializeToString())


def samples(directory, count, seed):
    rng = np.random.default_rng(seed)
    mix = np.random.default_rng(11).standard_normal((CIN, 4))
    scale = np.ones(CIN)
    scale[[3, 17, 29]] = 8.0  # outlier channels
    xs = []
    for i in range(count):
        latent = rng.standard_normal((4, SIZE, SIZE))
        x = np.einsum("cl,lhw->chw", mix, latent) + 0.3 * rng.standard_normal((CIN, SIZE, SIZE))
        x = (x * scale[:, None, None])[None].astype(np.float32)
        d = os.path.join(directory, str(i))
        os.makedirs(d, exist_ok=True)
        np.save(os.path.join(d, "x.npy"), x)
        xs.append(x)
    return xs


def patches(x, kernel, stride, dilation, pad):
    """[positions, kernel taps * C] of x [C, H, W] padded by `pad`: column
    t * C + c for tap t (row-major kernel offsets), as CalibrationStats.h."""
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    c, h, w = x.shape
    out = (h - dilation * (kernel - 1) - 1) // stride + 1
    rows = []
    for i in range(out):
        for j in range(out):
            rows.append(np.concatenate([x[:, i * stride + a * dilation, j * stride + b * dilation]
                                        for a in range(kernel) for b in range(kernel)]))
    return np.array(rows)


def reference(x):
    """convA, ReLU, convB in float64: (y, convA's patches, convB's per group)."""
    wa, ba, wb = (w.astype(np.float64) for w in weights())
    x = x[0].astype(np.float64)
    pa = patches(x, 3, 2, 1, 1)
    # W[out, in, kh, kw] -> [out, taps * in] with column t * in + c
    a = pa @ wa.transpose(0, 2, 3, 1).reshape(COUT, -1).T + ba
    r = np.maximum(a, 0).T.reshape(COUT, 5, 5)
    half = COUT // 2
    pb = [patches(r[g * half:(g + 1) * half], 3, 1, 2, 2) for g in range(2)]
    y = np.concatenate([pb[g] @ wb[g * half:(g + 1) * half].transpose(0, 2, 3, 1)
                        .reshape(half, -1).T for g in range(2)], axis=1)
    return y.T.reshape(1, COUT, 5, 5), pa, pb


def sqnr(ref, test):
    noise = float(np.sum((ref - test) ** 2))
    return math.inf if noise == 0 else 10 * math.log10(float(np.sum(ref ** 2)) / noise)


def check_hessians(stats_dir, calib):
    stats = json.load(open(os.path.join(stats_dir, "stats.json")))["tensors"]
    expected = {"convA": 0, "convB": 0}
    for x in calib:
        _, pa, pb = reference(x)
        expected["convA"] = expected["convA"] + (pa.T @ pa)[None]
        expected["convB"] = expected["convB"] + np.stack([p.T @ p for p in pb])
    ok = True
    for name, want in expected.items():
        keys = [k for k in stats if name in k]
        if len(keys) != 1 or "xtx" not in stats[keys[0]]:
            print(f"hessian {name}: FAILED: no statistics with XᵀX among {sorted(stats)}")
            ok = False
            continue
        got = np.load(os.path.join(stats_dir, stats[keys[0]]["xtx"]))
        if got.ndim == 2:
            got = got[None]
        if got.shape != want.shape:
            print(f"hessian {name}: FAILED: shape {got.shape}, expected {want.shape}")
            ok = False
            continue
        error = np.abs(got - want).max() / np.abs(want).max()
        if error > 1e-5:
            print(f"hessian {name}: FAILED: relative error {error:.3g}")
            ok = False
            continue
        print(f"hessian {name}: match ({want.shape[1]} columns, {want.shape[0]} group(s))")
    return ok


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    work = args.pop(0)
    min_gain = 0.0
    if "--min-gain" in args:
        i = args.index("--min-gain")
        min_gain = float(args[i + 1])
        del args[i:i + 2]
    model = os.path.join(work, "convs.onnx")
    write_model(model)
    calib = samples(os.path.join(work, "calib"), 64, seed=1)
    held_out = samples(os.path.join(work, "eval"), 4, seed=2)
    references = [reference(x)[0] for x in held_out]
    ok = True
    hessians_checked = False
    for fmt in args:
        results = {}
        for kind, recipe in (("RTN", {"weights": fmt}),
                             ("RTN+MSE", {"weights": fmt, "clip": {"weights": "mse"}}),
                             ("GPTQ", {"weights": fmt, "gptq": True})):
            base = os.path.join(work, f"{fmt}-{kind}")
            json.dump(recipe, open(base + ".json", "w"))
            run(["quant-compile", model, "--recipe", base + ".json", "--calib",
                 os.path.join(work, "calib"), "--calib-stats", base + "-stats", "--quiet",
                 "--emit", "mlir", "-o", base + ".mlir"])
            if kind == "GPTQ" and not hessians_checked:
                ok &= check_hessians(base + "-stats", calib)
                hessians_checked = True
            signal = noise = 0.0
            for i, ref in enumerate(references):
                out = os.path.join(base, str(i))
                run(["quant-run", base + ".mlir", "--entry", "main", "--input",
                     "x=" + os.path.join(work, "eval", str(i), "x.npy"), "--output-dir", out])
                got = np.load(os.path.join(out, os.listdir(out)[0])).astype(np.float64)
                signal += float(np.sum(ref ** 2))
                noise += float(np.sum((ref - got) ** 2))
            results[kind] = 10 * math.log10(signal / noise)
        gain = results["GPTQ"] - results["RTN"]
        verdict = ""
        if gain < min_gain:
            verdict = f" FAILED: below {min_gain} dB"
        elif results["GPTQ"] <= results["RTN+MSE"]:
            verdict = " FAILED: not above RTN+MSE"
        ok &= not verdict
        print(f"{fmt}: RTN {results['RTN']:.2f} dB, RTN+MSE {results['RTN+MSE']:.2f} dB, "
              f"GPTQ {results['GPTQ']:.2f} dB, gain {gain:.2f} dB{verdict}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
