#!/usr/bin/env python3
"""Measures a latency profile of this machine for qc-allocate-bits' latency
model (include/quantc/Transforms/LatencyModel.h) and writes it as JSON.

  /usr/bin/python3 bench/latency_profile.py [--threads 1] [--build build]
      [--formats int8,mxfp4,...] [--a8] [--repeat 30] -o profile.json

It times quantc's own code, compiled as quant-compile compiles models:
  - each candidate weight format's matmul kernel (float activations; with
    --a8 also int8 activations, int8_g32 or mxint8 for MX formats) on ONNX
    models of 8 MatMuls with their own weights (so that, as in a model, the
    weights do not all stay in the core's cache) at several [K, N] sizes:
    GEMV (M = 1) as weight GB/s, GEMM (M = 128) as GOP/s;
  - the float code around matmuls on small MLIR probes at a decoder's
    attention sizes: an elementwise add, a row reduction, a head transpose
    (GB/s of bytes read and written) and a batched matmul (GFLOP/s);
  - the machine's DRAM and cache read bandwidth (quantc-bench-cpu's probe).
Each figure is the fastest of --repeat runs (quant-run --benchmark), so run
it on a quiet machine. `quant-compile --latency-profile profile.json` uses
the result; the built-in profile (lib/Transforms/LatencyModel.cpp) is this
script's output on the development machine.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DEFAULT_FORMATS = "int8,mxint8,mxfp8_e4m3,mxfp6_e2m3,mxfp4,nvfp4,nvint4,int4_g32"
SIZES = [(256, 256), (256, 768), (768, 256), (1024, 1024), (4096, 4096)]
GEMM_ROWS = 128


def run(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit("failed: " + " ".join(command) + "\n" + result.stderr)
    return result.stdout + result.stderr


def best_microseconds(output):
    match = re.search(r"min: ([0-9.]+) us", output)
    if not match:
        sys.exit("no timing in quant-run's output:\n" + output)
    return float(match.group(1))


def matmul_model(path, m, k, n, seed, layers):
    """`layers` MatMuls of the same x by different [K, N] weights: together
    the weights outgrow the per-core cache as a model's do, so each kernel is
    timed reading its weights the way it does inside a model."""
    rng = np.random.default_rng(seed)
    nodes, outputs, weights = [], [], []
    for i in range(layers):
        weight = rng.standard_normal((k, n)).astype(np.float32) / np.sqrt(k)
        weights.append(numpy_helper.from_array(weight, f"w{i}"))
        nodes.append(helper.make_node("MatMul", ["x", f"w{i}"], [f"y{i}"], name=f"layer{i}"))
        outputs.append(helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, [m, n]))
    graph = helper.make_graph(
        nodes, "probe",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [m, k])],
        outputs, weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)


def time_matmul(args, work, fmt, act, m, k, n):
    model = os.path.join(work, f"mm_{m}_{k}_{n}.onnx")
    if not os.path.exists(model):
        matmul_model(model, m, k, n, seed=k * 7 + n, layers=args.layers)
    recipe = os.path.join(work, "recipe.json")
    spec = {"weights": fmt}
    if act:
        spec["activations"] = act
    with open(recipe, "w") as f:
        json.dump(spec, f)
    library = os.path.join(work, "probe.so")
    run([args.quant_compile, model, "--recipe", recipe, "-o", library])
    x = os.path.join(work, f"x_{m}_{k}.npy")
    np.save(x, np.random.default_rng(1).standard_normal((m, k)).astype(np.float32))
    output = run([args.quant_run, library, "--input", "x=" + x,
                  "--output-dir", os.path.join(work, "out"),
                  "--threads", str(args.threads),
                  "--benchmark", str(args.repeat)])
    return best_microseconds(output) * 1e-6 / args.layers


FLOAT_PROBES = {
    "elementwise": ("""
#m = affine_map<(i, j, k) -> (i, j, k)>
func.func @main(%a: tensor<4x128x128xf32>, %b: tensor<4x128x128xf32>) -> tensor<4x128x128xf32> {
  %e = tensor.empty() : tensor<4x128x128xf32>
  %y = linalg.generic {indexing_maps = [#m, #m, #m], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%a, %b : tensor<4x128x128xf32>, tensor<4x128x128xf32>) outs(%e : tensor<4x128x128xf32>) {
  ^bb0(%x: f32, %z: f32, %o: f32):
    %r = arith.addf %x, %z : f32
    linalg.yield %r : f32
  } -> tensor<4x128x128xf32>
  return %y : tensor<4x128x128xf32>
}""", [(4, 128, 128), (4, 128, 128)], 3 * 4 * 128 * 128 * 4),
    "reduction": ("""
func.func @main(%a: tensor<4x128x128xf32>) -> tensor<4x128xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x128xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<4x128xf32>) -> tensor<4x128xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, j, k)>, affine_map<(i, j, k) -> (i, j)>],
                       iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a : tensor<4x128x128xf32>) outs(%f : tensor<4x128xf32>) {
  ^bb0(%x: f32, %o: f32):
    %r = arith.addf %x, %o : f32
    linalg.yield %r : f32
  } -> tensor<4x128xf32>
  return %y : tensor<4x128xf32>
}""", [(4, 128, 128)], (4 * 128 * 128 + 4 * 128) * 4),
    "transpose": ("""
