#!/usr/bin/env python3
"""Checks that qc-lower-cpu's online Hadamard (the rotation of x done in the
kernel's prep phase) gives the bits of the separate qc.hadamard.

For every case K[:seed] and number of rows M it writes

  %h = qc.hadamard %x along -1 [seed S]      x: [M, K], or [2, M/2, K] with
  %y = qc.matmul %h (collapsed), qc.quantize(W) act <ACT>      --rank3
  return %y

with a random constant W [N, K], lowers it with quant-opt --qc-lower-cpu
twice, as is (the kernel rotates x: no qc.hadamard may remain, the kernel's
name carries _h) and with hadamard=0 (qc.hadamard stays, lowered by
qc-expand-formats), runs both with quant-run and requires bit-identical
outputs (and, with --threads, the same bits for every thread count).
Prints one line per case and a summary; exits 1 if any case fails.
Needs numpy; quant-opt and quant-run on PATH.

  hadamard_kernel_check.py --target x86-64-v4-vnni --format int4_g32 \\
      --act int8_g32 --cases 256,768:5,160 --rows 1,5 --n 40 --work DIR
"""
import argparse
import os
import re
import subprocess
import sys

import numpy as np


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write("command failed: %s\n%s%s" % (" ".join(cmd), result.stdout, result.stderr))
        raise SystemExit(1)
    return result.stdout


def hex_f32(a):
    return '"0x' + np.ascontiguousarray(a, dtype="<f4").tobytes().hex().upper() + '"'


def write_case(path, w, m, k, seed, fmt, act, rank3):
    n = w.shape[0]
    seed_text = " seed %d" % seed if seed is not None else ""
    xtype = "tensor<2x%dx%dxf32>" % (m // 2, k) if rank3 else "tensor<%dx%dxf32>" % (m, k)
    with open(path, "w") as f:
        f.write("func.func @main(%%x: %s) -> tensor<%dx%dxf32> {\n" % (xtype, m, n))
        f.write("  %%c = arith.constant dense<%s> : tensor<%dx%dxf32>\n" % (hex_f32(w), n, k))
        f.write("  %%p = qc.quantize %%c : tensor<%dx%dxf32> -> !qc.packed<%dx%d, %s>\n" % (n, k, n, k, fmt))
        f.write("  %%h = qc.hadamard %%x along %d%s : %s\n" % (2 if rank3 else 1, seed_text, xtype))
        h = "%h"
        if rank3:
            f.write("  %%m = tensor.collapse_shape %%h [[0, 1], [2]] : %s into tensor<%dx%dxf32>\n"
                    % (xtype, m, k))
            h = "%m"
        f.write("  %%y = qc.matmul %s, %%p act <%s> : tensor<%dx%dxf32>, !qc.packed<%dx%d, %s> -> tensor<%dx%dxf32>\n"
                % (h, act, m, k, n, k, fmt, m, n))
        f.write("  return %%y : tensor<%dx%dxf32>\n}\n" % (m, n))


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", default="native")
    parser.add_argument("--format", default="int4_g32")
    parser.add_argument("--act", default="int8_g32")
    parser.add_argument("--cases", required=True, help="K[:seed],...")
    parser.add_argument("--rows", default="1,5")
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--threads", default="1")
    parser.add_argument("--rank3", action="store_true")
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    threads = [int(t) for t in args.threads.split(",")]
    failures = total = 0
    index = 0
    for case in args.cases.split(","):
        parts = case.split(":")
        k = int(parts[0])
        seed = int(parts[1]) if len(parts) > 1 else None
        for m in (int(r) for r in args.rows.split(",")):
            index += 1
            total += 1
            rng = np.random.default_rng(100 + index)
            w = rng.standard_normal((args.n, k)).astype(np.float32)
            x = rng.standard_normal((m, k)).astype(np.float32)
            x[:, ::29] *= 8  # outlier channels: what the rotation spreads
            base = os.path.join(args.work, "case%d" % index)
            rank3 = args.rank3 and m % 2 == 0
            np.save(base + "_x.npy", x.reshape(2, m // 2, k) if rank3 else x)
            write_case(base + ".mlir", w, m, k, seed, args.format, args.act, rank3)
            label = "K=%d%s M=%d %s act=%s" % (k, " seed=%d" % seed if seed is not None else "",
                                             m, args.format, args.act)
            outputs = {}
            for variant, option in (("fused", ""), ("ref", " hadamard=0")):
                lowered = run(["quant-opt", base + ".mlir",
                               "--qc-lower-cpu=target=%s%s" % (args.target, option)])
                has_hadamard = "qc.hadamard" in lowered
                kernel = re.search(r"call @__qc_matmul_\w+", lowered)
                rotates = bool(kernel) and re.search(r"_h(s\d+)?(_ep|$)", kernel.group(0))
                if variant == "fused" and (has_hadamard or not rotates):
                    print("FAIL %s: the kernel does not rotate x (qc.hadamard left: %s)"
                          % (label, has_hadamard))
                    failures += 1
                    break
                if variant == "ref" and (not has_hadamard or not kernel or rotates):
                    print("FAIL %s: hadamard=0 did not keep qc.hadamard before a kernel" % label)
                    failures += 1
                    break
                program = base + "." + variant + ".mlir"
                with open(program, "w") as f:
                    f.write(lowered)
                for t in threads if variant == "fused" else threads[:1]:
                    out = base + "_%s%d" % (variant, t)
                    run(["quant-run", program, "--entry", "main", "--input", base + "_x.npy",
                         "--output-dir", out, "--threads", str(t)])
                    outputs[(variant, t)] = np.load(os.path.join(out, "0.npy"))
            else:
                ref = outputs[("ref", threads[0])]
                bad = [t for t in threads if outputs[("fused", t)].tobytes() != ref.tobytes()]
                if bad:
                    diff = np.abs(outputs[("fused", bad[0])].astype(np.float64) - ref).max()
                    print("FAIL %s: %d thread(s) differ from qc.hadamard + kernel, max |diff| %g"
                          % (label, bad[0], diff))
                    failures += 1
                else:
                    print("ok %s: bit-identical, threads=%s" % (label, args.threads))
    print("%d of %d cases bit-identical" % (total - failures, total))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
