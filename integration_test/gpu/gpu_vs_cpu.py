#!/usr/bin/env python3
"""quant-run --device cuda against quant-run (CPU) for every case of cases.txt.

usage: gpu_vs_cpu.py --cases cases.txt --work DIR --quant-run BIN --quant-tensor BIN

Per case (format, N x K, M): random x [M, K] and W [N, K] (numpy, fixed
seeds), W packed by `quant-tensor pack`, one qc.matmul run on both devices.
The error of each output is measured against S = sum_k |x_k w_k| with w the
dequantized weights (`quant-tensor unpack`): tol = 1e-5 for M <= 16 (the f32
GEMV kernel sums in another order than the reference), 2e-3 for larger M
(the mma.sync kernel rounds x and w to f16). Prints one line per case and
"N passed, N failed"; exits 1 on any failure.
"""
import argparse
import os
import subprocess
import sys

import numpy as np


def read_table(path):
    table = {}
    for line in open(path):
        line = line.split("#")[0].strip()
        if line:
            key, _, value = line.partition(":")
            table[key.strip()] = value.split()
    return table


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(" ".join(cmd) + "\n" + result.stderr[-2000:])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--quant-run", required=True)
    parser.add_argument("--quant-tensor", required=True)
    args = parser.parse_args()
    table = read_table(args.cases)
    passed = failed = 0
    for fmt in table["formats"]:
        for shape in table["shapes"]:
            n, k = (int(v) for v in shape.split("x"))
            case_dir = os.path.join(args.work, f"{fmt}_{n}x{k}")
            os.makedirs(case_dir, exist_ok=True)
            rng = np.random.default_rng(7)
            w = (rng.standard_normal((n, k)) * 0.05).astype(np.float32)
            np.save(os.path.join(case_dir, "w.npy"), w)
            packed = os.path.join(case_dir, "w.packed.npy")
            run([args.quant_tensor, "pack", "--format", fmt, os.path.join(case_dir, "w.npy"), packed])
            run([args.quant_tensor, "unpack", "--format", fmt, "--shape", f"{n}x{k}", packed,
                 os.path.join(case_dir, "w.deq.npy")])
            w_deq = np.load(os.path.join(case_dir, "w.deq.npy")).astype(np.float64)
            for m in (int(v) for v in table["rows"]):
                x = np.random.default_rng(11 + m).standard_normal((m, k)).astype(np.float32)
                xp = os.path.join(case_dir, f"x{m}.npy")
                np.save(xp, x)
                source = os.path.join(case_dir, f"m{m}.mlir")
                t = f"!qc.packed<{n}x{k}, {fmt}>"
                with open(source, "w") as f:
                    f.write(f"func.func @f(%x: tensor<{m}x{k}xf32>, %w: {t}) -> tensor<{m}x{n}xf32> {{\n"
                            f"  %y = qc.matmul %x, %w : tensor<{m}x{k}xf32>, {t} -> tensor<{m}x{n}xf32>\n"
                            f"  return %y : tensor<{m}x{n}xf32>\n}}\n")
                problem = ""
                try:
                    outputs = {}
                    for device in ("cpu", "cuda"):
                        out = os.path.join(case_dir, f"m{m}.{device}")
                        run([args.quant_run, source, "--entry", "f", "--device", device,
                             "--input", xp, "--input", packed, "--output-dir", out])
                        outputs[device] = np.load(os.path.join(out, "0.npy")).astype(np.float64)
                    bound = np.abs(x.astype(np.float64)) @ np.abs(w_deq).T + 1e-30
                    error = np.abs(outputs["cuda"] - outputs["cpu"]) / bound
                    worst = float(np.nanmax(error)) if not np.isnan(error).any() else float("inf")
                except RuntimeError as e:
                    problem, worst = str(e), float("inf")
                tol = 1e-5 if m <= 16 else 2e-3
                ok = not problem and worst <= tol
                passed += ok
                failed += not ok
                print(f"{'PASS' if ok else 'FAIL'}: {fmt:<12} M={m:<4} N={n:<6} K={k:<6} "
                      f"max err {worst:.2e} (tol {tol:.0e}) {problem}", flush=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
