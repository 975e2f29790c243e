#!/usr/bin/env python3
"""Runs a library of quant-compile through its C API (quantc_model.h), with
ctypes only: no LLVM, MLIR or quantc build needed (the GPU machines).

  run_model_so.py MODEL.so --input X.npy [...] [--output-dir DIR]
                  [--reference R.npy] [--min-sqnr DB] [--repeat N]
                  [--label NAME] [--json FILE]

Runs the model once (the first call: CUDA modules load, constants upload),
then --repeat more times, and reports the first call and the median of the
others in milliseconds. With --reference (the first output computed by
quant-run on the CPU, or by the CPU library), prints the SQNR of the output
against it and fails below --min-sqnr. --json appends one JSON line.
"""
import argparse
import ctypes
import json
import os
import statistics
import sys
import time

import numpy as np

DTYPES = {0: np.float32, 1: np.float16, 2: np.float64, 3: np.int8, 4: np.int16,
          5: np.int32, 6: np.int64, 7: np.uint8, 8: np.bool_}


class Tensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("rank", ctypes.c_int64),
                ("shape", ctypes.POINTER(ctypes.c_int64)), ("dtype", ctypes.c_int)]


class TensorInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int),
                ("rank", ctypes.c_int64), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("num_elements", ctypes.c_int64), ("num_bytes", ctypes.c_int64)]


def sqnr(reference, value):
    noise = np.sum((reference.astype(np.float64) - value.astype(np.float64)) ** 2)
    signal = np.sum(reference.astype(np.float64) ** 2)
    # Identical outputs: 999 dB (JSON has no infinity).
    return 999.0 if noise == 0 else float(10 * np.log10(signal / noise))


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("library")
    parser.add_argument("--input", action="append", default=[])
    parser.add_argument("--output-dir")
    parser.add_argument("--reference")
    parser.add_argument("--min-sqnr", type=float, default=0.0)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--label", default="")
    parser.add_argument("--json")
    args = parser.parse_args()

    lib = ctypes.CDLL(os.path.abspath(args.library))
    lib.quantc_model_last_error.restype = ctypes.c_char_p
    model = ctypes.c_void_p()

    def check(status, what):
        if status != 0:
            sys.exit(f"run_model_so: {args.label or args.library}: {what}: status "
                     f"{status}: {lib.quantc_model_last_error().decode()}")

    check(lib.quantc_model_create(ctypes.byref(model)), "create")
    counts = [ctypes.c_int64(), ctypes.c_int64()]
    check(lib.quantc_model_num_inputs(model, ctypes.byref(counts[0])), "inputs")
    check(lib.quantc_model_num_outputs(model, ctypes.byref(counts[1])), "outputs")
    if counts[0].value != len(args.input):
        sys.exit(f"run_model_so: the model takes {counts[0].value} inputs, "
                 f"{len(args.input)} given")

    keep = []

    def tensor(array):
        array = np.ascontiguousarray(array)
        shape = (ctypes.c_int64 * max(array.ndim, 1))(*array.shape)
        keep.append((array, shape))
        code = [k for k, v in DTYPES.items() if np.dtype(v) == array.dtype][0]
        return Tensor(array.ctypes.data, array.ndim, shape, code)

    inputs = (Tensor * len(args.input))()
    for i, path in enumerate(args.input):
        info = TensorInfo()
        check(lib.quantc_model_input_info(model, i, ctypes.byref(info)), "input info")
        array = np.load(path).astype(DTYPES[info.dtype])
        inputs[i] = tensor(array)
    outputs_np = []
    outputs = (Tensor * counts[1].value)()
    for i in range(counts[1].value):
        info = TensorInfo()
        check(lib.quantc_model_output_info(model, i, ctypes.byref(info)), "output info")
        shape = [info.shape[d] for d in range(info.rank)]
        array = np.zeros(shape, DTYPES[info.dtype])
        outputs_np.append((info.name.decode(), array))
        outputs[i] = tensor(array)

    def run():
        start = time.perf_counter()
        check(lib.quantc_model_run(model, inputs, len(args.input), outputs,
                                   counts[1].value), "run")
        return (time.perf_counter() - start) * 1e3

    first = run()
    times = [run() for _ in range(args.repeat)]
    result = {"label": args.label, "library": os.path.basename(args.library),
              "first_ms": round(first, 3),
              "median_ms": round(statistics.median(times), 3) if times else None,
              "min_ms": round(min(times), 3) if times else None}
    if args.output_dir:
        os.makedirs(args.output_dir, exist_ok=True)
        for name, array in outputs_np:
            np.save(os.path.join(args.output_dir, f"{name}.npy"), array)
    ok = True
    if args.reference:
        reference = np.load(args.reference)
        result["sqnr_db"] = round(sqnr(reference, outputs_np[0][1]), 2)
        result["max_abs_diff"] = float(np.max(np.abs(reference - outputs_np[0][1])))
        result["min_sqnr_db"] = args.min_sqnr
        ok = result["sqnr_db"] >= args.min_sqnr
    result["ok"] = ok
    print(json.dumps(result))
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps(result) + "\n")
    lib.quantc_model_destroy(model)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
