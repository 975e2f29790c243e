#!/usr/bin/python3
"""Whole-model speed of the test decoder: quantc's compiled libraries per
recipe against ONNX Runtime running the same model with MatMulNBits weights.

The test decoder (scripts/make-test-decoder.py) has no KV cache: its one
input is input_ids int64 [1, 128] and one call computes the logits of all
128 positions (every linear layer is a [128, K] x [K, N] matmul, M = 128).
What is timed is therefore one forward over the exported sequence of 128
tokens. Two rates follow from its latency t:
  * forward/s = 1 / t: tokens per second when generating with this model
    as exported (no KV cache: one full forward per new token, n = 1 step);
  * scored tokens/s = 128 / t: positions processed per second (prefill).

quantc: `quant-compile model.onnx --recipe R -o R.so` (the qc.matmul kernels
of lib/Conversion/QcToCPU for the host), timed with `quant-run R.so
--benchmark RUNS --threads T` (median and min of RUNS calls after a warm-up).
ONNX Runtime 1.30 (onnxruntime-node, bench/ort/run_model.js, same timing):
the float model, and the model with every MatMul by a constant [K, N]
weight replaced by com.microsoft MatMulNBits (bits 4, block_size 32,
accuracy_level 4: activations quantized to int8 per block of 32, VNNI),
weights quantized here: per block of 32 along K, scale = amax / 7,
code = clamp(round(w / scale), -8, 7) + 8 (the default zero point 8, so the
grid is quantc's int4_g32), B uint8 [N, K/32, 16] with element 2i in the low
nibble, scales float [N * K/32]. Logits of every run are compared with ORT's
float logits (SQNR, dB) so a wrong conversion or a broken library shows.

  bench/decoder_tokens.py [--recipes none,int8,w4a8-int4,w4a16-nvfp4,w4a8-mxfp4]
                          [--threads 1,2] [--runs 200] [--target x86-64-v3] [--work DIR]

Needs a build (scripts/build.sh), the decoder (scripts/make-test-decoder.py)
and onnxruntime-node (bench/ort/run.sh installs it). Measures; asserts
nothing about time.
"""
import argparse
import os
import re
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("QUANTC_CACHE", os.path.expanduser("~/.cache/quantc"))


def run(cmd, **kw):
    result = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if result.returncode != 0:
        sys.exit("command failed: %s\n%s%s" % (" ".join(cmd), result.stdout, result.stderr))
    return result.stdout


def quantize_int4_g32(w_kn):
    """MatMulNBits B, scales for a weight [K, N] (y = x @ w)."""
    k, n = w_kn.shape
    if k % 32:
        return None
    w = w_kn.T.astype(np.float32).reshape(n, k // 32, 32)  # [N, blocks, 32]
    amax = np.abs(w).max(axis=2)
    scale = (amax / np.float32(7.0)).astype(np.float32)
    safe = np.where(scale == 0, np.float32(1.0), scale)
    codes = np.clip(np.rint(w / safe[:, :, None]), -8, 7).astype(np.int32) + 8
    packed = (codes[:, :, 0::2] | (codes[:, :, 1::2] << 4)).astype(np.uint8)  # [N, blocks, 16]
    return packed, scale.reshape(-1)


def write_matmulnbits_model(src, dst):
    model = onnx.load(src)
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    replaced, nodes, drop = 0, [], set()
    for node in graph.node:
        w = inits.get(node.input[1]) if node.op_type == "MatMul" else None
        if w is None or len(w.dims) != 2:
            nodes.append(node)
            continue
        q = quantize_int4_g32(numpy_helper.to_array(w))
        if q is None:
            nodes.append(node)
            continue
        k, n = w.dims
        packed, scales = q
        b_name, s_name = w.name + "_nbits_B", w.name + "_nbits_scales"
        graph.initializer.extend([numpy_helper.from_array(packed, b_name),
                                  numpy_helper.from_array(scales, s_name)])
        drop.add(w.name)
        nodes.append(helper.make_node(
            "MatMulNBits", [node.input[0], b_name, s_name], list(node.output),
            name=(node.name or node.output[0]) + "_nbits", domain="com.microsoft",
            K=k, N=n, bits=4, block_size=32, accuracy_level=4))
        replaced += 1
    del graph.node[:]
    graph.node.extend(nodes)
    kept = [i for i in graph.initializer if i.name not in drop]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, dst)
    return replaced


