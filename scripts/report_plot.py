#!/usr/bin/python3
"""Plots a quant-compile report: weight QSNR and layer output SQNR per layer.

  scripts/report_plot.py REPORT.json REPORT.png

quant-compile --report runs it when python3-matplotlib is installed."""
import json
import math
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def finite(v):
    return v if isinstance(v, (int, float)) and math.isfinite(v) else float("nan")


def main():
    report = json.load(open(sys.argv[1]))
    layers = report["layers"]
    names = [layer["name"] for layer in layers]
    weight = [finite(layer["weight_qsnr_db"]) for layer in layers]
    output = [finite(layer["output_sqnr_db"]) if layer["output_sqnr_db"] is not None
              else float("nan") for layer in layers]
    fig, ax = plt.subplots(figsize=(max(6, 0.35 * len(names) + 2), 4.5))
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], weight, width=0.4, label="weight QSNR")
    ax.bar([x + 0.2 for x in xs], output, width=0.4, label="layer output SQNR (calibration)")
    ax.set_xticks(list(xs))
    ax.set_xticklabels(names, rotation=75, fontsize=7, ha="right")
    ax.set_ylabel("dB")
    ax.set_title(f"{report['recipe']}: {report['model'].split('/')[-1]}")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
