"""Asserts relations between QSNR values printed by 'quant-tensor qsnr --json'.

  check_qsnr.py plain=a.json rotated=b.json \
      --expect "plain.mxint8 > plain.mxfp8_e4m3 + 10" \
      --expect "rotated.mxfp4 > plain.mxfp4"

Each LABEL=FILE names one JSON output; in an expression, LABEL.SPEC is the
QSNR in dB of that format (characters of SPEC that are not valid in a Python
name become '_'). Prints every value and expectation; exits 1 if any fails.
"""
import argparse
import json
import re
import sys
import types


def load(label_and_path):
    label, _, path = label_and_path.partition("=")
    if not path:
        sys.exit(f"check_qsnr.py: expected LABEL=FILE, got '{label_and_path}'")
    with open(path) as f:
        data = json.load(f)
    values = {}
    for row in data["results"]:
        name = re.sub(r"\W", "_", row["spec"])
        qsnr = row["qsnr_db"]
        values[name] = float("nan") if qsnr is None else qsnr
        print(f"{label}.{name}: {qsnr} dB, {row['bits_per_element']} bits/element")
    return label, types.SimpleNamespace(**values)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", metavar="LABEL=FILE")
    parser.add_argument("--expect", action="append", default=[], metavar="EXPR")
    args = parser.parse_args()
    namespace = dict(load(f) for f in args.files)
    failed = 0
    for expectation in args.expect:
        ok = bool(eval(expectation, {"__builtins__": {"abs": abs}}, namespace))
        print(f"{'ok' if ok else 'FAILED'}: {expectation}")
        failed += not ok
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
