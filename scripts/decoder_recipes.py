#!/usr/bin/python3
"""Quantizes the test decoder with each recipe and reports output SQNR and perplexity.

  scripts/decoder_recipes.py [--recipes int8,w4a4-nvfp4,...] [--out DIR] [--limit N]
                             [--json FILE] [--markdown FILE]

For every recipe: build/bin/quant-compile MODEL.onnx --recipe R --emit mlir -o DIR/R.mlir,
then scripts/decoder_perplexity.py --quant-run DIR/R.mlir (quant-run on each evaluation
sequence, compared with the float PyTorch model). The float row runs the ONNX model itself
through quant-run. Prints a Markdown table (recipe, layers quantized, packed weight bytes,
whether qc-rotate ran, perplexity and its change vs float, output SQNR, top-1 agreement). Needs the cached decoder
(scripts/make-test-decoder.py) and a build with quant-compile and quant-run.
"""
import argparse
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
RECIPES = ["int8", "w8a8-mxint8", "w4a16-mxfp4", "w4a16-nvfp4", "w4a8-mxfp4", "w4a8-int4",
           "w4a4-nvfp4", "w4a4-nvint4"]


def cache_dir():
    root = os.environ.get("QUANTC_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "quantc")
    return os.path.join(root, "test-decoder")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n", 2)[2])
    ap.add_argument("--recipes", default=",".join(RECIPES))
    ap.add_argument("--model", default=os.path.join(cache_dir(), "model.onnx"))
    ap.add_argument("--out", default="/tmp/quantc-decoder-recipes")
    ap.add_argument("--bin", default=os.path.join(REPO, "build", "bin"))
    ap.add_argument("--limit", type=int, help="evaluate only the first N sequences")
    ap.add_argument("--quant-run-args", default="",
                    help="extra quant-run arguments for every row (e.g. another --input)")
    ap.add_argument("--no-float", action="store_true", help="skip the float quant-run row")
    ap.add_argument("--calib", metavar="DIR|synthetic:N",
                    help="calibrate every recipe (quant-compile --calib; e.g. the decoder's "
                         "cached calib/ directory)")
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--markdown", metavar="FILE")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    rows = []
    configs = ([] if args.no_float else [("float", None)]) + \
        [(r, r) for r in args.recipes.split(",") if r]
    for label, recipe in configs:
        row = {"recipe": label}
        if recipe is None:
            model = args.model
        else:
            model = os.path.join(args.out, re.sub(r"\W", "_", os.path.basename(recipe)) + ".mlir")
            compile_cmd = [os.path.join(args.bin, "quant-compile"), args.model, "--recipe", recipe,
                           "--emit", "mlir", "-o", model]
            if args.calib:
                compile_cmd += ["--calib", args.calib]
            result = subprocess.run(compile_cmd, capture_output=True, text=True)
            sys.stderr.write(result.stderr)
            if result.returncode != 0:
                row["error"] = result.stderr.strip().splitlines()[-1] if result.stderr else "failed"
                rows.append(row)
                continue
            m = re.search(r"quantized (\d+) layer\(s\); (\d+) skipped by the recipe, (\d+) left in float",
                          result.stderr)
            if m:
                row["layers"] = int(m.group(1))
                row["float_layers"] = int(m.group(2)) + int(m.group(3))
            m = re.search(r"weights (\d+) bytes as float -> (\d+) bytes packed", result.stderr)
            if m:
                row["float_bytes"], row["packed_bytes"] = int(m.group(1)), int(m.group(2))
            row["rotate"] = ("skipped" if "qc-rotate is skipped" in result.stderr else
                             "on" if "qc-rotate:" in result.stderr else "off")
        out_json = os.path.join(args.out, f"{re.sub(r'[^A-Za-z0-9_.-]', '_', label)}.json")
        cmd = [sys.executable, os.path.join(HERE, "decoder_perplexity.py"), "--quant-run", model,
               "--quant-run-bin", os.path.join(args.bin, "quant-run"), "--label", label,
               "--json", out_json]
        run_args = ("--entry main " if recipe is not None else "") + args.quant_run_args
        if run_args.strip():
            cmd += ["--quant-run-args", run_args.strip()]
        if args.limit:
            cmd += ["--limit", str(args.limit)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        print(result.stdout.strip(), flush=True)
        if result.returncode != 0 and not os.path.exists(out_json):
            row["error"] = (result.stderr.strip().splitlines() or ["failed"])[-1]
        else:
            with open(out_json) as f:
                row.update(json.load(f))
        rows.append(row)

    lines = ["| recipe | layers quantized | rotation | weights packed / float | perplexity | "
             "vs float | output SQNR | top-1 agreement |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['recipe']} | error: {r['error']} | | | | | | |")
            continue
        layers = f"{r['layers']} ({r['float_layers']} float)" if "layers" in r else "-"
        size = (f"{r['packed_bytes'] / 1024:.0f} / {r['float_bytes'] / 1024:.0f} KiB"
                if "packed_bytes" in r else "-")
        sqnr = f"{r['sqnr_db']:.2f} dB" if "sqnr_db" in r else "-"
        change = f"{r['ppl_change_pct']:+.2f} %" if "ppl_change_pct" in r else "-"
        top1 = f"{100 * r['top1_agreement']:.1f} %" if "top1_agreement" in r else "-"
        lines.append(f"| {r['recipe']} | {layers} | {r.get('rotate', '-')} | {size} | "
                     f"{r['perplexity']:.4f} | {change} | "
                     f"{sqnr} | {top1} |")
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
