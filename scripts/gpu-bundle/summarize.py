#!/usr/bin/env python3
"""Summary of a GPU bundle run: summary.md (for people) and summary.json (the
acceptance figures of issue 7). Reads what run.sh wrote; missing or partial
inputs are reported, not fatal.

usage: summarize.py --check C.json --bench B.json --torch T.json
                    [--nvidia-smi S.txt] --md OUT.md --json OUT.json
"""
import argparse
import json
import sys


def load(path):
    try:
        with open(path) as f:
            return json.load(f), None
    except Exception as ex:  # noqa: BLE001
        return None, f"{path}: {ex}"


def fmt(v, digits=1):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def main():
    ap = argparse.ArgumentParser()
    for a in ["check", "bench", "torch", "md", "json"]:
        ap.add_argument("--" + a, required=True)
    ap.add_argument("--nvidia-smi")
    args = ap.parse_args()
    check, e1 = load(args.check)
    bench, e2 = load(args.bench)
    torch, e3 = load(args.torch)
    problems = [e for e in (e1, e2, e3) if e]

    md = ["# quantc GPU bundle results", ""]
    summary = {"problems": problems}
    dev = (check or bench or {}).get("device")
    if dev:
        md.append(f"Device: **{dev['name']}** (sm_{dev['compute_capability'].replace('.', '')}, "
                  f"{dev['multiprocessors']} SMs, {dev['memory_bytes'] / 2**30:.0f} GiB, "
                  f"driver {dev['driver_version']})")
        summary["device"] = dev
    hbm = (torch or {}).get("hbm_gbps")
    peak = (torch or {}).get("peak", {})
    if torch:
        md.append(f"Measured: HBM copy bandwidth **{fmt(hbm, 0)} GB/s**; cuBLAS bf16 "
                  f"{fmt(peak.get('bf16_tflops'), 0)} TFLOP/s, fp8 "
                  f"{fmt(peak.get('fp8_tflops'), 0)} TFLOP/s (8192^3); torch {torch.get('torch')}, "
                  f"CUDA {torch.get('cuda')}")
        summary.update(hbm_gbps=hbm, peak=peak)
    md.append("")

    # Correctness.
    md.append("## Correctness (GPU vs CPU path)")
    md.append("")
    if check:
        cases = check["cases"]
        md.append(f"**{check['passed']} passed, {check['failed']} failed** of {len(cases)}; "
                  f"tolerance: {check.get('tolerance')}")
        if check.get("startup_error"):
            md.append(f"Startup (module load) error: `{check['startup_error']}`")
        by_kind = {}
        for c in cases:
            k = c.get("kind") or "?"
            d = by_kind.setdefault(k, {"n": 0, "passed": 0, "worst": 0.0})
            d["n"] += 1
            d["passed"] += c["passed"]
            if c.get("rel_err") is not None:
                d["worst"] = max(d["worst"], c["rel_err"])
        md.append("")
        expected = {"gemv": "~5e-6 (f32 out), ~5e-4 (f16 out)", "simt": "~5e-6 (f32)",
                    "mma": "~3e-4 (f16 operands)"}
        md.append("| kernel | cases | passed | worst max\\|Δ\\|/max\\|ref\\| | expected |")
        md.append("|---|---|---|---|---|")
        for k, d in sorted(by_kind.items()):
            md.append(f"| {k} | {d['n']} | {d['passed']} | {d['worst']:.2e} | {expected.get(k, '')} |")
        fails = [c for c in cases if not c["passed"]]
        if fails:
            md.append("")
            md.append("Failures:")
            for c in fails:
                md.append(f"- `{c['name']}` ({c['format']}, x {c['x_shape']} {c['x_dtype']}, "
                          f"N {c['n']}): {c['error']}")
        summary["check"] = {"passed": check["passed"], "failed": check["failed"],
                            "by_kind": by_kind,
                            "failures": [c["name"] for c in fails]}
    else:
        md.append("no check results")
    md.append("")

    # Benchmarks.
    md.append("## Benchmarks (f16 activations and results, weights rotated past the L2)")
    md.append("")
    tref = {}
    for r in (torch or {}).get("results", []):
        tref[(r["k"], r["n"], r["m"])] = r
    acceptance = {}
    if bench:
        rows = bench["results"]
        formats = []
        for r in rows:
            if r["format"] not in formats:
                formats.append(r["format"])
        keys = []
        for r in rows:
            key = (r["k"], r["n"], r["m"])
            if key not in keys:
                keys.append(key)
        md.append("Each cell: µs / weight GB/s (% of measured HBM) / TFLOP/s.")
        md.append("")
        md.append("| K×N | M | " + " | ".join(formats) + " | cuBLAS bf16 | cuBLAS fp8 |")
        md.append("|---|---|" + "---|" * (len(formats) + 2))
        for key in keys:
            cells = []
            for f in formats:
                r = next((x for x in rows if (x["k"], x["n"], x["m"]) == key and x["format"] == f), None)
                if not r or r.get("error"):
                    cells.append("err" if r else "-")
                    continue
                pct = f" ({100 * r['weight_gbps'] / hbm:.0f}%)" if hbm and r.get("weight_gbps") else ""
                cells.append(f"{fmt(r['us'])} / {fmt(r['weight_gbps'], 0)}{pct} / {fmt(r['tflops'])}")
            t = tref.get(key, {})
            bf = (f"{fmt(t.get('bf16_us'))} / {fmt(t.get('bf16_tflops'))}"
                  if "bf16_us" in t else "-")
            f8 = (f"{fmt(t.get('fp8_us'))} / {fmt(t.get('fp8_tflops'))}"
                  + (f" (M→{t['fp8_padded_m']})" if t.get("fp8_padded_m") else "")
                  if "fp8_us" in t else "-")
            md.append(f"| {key[0]}×{key[1]} | {key[2]} | " + " | ".join(cells) + f" | {bf} | {f8} |")
        errs = [r for r in rows if r.get("error")]
        if errs:
            md.append("")
            md.append("Benchmark errors:")
            for r in errs:
                md.append(f"- `{r['name']}`: {r['error']}")

        # Acceptance figures of issue 7.
        gemv = []
        for r in rows:
            if r["m"] == 1 and r["format"] in ("mxfp4", "nvfp4", "int4_g32") and r.get("weight_gbps"):
                gemv.append({"name": r["name"], "weight_gbps": r["weight_gbps"],
                             "pct_hbm": 100 * r["weight_gbps"] / hbm if hbm else None})
        fp8 = []
        for r in rows:
            if r["m"] == 4096 and r["format"] == "mxfp8_e4m3" and r.get("tflops"):
                t = tref.get((r["k"], r["n"], r["m"]), {})
                fp8.append({"name": r["name"], "tflops": r["tflops"],
                            "cublas_fp8_tflops": t.get("fp8_tflops"),
                            "pct_cublas_fp8": 100 * r["tflops"] / t["fp8_tflops"]
                            if t.get("fp8_tflops") else None})
        acceptance = {
            "gemv_4bit_n1": gemv,
            "gemv_4bit_n1_min_pct_hbm": min((g["pct_hbm"] for g in gemv if g["pct_hbm"] is not None), default=None),
            "gemv_4bit_n1_goal_pct": 80,
            "mxfp8_n4096": fp8,
            "mxfp8_n4096_min_pct_cublas_fp8": min((g["pct_cublas_fp8"] for g in fp8 if g["pct_cublas_fp8"] is not None), default=None),
            "mxfp8_n4096_goal_pct": 60,
        }
        md.append("")
        md.append("## Acceptance figures (issue 7)")
        md.append("")
        g = acceptance["gemv_4bit_n1_min_pct_hbm"]
        md.append(f"- 4-bit GEMV at n=1, lowest over formats and shapes: **{fmt(g)} %** of measured HBM "
                  f"bandwidth (goal ≥ 80 %): "
                  + ", ".join(f"{x['name']} {fmt(x['pct_hbm'])} %" for x in gemv))
        p = acceptance["mxfp8_n4096_min_pct_cublas_fp8"]
        md.append(f"- MXFP8 GEMM at n=4096: **{fmt(p)} %** of cuBLAS fp8 (goal ≥ 60 %): "
                  + ", ".join(f"{x['name']} {fmt(x['tflops'])} vs {fmt(x['cublas_fp8_tflops'])} TFLOP/s"
                              for x in fp8))
    else:
        md.append("no benchmark results")
    summary["acceptance"] = acceptance
    if problems:
        md.append("")
        md.append("Problems: " + "; ".join(problems))
    with open(args.md, "w") as f:
        f.write("\n".join(md) + "\n")
    with open(args.json, "w") as f:
        json.dump(summary, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
