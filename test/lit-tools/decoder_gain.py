#!/usr/bin/env python3
"""Compares two quantized test-decoder runs: output SQNR, perplexity and packed size.

  decoder_gain.py BASE.json BASE.log NEW.json NEW.log [--min-sqnr-gain DB]
                  [--ppl-not-worse] [--size-not-larger]

BASE.json / NEW.json are decoder_perplexity.py --json outputs, BASE.log / NEW.log the
quant-compile logs (their qc-fold-weights remark gives the packed weight bytes). Prints
"NEW vs BASE: SQNR X -> Y dB (+G dB), perplexity A -> B, packed P -> Q bytes" and exits 1
when a requested condition fails.
"""
import argparse
import json
import re
import sys


def packed_bytes(log):
    m = re.search(r"weights \d+ bytes as float -> (\d+) bytes packed", open(log).read())
    if not m:
        sys.exit(f"decoder_gain.py: {log}: no qc-fold-weights remark")
    return int(m.group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base_json")
    parser.add_argument("base_log")
    parser.add_argument("new_json")
    parser.add_argument("new_log")
    parser.add_argument("--min-sqnr-gain", type=float, default=None, metavar="DB")
    parser.add_argument("--ppl-not-worse", action="store_true")
    parser.add_argument("--size-not-larger", action="store_true")
    args = parser.parse_args()
    a, b = json.load(open(args.base_json)), json.load(open(args.new_json))
    pa, pb = packed_bytes(args.base_log), packed_bytes(args.new_log)
    gain = b["sqnr_db"] - a["sqnr_db"]
    print(f"{b.get('label', 'new')} vs {a.get('label', 'base')}: SQNR {a['sqnr_db']:.2f} -> "
          f"{b['sqnr_db']:.2f} dB ({gain:+.2f} dB), perplexity {a['perplexity']:.4f} -> "
          f"{b['perplexity']:.4f}, packed {pa} -> {pb} bytes")
    failed = []
    if args.min_sqnr_gain is not None and not gain >= args.min_sqnr_gain:
        failed.append(f"SQNR gain below {args.min_sqnr_gain} dB")
    if args.ppl_not_worse and not b["perplexity"] <= a["perplexity"]:
        failed.append("perplexity worse")
    if args.size_not_larger and not pb <= pa:
        failed.append("larger")
    if failed:
        print("FAILED: " + ", ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
