#!/usr/bin/env python3
"""quant-run --device cuda against quant-run (CPU) for every case of cases.txt.

usage: gpu_vs_cpu.py --cases cases.txt --work DIR --quant-run BIN --quant-tensor BIN

Per case (format, N x K, M, chip path): random x [M, K] and W [N, K] (numpy,
fixed seeds), W packed by `quant-tensor pack`, one qc.matmul run on the CPU
and with `--device cuda --gpu-chip CHIP` for every chip of cases.txt the
device runs (others are skipped, with a line saying so). The error of each
output is measured against S = sum_k |x_k w_k| with w the dequantized weights
(`quant-tensor unpack`): tolerance() below. Prints one line per case and
"N passed, N failed, N skipped"; exits 1 on any failure.

cases.txt `acts` lists WEIGHT/ACT format pairs: the same, with `act <ACT>` on
the qc.matmul (x quantized on the GPU by qc_quantize_act; on chips without a
kernel reading packed activations decoded back by qc_dequantize_act, which
gives the CPU reference's fake-quantized x bit for bit, so the tolerances are
the float kernels'); S then uses x fake-quantized by `quant-tensor
fake-quant`.
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


# Compute capability of each chip path, and whether it is arch-specific
# (quantc/Conversion/GpuChips.h).
CHIPS = {"sm_80": (8, 0, False), "sm_90a": (9, 0, True), "sm_100a": (10, 0, True),
         "sm_120a": (12, 0, True)}


def device_capability():
    out = subprocess.run(["nvidia-smi", "--query-gpu=compute_cap", "--format=csv,noheader"],
                         capture_output=True, text=True).stdout.split()
    major, minor = out[0].split(".")
    return int(major), int(minor)


def chip_runs_on(chip, capability):
    major, minor, specific = CHIPS[chip]
    return capability == (major, minor) if specific else capability >= (major, minor)


# Weight/act pairs sm_120a runs on mma.sync block_scale (NVVMBlockScaleMma.cpp).
# Weight/act pairs the sm_90a FP8 wgmma GEMM takes (M > 16, K % 128 == 0).
FP8_WGMMA_PAIRS = {(w, a) for w in ("mxfp8_e4m3", "mxfp8_e5m2") for a in ("mxfp8_e4m3", "mxfp8_e5m2")} | {
    (w, a) for w in ("e4m3", "e5m2") for a in ("e4m3", "e5m2")}
BLOCK_SCALE_PAIRS = {("mxfp4", "mxfp4"), ("nvfp4", "nvfp4")} | {
    (w, a) for w in ("mxfp8_e4m3", "mxfp8_e5m2") for a in ("mxfp8_e4m3", "mxfp8_e5m2")}


def tolerance(chip, m, k, weight=None, act=None):
    """|gpu - cpu| <= tol * sum_k |x_k w_k|, from the kernel's arithmetic:
    GEMV (M <= 16): f32 products summed in another order, 1e-5; sm_90a wgmma
    GEMM (K % 64 == 0): x and w rounded to bf16 (2^-9 relative each, bound
    3.9e-3), 5e-3; mma.sync GEMM: x and w rounded to f16 (2^-11 each), 2e-3.
    sm_120a block-scaled MMA (every M): exact products of the codes, scales
    applied in the tensor core, its accumulation precision is not documented:
    2e-3 until measured. sm_90a FP8 wgmma GEMM (M > 16, K % 128 == 0): exact
    FP8 products summed per 32 (MX) or 128 k in the tensor core, exact
    power-of-two or f32 scaling, f32 promotion: 1e-3."""
    if chip == "sm_120a" and (weight, act) in BLOCK_SCALE_PAIRS:
        return 2e-3
    if chip == "sm_90a" and m > 16 and k % 128 == 0 and (weight, act) in FP8_WGMMA_PAIRS:
        return 1e-3
    if m <= 16:
        return 1e-5
    if chip == "sm_90a" and k % 64 == 0:
        return 5e-3
    return 2e-3


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
    capability = device_capability()
    chips = [c for c in table.get("chips", ["sm_90a"]) if chip_runs_on(c, capability)]
    skipped = [c for c in table.get("chips", []) if c not in chips]
    for chip in skipped:
        print(f"SKIP: chip path {chip}: the device (compute capability "
              f"{capability[0]}.{capability[1]}) does not run it", flush=True)
    passed = failed = 0
    cases = [(fmt, None) for fmt in table["formats"]]
    cases += [tuple(pair.split("/", 1)) for pair in table.get("acts", [])]
    for fmt, act in cases:
        for shape in table["shapes"]:
            n, k = (int(v) for v in shape.split("x"))
            case_dir = os.path.join(args.work, f"{fmt}_{n}x{k}" + (f"_act_{act}" if act else ""))
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
                act_attr = f" act <{act}>" if act else ""
                with open(source, "w") as f:
                    f.write(f"func.func @f(%x: tensor<{m}x{k}xf32>, %w: {t}) -> tensor<{m}x{n}xf32> {{\n"
                            f"  %y = qc.matmul %x, %w{act_attr} : tensor<{m}x{k}xf32>, {t} -> tensor<{m}x{n}xf32>\n"
                            f"  return %y : tensor<{m}x{n}xf32>\n}}\n")
                x_used = x
                if act:
                    xq = os.path.join(case_dir, f"x{m}.fq.npy")
                    run([args.quant_tensor, "fake-quant", "--format", act, xp, xq])
                    x_used = np.load(xq)
                bound = np.abs(x_used.astype(np.float64)) @ np.abs(w_deq).T + 1e-30
                cpu, cpu_problem = None, ""
                try:
                    out = os.path.join(case_dir, f"m{m}.cpu")
                    run([args.quant_run, source, "--entry", "f", "--device", "cpu",
                         "--input", xp, "--input", packed, "--output-dir", out])
                    cpu = np.load(os.path.join(out, "0.npy")).astype(np.float64)
                except RuntimeError as e:
                    cpu_problem = str(e)
                for chip in chips:
                    problem = cpu_problem
                    worst = float("inf")
                    if not problem:
                        try:
                            out = os.path.join(case_dir, f"m{m}.{chip}")
                            run([args.quant_run, source, "--entry", "f", "--device", "cuda",
                                 "--gpu-chip", chip, "--input", xp, "--input", packed,
                                 "--output-dir", out])
                            gpu = np.load(os.path.join(out, "0.npy")).astype(np.float64)
                            error = np.abs(gpu - cpu) / bound
                            worst = float(np.nanmax(error)) if not np.isnan(error).any() else float("inf")
                        except RuntimeError as e:
                            problem = str(e)
                    tol = tolerance(chip, m, k, fmt, act)
                    ok = not problem and worst <= tol
                    passed += ok
                    failed += not ok
                    name = fmt + (f"/{act}" if act else "")
                    print(f"{'PASS' if ok else 'FAIL'}: {name:<12} M={m:<4} N={n:<6} K={k:<6} {chip:<7} "
                          f"max err {worst:.2e} (tol {tol:.0e}) {problem}", flush=True)
    print(f"{passed} passed, {failed} failed, {len(skipped)} chip path(s) skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
