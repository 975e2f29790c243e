#!/usr/bin/env python3
"""Compiles the whole-model GPU check (scripts/gpu-check.sh, step `models`)
on a machine with the quantc build, for a GPU machine without one.

  prepare_models.py --out DIR --bin BUILD/bin [--chips sm_80,sm_90a] [--all]

For the tiny decoder of test/lit-tools/make_rotate_decoder.py (8 tokens),
float and w4a16-nvfp4, and, when it is cached, the test decoder of
scripts/make-test-decoder.py (128 tokens), w4a16-nvfp4 (float too with
--all: 30 MB more, beyond what a device session carries):
  DIR/<model>_<recipe>_cuda.so   quant-compile --target cuda:CHIPS (the float
                                 graph and qc.matmul on the GPU, device-
                                 resident buffers)
  DIR/<model>_<recipe>_cpu.so    quant-compile --target x86-64-v3 (the CPU
                                 path, timed on the GPU machine's CPU)
  DIR/<model>_ids.npy            the input tokens
  DIR/<model>_<recipe>_ref.npy   the logits of quant-run on this CPU
  DIR/models.txt                 one line per library: label, library,
                                 input, reference, minimum SQNR in dB
"""
import argparse
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.environ.get("QUANTC_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "quantc")
# The GPU's kernels against the CPU's: float kernels differ in summation
# order and FMA contraction only; w4a16-nvfp4 runs f16 mma.sync (M > 16) on
# the GPU and 16-bit activations on the CPU.
MIN_SQNR = {"float": 80.0, "w4a16-nvfp4": 40.0}


def run(cmd):
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--bin", required=True)
    parser.add_argument("--chips", default="sm_80,sm_90a")
    parser.add_argument("--all", action="store_true",
                        help="the test decoder in float too")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    tool = lambda name: os.path.join(args.bin, name)  # noqa: E731

    models = []
    tiny = os.path.join(args.out, "tiny_decoder.onnx")
    run([sys.executable, os.path.join(ROOT, "test", "lit-tools", "make_rotate_decoder.py"), tiny])
    np.save(os.path.join(args.out, "tiny_decoder_ids.npy"),
            np.array([[1, 5, 9, 2, 14, 7, 0, 11]], dtype=np.int64))
    models.append(("tiny_decoder", tiny))
    cached = os.path.join(CACHE, "test-decoder")
    if os.path.exists(os.path.join(cached, "model.onnx")):
        tokens = np.load(os.path.join(cached, "eval_tokens.npy"))[:1, :128]
        np.save(os.path.join(args.out, "test_decoder_ids.npy"), tokens.astype(np.int64))
        models.append(("test_decoder", os.path.join(cached, "model.onnx")))

    lines = []
    for name, onnx in models:
        ids = os.path.join(args.out, f"{name}_ids.npy")
        for recipe in ("float", "w4a16-nvfp4"):
            if name == "test_decoder" and recipe == "float" and not args.all:
                continue
            stem = os.path.join(args.out, f"{name}_{recipe}")
            quant = [] if recipe == "float" else ["--recipe", recipe]
            run([tool("quant-compile"), onnx, *quant, "--target", f"cuda:{args.chips}",
                 "-o", stem + "_cuda.so", "--quiet"])
            run([tool("quant-compile"), onnx, *quant, "--target", "x86-64-v3",
                 "-o", stem + "_cpu.so", "--quiet"])
            if recipe == "float":
                source = [onnx]
            else:
                run([tool("quant-compile"), onnx, *quant, "--emit", "mlir",
                     "-o", stem + ".mlir", "--quiet"])
                source = [stem + ".mlir", "--entry", "main"]
            run([tool("quant-run"), *source, "--input", ids, "--output-dir", stem + "_ref"])
            outputs = sorted(os.listdir(stem + "_ref"))
            os.replace(os.path.join(stem + "_ref", outputs[0]), stem + "_ref.npy")
            for leftover in outputs[1:]:
                os.remove(os.path.join(stem + "_ref", leftover))
            os.rmdir(stem + "_ref")
            if recipe != "float":
                os.remove(stem + ".mlir")
            for target in ("cuda", "cpu"):
                lines.append(f"{name}_{recipe}_{target} {os.path.basename(stem)}_{target}.so "
                             f"{os.path.basename(ids)} {os.path.basename(stem)}_ref.npy "
                             f"{MIN_SQNR[recipe]}")
    with open(os.path.join(args.out, "models.txt"), "w") as f:
        f.write("# label library input reference min_sqnr_db (paths relative to this file)\n")
        f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
