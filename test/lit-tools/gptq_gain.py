#!/usr/bin/env python3
"""GPTQ against round-to-nearest in scripts/real_model_recipes.py's --json rows.

  gptq_gain.py ROWS.json --min-gain DB RTN:GPTQ [RTN:GPTQ ...]

RTN and GPTQ are recipes as the rows name them (a path's file name without
.json matches too). For every model with both rows, prints "MODEL: RTN X dB
-> GPTQ Y dB (gain Z dB; worst output A -> B dB)" and fails (exit 1) when a
row has an error, a pair is missing, or GPTQ's output SQNR is not at least
--min-gain dB above round-to-nearest's.
"""
import json
import os
import sys


def short(recipe):
    base = os.path.basename(recipe)
    return base[:-5] if base.endswith(".json") else base


def main():
    args = sys.argv[1:]
    if len(args) < 4 or args[1] != "--min-gain":
        sys.exit(__doc__)
    rows = json.load(open(args[0]))
    min_gain = float(args[2])
    by_key = {(r["model"], short(r["recipe"])): r for r in rows}
    models = sorted({r["model"] for r in rows})
    ok = True
    for pair in args[3:]:
        rtn, gptq = pair.split(":")
        for model in models:
            a, b = by_key.get((model, rtn)), by_key.get((model, gptq))
            if not a or not b or "error" in a or "error" in b:
                print(f"{model}: {rtn} / {gptq}: FAILED: missing or failed row "
                      f"({(a or {}).get('error', '')}{(b or {}).get('error', '')})")
                ok = False
                continue
            gain = b["sqnr_db"] - a["sqnr_db"]
            verdict = "" if gain >= min_gain else f" FAILED: below {min_gain} dB"
            ok &= gain >= min_gain
            print(f"{model}: {rtn} {a['sqnr_db']:.2f} dB -> {gptq} {b['sqnr_db']:.2f} dB "
                  f"(gain {gain:.2f} dB; worst output {a['worst_output_sqnr_db']:.2f} -> "
                  f"{b['worst_output_sqnr_db']:.2f} dB){verdict}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
