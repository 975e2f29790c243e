#!/usr/bin/python3
"""Writes a calibration statistics directory (CalibrationStats.h's schema) for
test/Transforms/clip-activations.mlir, and prints the 99.9th percentile the
pass must find ("percentile 0.39453125").

The |x| histogram over [0, 8] (2048 bins of 1/256): a half-normal bulk with
sigma 0.25 (64 bins), 100000 * exp(-(i/64)^2/2) counts in bin i, plus 3
outliers in the last bin (amax 8)."""
import json, math, os, sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
hist = [0] * 2048
for i in range(400):
    hist[i] = round(100000 * math.exp(-((i / 64) ** 2) / 2))
hist[2047] = 3
total = sum(hist)
entry = {"observations": 1, "rows": total // 16, "channels": 16, "min": -8.0, "max": 1.5,
         "amax": 8.0, "histogram_range": 8.0, "histogram": hist}
stats = {"samples": 1, "tensors": {"fc:input": entry, "nv:input": entry, "mx:input": entry}}
with open(os.path.join(out, "stats.json"), "w") as f:
    json.dump(stats, f)

# The percentile as CalibrationStats::percentile reads it: the upper edge of
# the first bin where the cumulative count reaches p * total.
seen = 0
for i, count in enumerate(hist):
    seen += count
    if seen >= 0.999 * total:
        print(f"percentile {(i + 1) * 8.0 / 2048!r}")
        break
