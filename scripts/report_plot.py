#!/usr/bin/python3
"""Plots a quant-compile report: weight QSNR and layer output SQNR per layer;
and, when qc-allocate-bits chose the formats (REPORT.frontier.json beside
REPORT.json), the budget -> predicted SQNR frontier with the chosen point as
REPORT.frontier.png.

  scripts/report_plot.py REPORT.json REPORT.png

quant-compile --report runs it when python3-matplotlib is installed."""
import json
import math
import os
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
    plot_frontier(os.path.splitext(sys.argv[1])[0] + ".frontier.json",
                  os.path.splitext(sys.argv[2])[0] + ".frontier.png")


def plot_frontier(path, png):
    """Budget (bits per weight, or predicted microseconds) against the least
    predicted layer output SQNR the knapsack reaches, and the chosen point."""
    if not os.path.exists(path):
        return
    frontier = json.load(open(path))
    by_size = frontier["cost"] == "bytes"
    points = frontier["frontier"]
    if by_size:
        xs = [p["bits_per_weight"] for p in points]
        label = "average bits per weight (scales included)"
    else:
        xs = [p["seconds"] * 1e6 for p in points]
        label = "predicted latency (us)"
    ys = [finite(p["predicted_sqnr_db"]) for p in points]
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.plot(xs, ys, marker=".", label="frontier (exact knapsack)")
    chosen = frontier["chosen"]
    if by_size:
        total_bits = points[0]["bytes"] * 8 / points[0]["bits_per_weight"]
        cx = chosen["cost"] * 8 / total_bits
    else:
        cx = chosen["cost"] * 1e6
    ax.plot([cx], [finite(chosen["predicted_sqnr_db"])], "o", color="C3",
            label=f"chosen (budget {frontier['budget']})")
    ax.set_xlabel(label)
    ax.set_ylabel("predicted layer output SQNR (dB)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=110)


if __name__ == "__main__":
    main()
