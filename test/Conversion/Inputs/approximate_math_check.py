"""Runs exp through quant-run's CPU pipeline (quantc-approximate-math) on
special values and on 100000 values spread over the normal range, and checks
each against float64 numpy."""
import argparse
import os
import subprocess

import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--quant-run", required=True)
parser.add_argument("--mlir", required=True)
parser.add_argument("--work", required=True)
args = parser.parse_args()
os.makedirs(args.work, exist_ok=True)

special = np.array([np.nan, -np.inf, np.inf, 89.0, -104.0, 0.0, -0.0, 1.0],
                   dtype=np.float32)
spread = np.linspace(-87.0, 88.0, 100000, dtype=np.float32)
x = np.concatenate([special, spread])
np.save(os.path.join(args.work, "x.npy"), x)
subprocess.run([args.quant_run, args.mlir, "--entry", "main",
                "--input", "arg0=" + os.path.join(args.work, "x.npy"),
                "--output-dir", args.work], check=True)
y = np.load(os.path.join(args.work, "0.npy")).astype(np.float64)


def report(name, ok):
    print(name, "ok" if ok else "FAIL")


report("NaN", np.isnan(y[0]))
report("-inf", y[1] == 0.0)
report("+inf", y[2] == np.inf)
report("overflow", y[3] == np.inf)
report("underflow", y[4] == 0.0 and y[5] == 1.0 and y[6] == 1.0 and
       abs(y[7] - np.e) <= 2e-7 * np.e)
exact = np.exp(spread.astype(np.float64))
relative = np.max(np.abs(y[len(special):] - exact) / exact)
print(f"max relative error {relative:.3g} <= 2e-07 over {len(spread)} values "
      f"in [-87, 88]: {'ok' if relative <= 2e-7 else 'FAIL'}")