func.func @main(%a: tensor<1x128x4x64xf32>) -> tensor<1x4x128x64xf32> {
  %e = tensor.empty() : tensor<1x4x128x64xf32>
  %t = linalg.transpose ins(%a : tensor<1x128x4x64xf32>) outs(%e : tensor<1x4x128x64xf32>) permutation = [0, 2, 1, 3]
  return %t : tensor<1x4x128x64xf32>
}""", [(1, 128, 4, 64)], 2 * 128 * 4 * 64 * 4),
    "contraction": ("""
func.func @main(%a: tensor<4x128x64xf32>, %b: tensor<4x64x128xf32>) -> tensor<4x128x128xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x128x128xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<4x128x128xf32>) -> tensor<4x128x128xf32>
  %y = linalg.batch_matmul ins(%a, %b : tensor<4x128x64xf32>, tensor<4x64x128xf32>)
                           outs(%f : tensor<4x128x128xf32>) -> tensor<4x128x128xf32>
  return %y : tensor<4x128x128xf32>
}""", [(4, 128, 64), (4, 64, 128)], 2 * 4 * 128 * 128 * 64),
}


def time_probe(args, work, name):
    text, shapes, amount = FLOAT_PROBES[name]
    path = os.path.join(work, name + ".mlir")
    with open(path, "w") as f:
        f.write(text)
    command = [args.quant_run, path, "--entry", "main",
               "--output-dir", os.path.join(work, "out"),
               "--threads", str(args.threads), "--benchmark", str(args.repeat)]
    for i, shape in enumerate(shapes):
        array = os.path.join(work, f"{name}_{i}.npy")
        np.save(array, np.random.default_rng(i).standard_normal(shape).astype(np.float32))
        command += ["--input", f"arg{i}={array}"]
    seconds = best_microseconds(run(command)) * 1e-6
    return amount / seconds * 1e-9  # GB/s, or GFLOP/s for the contraction


def machine_limits(args):
    output = run([args.bench, "--benchmark_filter=^$"]) if os.path.exists(args.bench) else ""
    match = re.search(rf"machine, {args.threads} thread\(s\): DRAM read ([0-9.]+) GB/s, "
                      r"cache read ([0-9.]+) GB/s", output)
    if not match:
        sys.exit(f"could not read the machine's limits from {args.bench}")
    return float(match.group(1)), float(match.group(2))


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--build", default=os.path.join(os.path.dirname(__file__), "..", "build"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--formats", default=DEFAULT_FORMATS)
    parser.add_argument("--a8", action="store_true",
                        help="also int8 activations (int8_g32; mxint8 for MX formats)")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--layers", type=int, default=8,
                        help="MatMuls per probe model, each with its own weights (per-layer time = "
                             "the model's / LAYERS)")
    parser.add_argument("--machine", default="",
                        help="a description of the machine for the profile")
    parser.add_argument("--cache-bytes", type=float, default=32 * 1024 * 1024,
                        help="last-level cache size: models whose weights fit read them from cache")
    args = parser.parse_args()
    binaries = os.path.join(os.path.abspath(args.build), "bin")
    args.quant_compile = os.path.join(binaries, "quant-compile")
    args.quant_run = os.path.join(binaries, "quant-run")
    args.bench = os.path.join(binaries, "quantc-bench-cpu")

    dram, cache = machine_limits(args)
    profile = {
        "machine": args.machine or f"{os.uname().nodename}, {args.threads} thread(s)",
        "threads": args.threads,
        "dram_GBs": dram,
        "cache_GBs": cache,
        "cache_bytes": args.cache_bytes,
        "kernels": {},
    }
    with tempfile.TemporaryDirectory() as work:
        for name, key in [("elementwise", "elementwise_GBs"), ("reduction", "reduction_GBs"),
                          ("transpose", "transpose_GBs"), ("contraction", "float_GFLOPs")]:
            profile[key] = round(time_probe(args, work, name), 3)
            print(f"{name}: {profile[key]}", flush=True)
        for fmt in args.formats.split(","):
            kinds = [("a16", None)]
            if args.a8:
                kinds.append(("a8", "mxint8" if fmt.startswith("mx") else "int8_g32"))
            for kind, act in kinds:
                speeds = []
                for k, n in SIZES:
                    gemv = time_matmul(args, work, fmt, act, 1, k, n)
                    gemm = time_matmul(args, work, fmt, act, GEMM_ROWS, k, n)
                    bits = bits_per_weight(args, work, fmt, k, n)
                    speeds.append({
                        "k": k, "n": n,
                        "gemv_GBs": round(k * n * bits / 8 / gemv * 1e-9, 3),
                        "gemm_GOPs": round(2 * GEMM_ROWS * k * n / gemm * 1e-9, 3),
                    })
                    print(f"{fmt}/{kind} K{k}xN{n}: {speeds[-1]}", flush=True)
                profile["kernels"][f"{fmt}/{kind}"] = speeds
    with open(args.output, "w") as f:
        json.dump(profile, f, indent=1)
    print("wrote", args.output)


def bits_per_weight(args, work, fmt, k, n):
    """Bits per weight of `fmt` on an [N, K] weight, scales included, as the
    format library counts them (quant-tensor qsnr)."""
    tensor = os.path.join(work, f"w_{n}_{k}.npy")
    if not os.path.exists(tensor):
        np.save(tensor, np.random.default_rng(0).standard_normal((n, k)).astype(np.float32))
    output = run([os.path.join(os.path.dirname(args.quant_run), "quant-tensor"), "qsnr",
                  "--formats", fmt, tensor])
    for line in output.splitlines():
        fields = line.split()
        if fields and fields[0] == fmt:
            return float(fields[-1])
    sys.exit(f"no bits per weight for {fmt} in quant-tensor's output:\n{output}")


if __name__ == "__main__":
    main()
