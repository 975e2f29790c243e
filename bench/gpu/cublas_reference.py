#!/usr/bin/env python3
"""cuBLAS figures for the shapes of bench/gpu/shapes.txt, through PyTorch.

usage: cublas_reference.py [--shapes bench/gpu/shapes.txt] [--rows M,M,...] [--json OUT.json]

Times y = x · Wᵀ with torch.matmul in bf16 (cuBLAS GEMM) and with
torch._scaled_mm in FP8 E4M3 with f32 per-tensor scales (cuBLASLt), with CUDA
events on device-resident data (median of batches, after warm-up), and a
device-to-device copy for the HBM bandwidth. Benchmark only: a machine
without PyTorch or a GPU prints why and exits 0 with nothing measured.
"""
import argparse
import json
import os
import sys


def read_table(path):
    table = {}
    for line in open(path):
        line = line.split("#")[0].strip()
        if line:
            key, _, value = line.partition(":")
            table[key.strip()] = value.split()
    return table


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser = argparse.ArgumentParser()
    parser.add_argument("--shapes", default=os.path.join(root, "bench", "gpu", "shapes.txt"))
    parser.add_argument("--json", default="")
    parser.add_argument("--rows", default="", help="only these M (default: the shapes file's rows)")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print("cublas_reference: skipped: no PyTorch")
        return 0
    if not torch.cuda.is_available():
        print("cublas_reference: skipped: no CUDA device for PyTorch")
        return 0

    def median_seconds(fn, batches=7, per_batch=10):
        for _ in range(3):
            fn()
        torch.cuda.synchronize()
        times = []
        for _ in range(batches):
            start = torch.cuda.Event(enable_timing=True)
            stop = torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(per_batch):
                fn()
            stop.record()
            stop.synchronize()
            times.append(start.elapsed_time(stop) * 1e-3 / per_batch)
        times.sort()
        return times[len(times) // 2]

    table = read_table(args.shapes)
    results = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
               "cuda": torch.version.cuda, "gemm": []}
    src = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    t = median_seconds(lambda: dst.copy_(src), per_batch=4)
    results["hbm_copy_gbps_read_plus_write"] = 2 * src.numel() / t / 1e9
    print(f"torch copy: {results['hbm_copy_gbps_read_plus_write']:.1f} GB/s read+write")
    del src, dst

    for shape in table["shapes"]:
        n, k = (int(v) for v in shape.split("x"))
        w = torch.randn(n, k, device="cuda", dtype=torch.bfloat16)
        w8 = w.to(torch.float8_e4m3fn)
        for m in (int(v) for v in (args.rows.split(",") if args.rows else table["rows"])):
            x = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
            flops = 2.0 * m * n * k
            per_batch = 2 if flops > 1e11 else 20
            entry = {"m": m, "n": n, "k": k}
            t = median_seconds(lambda: torch.matmul(x, w.t()), per_batch=per_batch)
            entry["bf16_seconds"] = t
            entry["bf16_tflops"] = flops / t / 1e12
            entry["bf16_weight_gbps"] = n * k * 2 / t / 1e9
            # cuBLASLt FP8 wants M a multiple of 16: pad the decode rows.
            mp = max(16, (m + 15) // 16 * 16)
            x8 = torch.randn(mp, k, device="cuda", dtype=torch.bfloat16).to(torch.float8_e4m3fn)
            one = torch.ones((), device="cuda", dtype=torch.float32)
            try:
                t8 = median_seconds(lambda: torch._scaled_mm(x8, w8.t(), scale_a=one, scale_b=one,
                                                             out_dtype=torch.bfloat16),
                                    per_batch=per_batch)
                entry["fp8_seconds"] = t8
                entry["fp8_tflops"] = 2.0 * mp * n * k / t8 / 1e12
                entry["fp8_weight_gbps"] = n * k / t8 / 1e9
            except Exception as error:  # older PyTorch or no FP8 support
                entry["fp8_error"] = str(error).splitlines()[0]
            results["gemm"].append(entry)
            print(f"cuBLAS M={m:<5} N={n:<6} K={k:<6} bf16 {entry['bf16_seconds']*1e6:9.1f} us "
                  f"{entry['bf16_tflops']:7.1f} TFLOP/s | fp8 "
                  + (f"{entry['fp8_seconds']*1e6:9.1f} us {entry['fp8_tflops']:7.1f} TFLOP/s"
                     if "fp8_seconds" in entry else entry.get("fp8_error", "")), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
