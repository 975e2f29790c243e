"""Checks that 'quant-tensor pack' then 'unpack' equals 'fake-quant' bit for
bit, for every named format that 'quant-tensor formats' lists.

  pack_roundtrip.py IN.npy SHAPE WORKDIR [--tool quant-tensor]

Prints one line per format and exits 1 on the first failure, with the
failing command's output.
"""
import argparse
import os
import subprocess
import sys


def run(tool, *args):
    result = subprocess.run([tool, *args], capture_output=True, text=True)
    if result.returncode != 0:
        print(f"FAILED: {tool} {' '.join(args)}\n{result.stdout}{result.stderr}")
        sys.exit(1)
    return result.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input")
    parser.add_argument("shape")
    parser.add_argument("workdir")
    parser.add_argument("--tool", default="quant-tensor")
    args = parser.parse_args()

    listing = run(args.tool, "formats").splitlines()[1:]  # skip the header
    names = [line.split()[0] for line in listing if line.strip()]
    for name in names:
        out = lambda suffix: os.path.join(args.workdir, f"{name}.{suffix}.npy")
        run(args.tool, "fake-quant", "--format", name, args.input, out("fq"))
        run(args.tool, "pack", "--format", name, args.input, out("packed"))
        run(args.tool, "unpack", "--format", name, "--shape", args.shape,
            out("packed"), out("unpacked"))
        print(f"{name}: {run(args.tool, 'compare', '--exact', out('fq'), out('unpacked')).strip()}")
    print(f"pack/unpack equals fake-quant for {len(names)} formats")


if __name__ == "__main__":
    main()
