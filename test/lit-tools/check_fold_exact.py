#!/usr/bin/env python3
"""Checks that qc-fold-weights keeps the numerics of the fake-quant graph, bit for bit.

  check_fold_exact.py FLOAT.mlir INPUT.npy WORKDIR RECIPE...

For each recipe: quant-opt --qc-quantize (fake-quant graph), then
--qc-fold-weights --canonicalize (packed weights, qc.matmul), then --qc-expand-formats
(qc.matmul's reference lowering, so that no target kernel reorders the sums); both graphs
run through quant-run on INPUT.npy and quant-tensor compare --exact compares every output.
Prints "exact: RECIPE: N qc.matmul, <compare's line>" per recipe, or FAILED lines; exits 1
on any failure. The tools are found on PATH (lit puts the build's bin/ there).
"""
import glob
import os
import subprocess
import sys


def run(args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, **kwargs)


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    float_mlir, x, work, recipes = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    failed = False
    for recipe in recipes:
        d = os.path.join(work, recipe)
        os.makedirs(d, exist_ok=True)
        fq, folded, ref = (os.path.join(d, n) for n in ("fq.mlir", "folded.mlir", "ref.mlir"))
        steps = [
            ["quant-opt", float_mlir, f"--qc-quantize=recipe={recipe}", "-o", fq],
            ["quant-opt", fq, "--qc-fold-weights", "--canonicalize", "-o", folded],
            ["quant-opt", folded, "--qc-expand-formats", "-o", ref],
            ["quant-run", "--fp-contract=false", fq, "--entry", "main", "--input", x, "--output-dir", os.path.join(d, "fq")],
            ["quant-run", "--fp-contract=false", ref, "--entry", "main", "--input", x, "--output-dir", os.path.join(d, "ref")],
        ]
        for step in steps:
            result = run(step)
            if result.returncode != 0:
                print(f"FAILED: {recipe}: {' '.join(step)}\n{result.stderr}")
                failed = True
                break
        else:
            matmuls = open(folded).read().count("qc.matmul")
            for out in sorted(glob.glob(os.path.join(d, "fq", "*.npy"))):
                other = os.path.join(d, "ref", os.path.basename(out))
                result = run(["quant-tensor", "compare", "--exact", out, other])
                line = result.stdout.strip()
                if result.returncode != 0:
                    print(f"FAILED: {recipe}: {line}")
                    failed = True
                else:
                    print(f"exact: {recipe}: {matmuls} qc.matmul, {line}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
