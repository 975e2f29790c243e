#!/usr/bin/env python3
"""Writes the PTX held by the gpu.binary ops of an MLIR file to .ptx files.

usage: extract_ptx.py INPUT.mlir OUTPUT.ptx

The PTX of `gpu-module-to-binary format=isa` is an escaped string attribute
(`assembly = "..."`); this undoes the escaping so that ptxas can assemble it.
With several gpu.binary ops (or several objects), the second and later go to
OUTPUT.1.ptx, OUTPUT.2.ptx, ... Exits 1 if the file holds no PTX.
"""
import re
import sys


def unescape(text):
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "\\" or nxt == '"':
                out += nxt.encode()
                i += 2
                continue
            out.append(int(text[i + 1:i + 3], 16))
            i += 3
            continue
        out += c.encode()
        i += 1
    return bytes(out)


def extract(source, output):
    """Writes the PTX of `source` to `output` (and OUTPUT.<i>.ptx); 0 on success."""
    text = open(source, encoding="utf-8").read()
    objects = re.findall(r'assembly = "((?:[^"\\]|\\.)*)"', text)
    if not objects:
        print(f"extract_ptx.py: {source}: no gpu.binary with PTX", file=sys.stderr)
        return 1
    for index, body in enumerate(objects):
        path = output if index == 0 else re.sub(r"\.ptx$", "", output) + f".{index}.ptx"
        with open(path, "wb") as f:
            f.write(unescape(body))
    return 0


def main():
    return extract(sys.argv[1], sys.argv[2])


if __name__ == "__main__":
    sys.exit(main())
