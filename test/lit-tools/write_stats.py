#!/usr/bin/env python3
"""Writes a calibration statistics directory (CalibrationStats.h) by hand.

  write_stats.py DIR NAME=ACTS.npy [NAME=ACTS.npy ...] [--no-xtx NAME ...]
                 [--patches NAME=KHxKW ...]

For each NAME (a layer name as the layer's NameLoc spells it), ACTS.npy holds
activations with the channel axis last; every other axis is a row. The tensor
is stored under the key "NAME:input" (activationStatsKey) with amax, per-channel
amax and mean, and XᵀX in float64 as <key>.xtx.npy (file name: the key with
characters outside [A-Za-z0-9._-] replaced by '_'). The histogram is left out,
which the schema allows. With --patches, NAME's ACTS.npy is a convolution's
(padded) input [N, C, H, W] and XᵀX is the sum of p·pᵀ over its KHxKW patches
at stride 1, p[t·C + c] for kernel offset t (row-major) and channel c, as
calibration collects for convolutions. Run with an interpreter that has numpy
(%python).
"""
import argparse
import json
import os
import re

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir")
    parser.add_argument("tensors", nargs="+", metavar="NAME=ACTS.npy")
    parser.add_argument("--no-xtx", action="append", default=[], metavar="NAME")
    parser.add_argument("--patches", action="append", default=[], metavar="NAME=KHxKW")
    args = parser.parse_args()
    patches = dict(p.split("=") for p in args.patches)
    os.makedirs(args.dir, exist_ok=True)
    entries = {}
    for spec in args.tensors:
        name, path = spec.rsplit("=", 1)
        x = np.load(path).astype(np.float64)
        hessian_rows = None
        if name in patches:
            kh, kw = map(int, patches[name].split("x"))
            n, c, h, w = x.shape
            hessian_rows = np.stack([
                np.concatenate([x[b, :, i + a, j + d] for a in range(kh) for d in range(kw)])
                for b in range(n) for i in range(h - kh + 1) for j in range(w - kw + 1)])
            x = np.moveaxis(x, 1, -1)
        x = x.reshape(-1, x.shape[-1])
        if hessian_rows is None:
            hessian_rows = x
        key = name + ":input"
        entry = {"observations": 1, "rows": int(x.shape[0]), "channels": int(x.shape[1]),
                 "min": float(x.min()), "max": float(x.max()), "amax": float(np.abs(x).max()),
                 "channel_amax": np.abs(x).max(axis=0).tolist(),
                 "channel_mean": x.mean(axis=0).tolist()}
        if name not in args.no_xtx:
            file = re.sub(r"[^A-Za-z0-9._-]", "_", key) + ".xtx.npy"
            np.save(os.path.join(args.dir, file), hessian_rows.T @ hessian_rows)
            entry["xtx"] = file
        entries[key] = entry
    with open(os.path.join(args.dir, "stats.json"), "w") as f:
        json.dump({"samples": 1, "tensors": entries}, f, indent=1)


if __name__ == "__main__":
    main()
