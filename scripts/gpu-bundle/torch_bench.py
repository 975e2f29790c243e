#!/usr/bin/env python3
"""cuBLAS reference figures for the GPU bundle (run on the device).

For every (K, N, M) of the benchmark manifest: y[M, N] = x[M, K] . W[N, K]^T
  bf16: torch.nn.functional.linear (cuBLAS bf16, f32 accumulate)
  fp8:  torch._scaled_mm, e4m3 x e4m3 -> bf16 with per-tensor scales
        (cuBLASLt; M padded to 16 where the library requires it: noted)
with the weights rotated over >= 256 MiB like qc-gpu-bench does, CUDA-event
timing of a CUDA graph of back-to-back calls, median of 3 runs. Also the device's HBM bandwidth (1 GiB device to
device copy: 2 bytes moved per byte copied) and the bf16 / fp8 tensor-core
throughput on 8192^3.

usage: torch_bench.py --manifest bench.tsv --json out.json [--min-ms 150]
"""
import argparse
import json
import math
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--min-ms", type=float, default=150.0)
    args = ap.parse_args()

    t0 = time.time()
    import torch
    result = {"torch": torch.__version__, "cuda": torch.version.cuda,
              "device": None, "hbm_gbps": None, "peak": {}, "results": [],
              "errors": []}

    def dump():
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)

    if not torch.cuda.is_available():
        result["errors"].append("torch.cuda.is_available() is False")
        dump()
        return 1
    dev = torch.device("cuda")
    props = torch.cuda.get_device_properties(0)
    result["device"] = {"name": props.name, "cc": f"{props.major}.{props.minor}",
                        "sms": props.multi_processor_count,
                        "memory_bytes": props.total_memory}
    torch.backends.cuda.matmul.allow_tf32 = False

    def timeit(fn, min_ms, graph=True):
        """Median over 3 runs of the mean time (us) of fn(i), i = 0, 1, ...:
        a CUDA graph of back-to-back calls where possible (no Python or
        launch overhead, as qc-gpu-bench does), else a plain loop."""
        for i in range(3):
            fn(i)
        torch.cuda.synchronize()
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        for i in range(4):
            fn(i)
        e.record()
        e.synchronize()
        one = max(s.elapsed_time(e) / 4, 1e-3)
        iters = max(3, min(2000, math.ceil(min_ms / 3 / one)))
        runs = []
        how = "loop"
        if graph:
            try:
                g = torch.cuda.CUDAGraph()
                side = torch.cuda.Stream()
                side.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(side):
                    for i in range(3):
                        fn(i)
                torch.cuda.current_stream().wait_stream(side)
                with torch.cuda.graph(g):
                    for i in range(iters):
                        fn(i)
                g.replay()
                torch.cuda.synchronize()
                for r in range(3):
                    s.record()
                    g.replay()
                    e.record()
                    e.synchronize()
                    runs.append(s.elapsed_time(e) * 1000.0 / iters)
                how = "graph"
                del g
            except Exception as ex:  # noqa: BLE001
                runs = []
                how = f"loop (graph failed: {str(ex).splitlines()[0][:200]})"
                torch.cuda.synchronize()
        if not runs:
            for r in range(3):
                s.record()
                for i in range(iters):
                    fn(r * iters + i)
                e.record()
                e.synchronize()
                runs.append(s.elapsed_time(e) * 1000.0 / iters)
        runs.sort()
        return runs[1], iters, how

    # HBM bandwidth: copy 1 GiB.
    try:
        a = torch.empty(1 << 30, dtype=torch.uint8, device=dev)
        b = torch.empty_like(a)
        us, _, _ = timeit(lambda i: b.copy_(a), 300, graph=False)
        result["hbm_gbps"] = 2 * a.numel() / (us * 1e-6) / 1e9
        result["hbm_copy_us"] = us
        del a, b
    except Exception as ex:  # noqa: BLE001
        result["errors"].append(f"hbm: {ex}")
    print(f"HBM copy bandwidth: {result['hbm_gbps']} GB/s", flush=True)

    # Tensor-core throughput.
    try:
        n = 8192
        x = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
        w = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
        us, _, _ = timeit(lambda i: torch.nn.functional.linear(x, w), 300)
        result["peak"]["bf16_tflops"] = 2 * n ** 3 / (us * 1e-6) / 1e12
        x8, w8 = x.to(torch.float8_e4m3fn), w.to(torch.float8_e4m3fn)
        one = torch.ones((), device=dev, dtype=torch.float32)
        us, _, _ = timeit(lambda i: torch._scaled_mm(x8, w8.t(), scale_a=one, scale_b=one,
                                                     out_dtype=torch.bfloat16), 300)
        result["peak"]["fp8_tflops"] = 2 * n ** 3 / (us * 1e-6) / 1e12
        del x, w, x8, w8
    except Exception as ex:  # noqa: BLE001
        result["errors"].append(f"peak: {ex}")
    print(f"tensor-core peak: {result['peak']}", flush=True)
    dump()

    shapes = []
    for line in open(args.manifest):
        if line.startswith("#") or not line.strip():
            continue
        col = line.rstrip("\n").split("\t")
        key = (int(col[4]), int(col[3]), int(col[2]))  # K, N, M
        if key not in shapes:
            shapes.append(key)

    one = torch.ones((), device=dev, dtype=torch.float32)
    for (k, n, m) in shapes:
        row = {"k": k, "n": n, "m": m}
        wbytes = n * k * 2
        copies = max(1, min(64, -(-(256 << 20) // wbytes)))
        try:
            ws = [torch.randn(n, k, device=dev, dtype=torch.bfloat16) for _ in range(copies)]
            x = torch.randn(m, k, device=dev, dtype=torch.bfloat16)
            us, iters, how = timeit(lambda i: torch.nn.functional.linear(x, ws[i % copies]),
                                    args.min_ms)
            row["bf16_us"] = us
            row["bf16_timing"] = how
            row["bf16_tflops"] = 2 * m * n * k / (us * 1e-6) / 1e12
            row["bf16_weight_gbps"] = wbytes / (us * 1e-6) / 1e9
            del ws
        except Exception as ex:  # noqa: BLE001
            row["bf16_error"] = str(ex)
        try:
            copies8 = max(1, min(64, -(-(256 << 20) // (n * k))))
            w8 = [torch.randn(n, k, device=dev, dtype=torch.bfloat16).to(torch.float8_e4m3fn)
                  for _ in range(copies8)]
            mp = m
            x8 = torch.randn(mp, k, device=dev, dtype=torch.bfloat16).to(torch.float8_e4m3fn)

            def fp8(i):
                return torch._scaled_mm(x8, w8[i % copies8].t(), scale_a=one,
                                        scale_b=one, out_dtype=torch.bfloat16)
            try:
                fp8(0)
            except Exception:  # noqa: BLE001  (some versions want M % 16 == 0)
                mp = max(16, -(-m // 16) * 16)
                x8 = torch.randn(mp, k, device=dev, dtype=torch.bfloat16).to(torch.float8_e4m3fn)
                row["fp8_padded_m"] = mp
            us, iters, how = timeit(fp8, args.min_ms)
            row["fp8_us"] = us
            row["fp8_timing"] = how
            row["fp8_tflops"] = 2 * m * n * k / (us * 1e-6) / 1e12
            row["fp8_weight_gbps"] = n * k / (us * 1e-6) / 1e9
            del w8
        except Exception as ex:  # noqa: BLE001
            row["fp8_error"] = str(ex)
        torch.cuda.empty_cache()
        result["results"].append(row)
        print(f"K={k} N={n} M={m}: bf16 {row.get('bf16_us', row.get('bf16_error'))} us, "
              f"fp8 {row.get('fp8_us', row.get('fp8_error'))} us", flush=True)
        dump()
    result["seconds"] = time.time() - t0
    dump()
    return 0


if __name__ == "__main__":
    sys.exit(main())
