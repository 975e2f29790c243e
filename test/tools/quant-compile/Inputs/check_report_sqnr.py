#!/usr/bin/env python3
"""Checks a quant-compile report's model output SQNR against the compiled model.

  check_report_sqnr.py REPORT.json MODEL.onnx QUANTIZED.mlir CALIB_DIR

Runs the float model (quant-run MODEL.onnx) and the quantized MLIR (quant-run
--entry main) on the calibration samples the report's fidelity run used (the
first model_summary.fidelity_samples of CALIB_DIR/<i>/, in numeric order) and
computes each output's SQNR over all of them, signal and noise summed.
Prints "output NAME: report X dB, compiled Y dB" and exits 1 when they differ
by more than 0.01 dB. Tools from PATH.
"""
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np


def run_model(args, sample, out):
    inputs = []
    for f in sorted(os.listdir(sample)):
        if f.endswith(".npy"):
            inputs += ["--input", f[:-4] + "=" + os.path.join(sample, f)]
    subprocess.run(["quant-run"] + args + inputs + ["--output-dir", out], check=True,
                   capture_output=True)
    return {f[:-4]: np.load(os.path.join(out, f)).astype(np.float64)
            for f in os.listdir(out) if f.endswith(".npy")}


def main():
    report_path, model, quantized, calib = sys.argv[1:5]
    summary = json.load(open(report_path))["model_summary"]
    samples = sorted(os.listdir(calib), key=int)[:summary["fidelity_samples"]]
    signal, noise = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, name in enumerate(samples):
            sample = os.path.join(calib, name)
            ref = run_model([model], sample, os.path.join(tmp, f"f{i}"))
            got = run_model([quantized, "--entry", "main"], sample, os.path.join(tmp, f"q{i}"))
            for key, a in ref.items():
                signal[key] = signal.get(key, 0.0) + float(a @ a if a.ndim == 1 else np.sum(a * a))
                noise[key] = noise.get(key, 0.0) + float(np.sum((a - got[key]) ** 2))
    failed = False
    for key, reported in summary["output_sqnr_db"].items():
        measured = 10 * math.log10(signal[key] / noise[key])
        print(f"output {key}: report {reported:.2f} dB, compiled {measured:.2f} dB")
        if not abs(reported - measured) <= 0.01:
            print("FAILED: the report does not measure the compiled model")
            failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
