#!/usr/bin/env python3
"""Summarizes a scripts/gpu-check.sh run: OUT/summary.md and OUT/summary.json.

usage: summarize.py OUT_DIR STEPS_FILE

Reads OUT/device.json, tests.json, bench.json, cublas.json (each optional) and
the step statuses (lines "name status seconds"), and states the issue's
acceptance figures: 4-bit GEMV at M = 1 as a fraction of the measured HBM
bandwidth (device-to-device copy, bytes read + written), and the MXFP8 GEMM
at M = 4096 against cuBLAS FP8.
"""
import json
import os
import sys


def load(out, name):
    path = os.path.join(out, name)
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def variant(r):
    """The qc-lower-gpu options a benchmark kernel was made with, from its
    PTX file (kernels_gemv_rows_8.ptx: gemv_rows_8; kernels.ptx: default)."""
    stem = os.path.splitext(r.get("ptx") or "kernels.ptx")[0]
    return stem[len("kernels_"):] if stem.startswith("kernels_") else "default"


def main():
    out, steps_file = sys.argv[1], sys.argv[2]
    steps = []
    if os.path.exists(steps_file):
        for line in open(steps_file):
            parts = line.split()
            if len(parts) >= 3:
                steps.append({"step": parts[0], "status": parts[1], "seconds": float(parts[2])})
    device, tests, bench, cublas = (load(out, n) for n in
                                    ("device.json", "tests.json", "bench.json", "cublas.json"))
    summary = {"steps": steps, "device": device}
    md = ["# quantc GPU check", ""]
    if device:
        md += [f"Device: {device.get('name')} (compute capability {device.get('compute_capability')}, "
               f"{device.get('multiprocessors')} SMs, driver {device.get('driver_version')})", ""]
    md += ["| step | status | seconds |", "| --- | --- | --- |"]
    md += [f"| {s['step']} | {s['status']} | {s['seconds']:.0f} |" for s in steps]
    md.append("")

    if tests:
        summary["tests"] = {"passed": tests["passed"], "failed": tests["failed"]}
        md += [f"## GPU vs CPU reference: {tests['passed']} passed, {tests['failed']} failed", "",
               "Tolerance: |y - y_ref| <= tol * sum_k |x_k w_k|, tol = 1e-5 for M <= 16 (f32 GEMV), "
               "2e-3 for M = 128 (f16 operands on mma.sync).", ""]
        failures = [c for c in tests["cases"] if not c["passed"]]
        if failures:
            md += ["| format | M | N | K | max err | problem |", "| --- | --- | --- | --- | --- | --- |"]
            md += [f"| {c['format']} | {c['m']} | {c['n']} | {c['k']} | {c['max_error']:.2e} | {c['problem']} |"
                   for c in failures]
            md.append("")
    else:
        md += ["## GPU vs CPU reference: not run", ""]

    cublas_by_shape = {}
    if cublas:
        for g in cublas.get("gemm", []):
            cublas_by_shape[(g["m"], g["n"], g["k"])] = g
    if bench:
        hbm = bench.get("hbm_copy_gbps_read_plus_write", 0)
        md += [f"## Benchmarks (HBM copy probe: {hbm:.0f} GB/s read + write)", "",
               "| format | act | M | N | K | kernel | variant | us | weight GB/s | % HBM | TFLOP/s | cuBLAS bf16 TFLOP/s | cuBLAS fp8 TFLOP/s |",
               "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in bench["kernels"]:
            ref = cublas_by_shape.get((r["m"], r["n"], r["k"]), {})
            md.append(f"| {r['format']} | {r.get('act') or '-'} | {r['m']} | {r['n']} | {r['k']} | {r['kernel']} | "
                      f"{variant(r)} | "
                      f"{r['seconds']*1e6:.1f} | {r['weight_gbps']:.0f} | "
                      f"{100*r['weight_gbps']/hbm if hbm else 0:.0f} | {r['tflops']:.2f} | "
                      f"{ref.get('bf16_tflops', float('nan')):.1f} | {ref.get('fp8_tflops', float('nan')):.1f} |")
        md.append("")
        gemv4 = [r for r in bench["kernels"] if r["m"] == 1 and r["kernel"].startswith("qc_gemv")
                 and r["format"] in ("mxfp4", "nvfp4", "int4_g128")]
        acceptance = {}
        # The GEMV variants (gemv-rows=R) one line each; the acceptance
        # figures are the default's.
        for name in sorted({variant(r) for r in gemv4} - {"default"}):
            rows = [r for r in gemv4 if variant(r) == name]
            md.append(f"- 4-bit GEMV, M = 1, {name}: "
                      f"{100*min(r['weight_gbps'] for r in rows)/hbm:.0f}% to "
                      f"{100*max(r['weight_gbps'] for r in rows)/hbm:.0f}% of the measured HBM bandwidth.")
        gemv4 = [r for r in gemv4 if variant(r) == "default"]
        if gemv4 and hbm:
            best = max(gemv4, key=lambda r: r["weight_gbps"])
            worst = min(gemv4, key=lambda r: r["weight_gbps"])
            acceptance["gemv_4bit_m1_fraction_of_hbm_best"] = best["weight_gbps"] / hbm
            acceptance["gemv_4bit_m1_fraction_of_hbm_worst"] = worst["weight_gbps"] / hbm
            md.append(f"- 4-bit GEMV, M = 1: {100*worst['weight_gbps']/hbm:.0f}% to "
                      f"{100*best['weight_gbps']/hbm:.0f}% of the measured HBM bandwidth (target >= 80%).")
        # MXFP8 weights with float activations (bf16 wgmma), and W8A8 FP8
        # (activations quantized on the GPU, FP8 wgmma GEMM; the activation
        # quantization kernel is timed on its own line).
        for key, label, select in (
                ("mxfp8_gemm_m4096_fraction_of_cublas_fp8", "MXFP8 weights, float activations",
                 lambda r: r["format"] == "mxfp8_e4m3" and not r.get("act")),
                ("w8a8_mxfp8_fp8_gemm_m4096_fraction_of_cublas_fp8", "W8A8 MXFP8 (FP8 wgmma GEMM)",
                 lambda r: r.get("act") == "mxfp8_e4m3" and "quantize" not in r["kernel"]),
                ("w8a8_e4m3_fp8_gemm_m4096_fraction_of_cublas_fp8",
                 "W8A8 e4m3 per channel/row (FP8 wgmma GEMM)",
                 lambda r: r.get("act") == "e4m3" and "quantize" not in r["kernel"])):
            ratios = {}
            for r in bench["kernels"]:
                if r["m"] != 4096 or "qc_mma_gemm" in r["kernel"] or not select(r):
                    continue
                ref = cublas_by_shape.get((r["m"], r["n"], r["k"]), {})
                if ref.get("fp8_tflops"):
                    ratios[f"{r['n']}x{r['k']}"] = r["tflops"] / ref["fp8_tflops"]
            if ratios:
                acceptance[key] = ratios
                md.append(f"- {label}, M = 4096: "
                          + ", ".join(f"{s}: {100*x:.0f}%" for s, x in ratios.items())
                          + " of cuBLAS FP8 (target >= 60%).")
        summary["acceptance"] = acceptance
        summary["bench"] = bench
    else:
        md += ["## Benchmarks: not run", ""]
    if cublas:
        summary["cublas"] = cublas
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
