#!/usr/bin/env python3
"""Checks qc-expand-formats against the format library, bit for bit.

For every format given (default: every named format plus overrides that
exercise each scale rounding, scale type, granularity and element option),
compiles

    qc.fake_quant x           -> compared with `quant-tensor fake-quant`
    qc.quantize x             -> compared with `quant-tensor pack`
    qc.dequantize(quantize x) -> compared with `quant-tensor fake-quant`

with quant-run (which runs qc-expand-formats and the CPU pipeline) on a tensor
with normal, subnormal, huge, zero, NaN, Inf and tie rows, and prints one line
per format. Exit status 1 if anything differs.
"""
import argparse
import os
import subprocess
import sys

import numpy as np

OVERRIDES = [
    "mxfp4, scale_rounding = ceil", "mxfp4, scale_rounding = nearest",
    "mxint8, scale_rounding = ceil", "mxfp8_e4m3, scale_rounding = nearest",
    "mxfp6_e3m2, scale_rounding = ceil", "int8, scale = f16",
    "int4_g32, scale = bf16", "e4m3, scale = bf16", "uint4, scale = f16",
    "e3m2, axis = 0", "mxfp4_g4, axis = 0", "int8, granularity = tensor",
    "e4m3, block = 2, block2 = 32, granularity = block2d",
    "int4_g32, clip = 0.9", "uint8, clip = 0.8", "e5m2, saturate = false",
    "e4m3, saturate = false", "nvfp4_g32", "nvint4, clip = 0.9",
    "e2m1, block = 16, scale = e4m3",
    # Static (calibrated) amax: below and above the data amax, with a clip.
    "int8, granularity = tensor, amax = 0.5",
    "int8, granularity = tensor, amax = 3, clip = 0.9",
    "e4m3, granularity = tensor, amax = 100",
    "nvfp4, amax = 2.5", "nvint4, amax = 10000.0",
]


def make_input(path):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((8, 128)).astype(np.float32)
    x[1] *= np.float32(1e-40)          # f32 subnormals
    x[2] *= np.float32(1e30)           # huge
    x[3, :64] = 0.0                    # zero blocks
    x[4, 5] = np.nan                   # a NaN block
    x[5, 70] = np.inf                  # an Inf block
    x[6] = np.round(x[6] * 4) / 4      # exact ties for coarse grids
    x[6, 0] = 6.0
    x[7, :32] *= np.float32(1e-3)
    x[7, 1] = -0.0
    np.save(path, x)
    return x.shape


def named_formats(quant_tensor):
    out = subprocess.run([quant_tensor, "formats"], check=True,
                         capture_output=True, text=True).stdout
    names = []
    for line in out.splitlines():
        word = line.split()[0] if line.split() else ""
        if word and word not in ("name", "format") and not word.startswith("-"):
            names.append(word)
    return names


def program(spec, shape):
    dims = "x".join(str(d) for d in shape)
    t = f"tensor<{dims}xf32>"
    p = f"!qc.packed<{dims}, {spec}>"
    return (f"func.func @main(%x: {t}) -> ({t}, {p}, {t}) {{\n"
            f"  %f = qc.fake_quant %x as <{spec}> : {t}\n"
            f"  %p = qc.quantize %x : {t} -> {p}\n"
            f"  %d = qc.dequantize %p : {p} -> {t}\n"
            f"  return %f, %p, %d : {t}, {p}, {t}\n}}\n")


def compare(quant_tensor, a, b):
    r = subprocess.run([quant_tensor, "compare", "--exact", a, b],
                       capture_output=True, text=True)
    return r.returncode == 0, (r.stdout + r.stderr).strip()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", required=True)
    parser.add_argument("formats", nargs="*")
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    x = os.path.join(args.workdir, "x.npy")
    shape = make_input(x)
    formats = args.formats or named_formats("quant-tensor") + OVERRIDES
    failures = 0
    for i, spec in enumerate(formats):
        d = os.path.join(args.workdir, f"f{i}")
        os.makedirs(d, exist_ok=True)
        mlir = os.path.join(d, "f.mlir")
        with open(mlir, "w") as f:
            f.write(program(spec, shape))
        run = subprocess.run(["quant-run", mlir, "--entry", "main", "--input", x,
                              "--output-dir", os.path.join(d, "out")],
                             capture_output=True, text=True)
        if run.returncode != 0:
            print(f"FAIL {spec}: quant-run: {run.stderr.strip()}")
            failures += 1
            continue
        spec_cli = spec
        subprocess.run(["quant-tensor", "fake-quant", "--format", spec_cli, x,
                        os.path.join(d, "fq.npy")], check=True)
        subprocess.run(["quant-tensor", "pack", "--format", spec_cli, x,
                        os.path.join(d, "pk.npy")], check=True)
        results = [("fake_quant", "0.npy", "fq.npy"),
                   ("quantize", "1.npy", "pk.npy"),
                   ("dequantize", "2.npy", "fq.npy")]
        bad = []
        for what, got, want in results:
            ok, text = compare("quant-tensor", os.path.join(d, "out", got),
                               os.path.join(d, want))
            if not ok:
                bad.append(f"{what}: {text}")
        if bad:
            failures += 1
            print(f"FAIL {spec}: " + "; ".join(bad))
        else:
            print(f"exact {spec}")
    print(f"{len(formats) - failures} of {len(formats)} formats bit-identical")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