def sqnr(ref, y):
    ref, y = ref.astype(np.float64), y.astype(np.float64)
    noise = np.sum((ref - y) ** 2)
    return float("inf") if noise == 0 else 10 * np.log10(np.sum(ref ** 2) / noise)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=os.path.join(CACHE, "test-decoder", "model.onnx"))
    parser.add_argument("--recipes", default="none,int8,w4a8-int4,w4a16-nvfp4,w4a8-mxfp4")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--target", help="quant-compile --target for quantc's libraries "
                        "(default: the host); ONNX Runtime always runs for the host")
    parser.add_argument("--work", default=os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                                       "quantc-decoder-bench"))
    parser.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"))
    args = parser.parse_args()
    if not os.path.exists(args.model):
        sys.exit("%s: missing (run scripts/make-test-decoder.py)" % args.model)
    os.makedirs(args.work, exist_ok=True)
    ort_dir = os.path.join(ROOT, "bench", "ort")
    if not os.path.isdir(os.path.join(ort_dir, "node_modules", "onnxruntime-node")):
        run(["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix", ort_dir,
             "onnxruntime-node@1.30.0"])
    env = dict(os.environ, NODE_PATH=os.path.join(ort_dir, "node_modules"))

    # One held-out window as input (any 128 bytes would do for timing).
    inputs = os.path.join(args.work, "inputs")
    os.makedirs(inputs, exist_ok=True)
    tokens = np.load(os.path.join(os.path.dirname(args.model), "eval_tokens.npy"))[:1, :128]
    ids = os.path.join(inputs, "input_ids.npy")
    np.save(ids, tokens.astype(np.int64))

    nbits = os.path.join(args.work, "model_matmulnbits.onnx")
    replaced = write_matmulnbits_model(args.model, nbits)

    def time_ort(model, threads, name):
        out = os.path.join(args.work, "ort-" + name)
        os.makedirs(out, exist_ok=True)
        run(["node", os.path.join(ort_dir, "run_model.js"), model, "--inputs", inputs,
             "--outputs", out], env=env)
        line = run(["node", os.path.join(ort_dir, "run_model.js"), model, "--inputs", inputs,
                    "--threads", str(threads), "--time", str(args.runs)], env=env)
        median, low = map(float, line.split()[:2])
        return median, low, np.load(os.path.join(out, "logits.npy"))

    def time_quantc(recipe, threads):
        lib = os.path.join(args.work, recipe + ("-" + args.target if args.target else "") + ".so")
        if not os.path.exists(lib) or os.path.getmtime(lib) < os.path.getmtime(
                os.path.join(args.bin, "quant-compile")):
            cmd = [os.path.join(args.bin, "quant-compile"), args.model, "-o", lib]
            if recipe != "none":
                cmd += ["--recipe", recipe]
            if args.target:
                cmd += ["--target", args.target]
            run(cmd)
        out = os.path.join(args.work, "out-" + recipe)
        text = run([os.path.join(args.bin, "quant-run"), lib, "--input", "input_ids=" + ids,
                    "--output-dir", out, "--threads", str(threads),
                    "--benchmark", str(args.runs)])
        m = re.search(r"median: ([0-9.]+) us\s+min: ([0-9.]+) us", text)
        if not m:
            sys.exit("quant-run printed no timing:\n" + text)
        files = sorted(f for f in os.listdir(out) if f.endswith(".npy"))
        return float(m.group(1)) / 1e3, float(m.group(2)) / 1e3, np.load(os.path.join(out, files[0]))

    print("test decoder %s: input_ids [1, 128], one forward = 128 positions, no KV cache; "
          "%d MatMuls -> MatMulNBits for ORT; %d timed calls, median (min) ms"
          % (args.model, replaced, args.runs))
    print()
    print("| engine, weights | threads | ms per forward, median (min) | forward/s | scored tokens/s "
          "| logits SQNR vs float |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for threads in map(int, args.threads.split(",")):
        _, _, reference = time_ort(args.model, 1, "float")
        rows = []
        for name, model in (("ONNX Runtime, float", args.model),
                            ("ONNX Runtime, MatMulNBits int4 b32 level 4", nbits)):
            median, low, y = time_ort(model, threads, "nbits" if "NBits" in name else "float")
            rows.append((name, median, low, y))
        for recipe in args.recipes.split(","):
            median, low, y = time_quantc(recipe, threads)
            rows.append(("quantc, " + ("float" if recipe == "none" else recipe)
                         + (" (" + args.target + ")" if args.target else ""), median, low, y))
        for name, median, low, y in rows:
            print("| %s | %d | %.3f (%.3f) | %.0f | %.0f | %.1f dB |"
                  % (name, threads, median, low, 1e3 / median, 128e3 / median,
                     sqnr(reference, y.reshape(reference.shape))))


if __name__ == "__main__":
    main()
