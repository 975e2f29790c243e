#!/usr/bin/env python3
"""Compiles qc.hadamard with quant-run and compares it with quant-tensor
hadamard bit for bit. Each case is SHAPE:AXIS[:SEED]."""
import argparse
import os
import subprocess
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", required=True)
    parser.add_argument("cases", nargs="+")
    args = parser.parse_args()
    failures = 0
    for i, case in enumerate(args.cases):
        parts = case.split(":")
        shape, axis = parts[0], parts[1]
        seed = parts[2] if len(parts) > 2 else None
        d = os.path.join(args.workdir, f"h{i}")
        os.makedirs(d, exist_ok=True)
        x = os.path.join(d, "x.npy")
        subprocess.run(["quant-tensor", "gen", "--shape", shape, "--seed", str(i), x],
                       check=True)
        t = f"tensor<{shape}xf32>"
        seed_attr = f" seed {seed}" if seed else ""
        with open(os.path.join(d, "h.mlir"), "w") as f:
            f.write(f"func.func @main(%x: {t}) -> {t} {{\n"
                    f"  %0 = qc.hadamard %x along {axis}{seed_attr} : {t}\n"
                    f"  return %0 : {t}\n}}\n")
        run = subprocess.run(["quant-run", os.path.join(d, "h.mlir"), "--entry", "main",
                              "--input", x, "--output-dir", os.path.join(d, "out")],
                             capture_output=True, text=True)
        ref = os.path.join(d, "ref.npy")
        cmd = ["quant-tensor", "hadamard", "--axis", axis] + (["--seed", seed] if seed else [])
        subprocess.run(cmd + [x, ref], check=True)
        cmp = subprocess.run(["quant-tensor", "compare", "--exact",
                              os.path.join(d, "out", "0.npy"), ref],
                             capture_output=True, text=True)
        if run.returncode != 0 or cmp.returncode != 0:
            failures += 1
            print(f"FAIL {case}: {run.stderr.strip()} {cmp.stdout.strip()} {cmp.stderr.strip()}")
        else:
            print(f"exact {case}")
    print(f"{len(args.cases) - failures} of {len(args.cases)} transforms bit-identical")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
