#!/usr/bin/python3
"""Calibration statistics for test/Transforms/clip-weighted.mlir: layer "fc"
reads 16 input channels, channel 15 carries 10000x the power of the others;
layer "even" reads 16 channels of equal power."""
import json, os, sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
ms = [1.0] * 15 + [10000.0]
entry = {"observations": 1, "rows": 4, "channels": 16, "min": -100.0, "max": 100.0, "amax": 100.0,
         "channel_mean_square": ms}
even = dict(entry, channel_mean_square=[1.0] * 16)
json.dump({"samples": 1, "tensors": {"fc:input": entry, "even:input": even}},
          open(os.path.join(out, "stats.json"), "w"))
