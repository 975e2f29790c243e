#!/usr/bin/env python3
"""Prints an MLIR file with every qc.fake_quant replaced by the identity.

  strip_fake_quant.py IN.mlir > OUT.mlir

`%a = qc.fake_quant %b as <fmt> : T` becomes `%a = tensor.cast %b : T to T`,
so a quantized model runs in float: how the qc-rotate tests check that a
rotated model still computes what the original computes.
"""
import re
import sys

FAKE_QUANT = re.compile(
    r"(%[\w.$#-]+) = qc\.fake_quant (%[\w.$#-]+) as <[^>]*> : (tensor<[^>]*>)")


def main():
    with open(sys.argv[1]) as f:
        text = f.read()
    sys.stdout.write(FAKE_QUANT.sub(r"\1 = tensor.cast \2 : \3 to \3", text))


if __name__ == "__main__":
    main()
