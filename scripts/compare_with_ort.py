#!/usr/bin/python3
"""Runs the real models through quantc (quant-run: the JIT, or a compiled .so)
and ONNX Runtime on seeded random inputs and compares every output.

  scripts/compare_with_ort.py [--models blazeface-front,blazeface-back,silero-vad]
                              [--samples 3] [--rtol 1e-4] [--atol 1e-5]
                              [--via jit|so] [--work DIR]

An element matches when |quantc - ORT| <= atol + rtol * (|ORT| + max|ORT|):
relative to the element or to the output's largest magnitude, because the f32
rounding of a dot product (and ORT's and quantc's summation orders differ)
scales with the sum of the magnitudes of its terms, not with the result, so
near-zero outputs of a conv differ in their relative digits.

Prints "ok MODEL sample I: OUTPUT max|diff| ... (N elements)" per output, or
"FAIL ..." with the worst element, and exits 1 on any mismatch. Needs the
cached models (scripts/fetch-real-models.sh) and onnxruntime-node in
bench/ort/node_modules (bench/ort/run.sh installs it)."""
import argparse
import os
import re
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from real_model_recipes import models, write_samples  # noqa: E402


def run(cmd, env=None):
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit("command failed: " + " ".join(cmd) + "\n" + result.stderr.strip())
    return result.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="blazeface-front,blazeface-back,silero-vad")
    ap.add_argument("--samples", type=int, default=3)
    ap.add_argument("--rtol", type=float, default=1e-4)
    ap.add_argument("--atol", type=float, default=1e-6)
    ap.add_argument("--via", choices=["jit", "so"], default="jit")
    ap.add_argument("--bin", default=os.path.join(REPO, "build", "bin"))
    ap.add_argument("--work", default="/tmp/quantc-compare-with-ort")
    args = ap.parse_args()
    env = dict(os.environ, NODE_PATH=os.path.join(REPO, "bench", "ort", "node_modules"))
    failures = 0
    for name in args.models.split(","):
        path, shapes, make, *_ = models()[name]
        work = os.path.join(args.work, name)
        write_samples(os.path.join(work, "in"), make, args.samples, seed=3)
        model = path
        if args.via == "so":
            model = os.path.join(work, name + ".so")
            cmd = [os.path.join(args.bin, "quant-compile"), path, "-o", model]
            for s in shapes:
                cmd += ["--input-shape", s]
            run(cmd)
        for i in range(args.samples):
            sample = os.path.join(work, "in", str(i))
            ort_out, qc_out = os.path.join(work, "ort", str(i)), os.path.join(work, args.via, str(i))
            run(["node", os.path.join(REPO, "bench", "ort", "run_model.js"), path,
                 "--inputs", sample, "--outputs", ort_out], env)
            inputs = []
            for f in sorted(os.listdir(sample)):
                inputs += ["--input", f[:-4] + "=" + os.path.join(sample, f)]
            run([os.path.join(args.bin, "quant-run"), model] + inputs + ["--output-dir", qc_out])
            for f in sorted(os.listdir(ort_out)):
                expected = np.load(os.path.join(ort_out, f))
                got_file = os.path.join(qc_out, f)
                if not os.path.exists(got_file):
                    print(f"FAIL {name} sample {i}: quantc wrote no {f}")
                    failures += 1
                    continue
                got = np.load(got_file)
                diff = np.abs(got.astype(np.float64) - expected.astype(np.float64))
                magnitude = np.abs(expected.astype(np.float64))
                scale = float(magnitude.max()) if magnitude.size else 0.0
                bound = args.atol + args.rtol * (magnitude + scale)
                worst = float(diff.max()) if diff.size else 0.0
                if got.shape != expected.shape or not np.all(diff <= bound):
                    at = np.unravel_index(int(np.argmax(diff - bound)), diff.shape) if diff.size else ()
                    print(f"FAIL {name} sample {i}: {f[:-4]} max|diff| {worst:.3g} at {at} "
                          f"(quantc {got[at] if diff.size else '-'}, ORT {expected[at] if diff.size else '-'})")
                    failures += 1
                else:
                    print(f"ok {name} sample {i}: {f[:-4]} max|diff| {worst:.3g}, "
                          f"{worst / scale if scale else 0:.2g} of max|ORT| ({expected.size} elements)")
    print(f"{failures} mismatch(es)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
