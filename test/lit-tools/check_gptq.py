#!/usr/bin/env python3
"""GPTQ against round-to-nearest on one layer, and qc-fold-weights shipping GPTQ's bytes.

  check_gptq.py WORKDIR [--rotate] [--min-gain DB] RECIPE...

WORKDIR holds make_gptq_layer.py's layer.mlir, calib.npy and test.npy. For each recipe:
quant-opt --qc-quantize (round-to-nearest), [--qc-rotate, whose online Hadamard of x is
applied to the calibration inputs with quant-tensor hadamard before the statistics are
written: statistics of the activation the layer sees], --qc-gptq with statistics written
by write_stats.py; quant-run of the float, RTN and GPTQ functions on test.npy (held out)
and the output SQNR of both against float. Then --qc-fold-weights --canonicalize and
--qc-expand-formats (qc.matmul's reference lowering) must give the GPTQ function's output
bit for bit, with the packed bytes GPTQ wrote unchanged in the qc.matmul's weight.
Prints "RECIPE: RTN X dB, GPTQ Y dB, gain Z dB" and "RECIPE: folded exact: <compare's
line>, packed weight unchanged" or FAILED lines; exits 1 on any failure, or when GPTQ's
gain over RTN is below --min-gain. Tools from PATH.
"""
import math
import os
import re
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def run(args):
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}\n{result.stderr}")
    return result


def sqnr(ref, test):
    noise = float(np.sum((ref - test) ** 2))
    return math.inf if noise == 0 else 10 * math.log10(float(np.sum(ref ** 2)) / noise)


def packed_constants(path):
    text = open(path).read()
    return sorted(re.findall(r"qc\.constant dense<(\"0x[0-9A-F]+\"|\[[^\]]*\])>", text))


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    work = args.pop(0)
    rotate = "--rotate" in args
    min_gain = None
    if "--min-gain" in args:
        i = args.index("--min-gain")
        min_gain = float(args[i + 1])
        del args[i:i + 2]
    recipes = [a for a in args if a != "--rotate"]
    layer, calib, test = (os.path.join(work, n) for n in ("layer.mlir", "calib.npy", "test.npy"))
    failed = False
    run(["quant-run", "--fp-contract=false", layer, "--entry", "main", "--input", test,
         "--output-dir", os.path.join(work, "float")])
    reference = np.load(os.path.join(work, "float", "0.npy")).astype(np.float64)
    for recipe in recipes:
        d = os.path.join(work, recipe + ("-rotated" if rotate else ""))
        os.makedirs(d, exist_ok=True)
        rtn, gptq, folded, ref = (os.path.join(d, n) for n in
                                  ("rtn.mlir", "gptq.mlir", "folded.mlir", "ref.mlir"))
        try:
            # Layer names are NameLocs: keep them in the files between passes.
            keep = "--mlir-print-debuginfo"
            if rotate:
                quantized = os.path.join(d, "quantized.mlir")
                run(["quant-opt", layer, f"--qc-quantize=recipe={recipe}", keep, "-o", quantized])
                run(["quant-opt", quantized, "--qc-rotate", keep, "-o", rtn])
            else:
                run(["quant-opt", layer, f"--qc-quantize=recipe={recipe}", keep, "-o", rtn])
            seen = calib
            if rotate:
                if "qc.hadamard %arg0 along 1 :" not in open(rtn).read():
                    raise RuntimeError("qc-rotate did not rotate x online as expected")
                seen = os.path.join(d, "calib-rotated.npy")
                run(["quant-tensor", "hadamard", calib, seen])
            run([sys.executable, os.path.join(HERE, "write_stats.py"), os.path.join(d, "stats"),
                 f"fc={seen}"])
            run(["quant-opt", rtn, f"--qc-gptq=stats={os.path.join(d, 'stats')}", keep, "-o", gptq])
            if "qc.rounding = \"gptq\"" not in open(gptq).read():
                raise RuntimeError("qc-gptq did not round the layer")
            outputs = {}
            for name, path in (("rtn", rtn), ("gptq", gptq)):
                run(["quant-run", "--fp-contract=false", path, "--entry", "main", "--input", test,
                     "--output-dir", os.path.join(d, name)])
                outputs[name] = np.load(os.path.join(d, name, "0.npy")).astype(np.float64)
            a, b = sqnr(reference, outputs["rtn"]), sqnr(reference, outputs["gptq"])
            print(f"{recipe}: RTN {a:.2f} dB, GPTQ {b:.2f} dB, gain {b - a:.2f} dB")
            if min_gain is not None and not b - a >= min_gain:
                print(f"FAILED: {recipe}: gain below {min_gain} dB")
                failed = True

            run(["quant-opt", gptq, "--qc-fold-weights", "--canonicalize", "-o", folded])
            run(["quant-opt", folded, "--qc-expand-formats", "-o", ref])
            run(["quant-run", "--fp-contract=false", ref, "--entry", "main", "--input", test,
                 "--output-dir", os.path.join(d, "ref")])
            line = run(["quant-tensor", "compare", "--exact", os.path.join(d, "gptq", "0.npy"),
                        os.path.join(d, "ref", "0.npy")]).stdout.strip()
            folded_text = open(folded).read()
            if "qc.matmul" not in folded_text or "qc.dequantize" in folded_text:
                raise RuntimeError("the layer did not become a qc.matmul on the packed weight")
            shipped = packed_constants(gptq) == packed_constants(folded) != []
            print(f"{recipe}: folded exact: {line}, packed weight "
                  f"{'unchanged' if shipped else 'CHANGED'}")
            failed |= not shipped
        except RuntimeError as error:
            print(f"FAILED: {recipe}: {error}")
            failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
