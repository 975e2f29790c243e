"""Writes a small .npy file from literal values, or a deliberately broken one.

  gen_npy.py OUT.npy --dtype float32 --shape 2x4 --values "1 2 3 4 5 6 7 8"
  gen_npy.py OUT.npy --values "0.5 -1" --big-endian
  gen_npy.py OUT.npy --values "1 2 3 4" --shape 2x2 --fortran
  gen_npy.py OUT.npy --values "1 2 3 4" --truncate 3
  gen_npy.py OUT.npy --bad-magic

Values are Python float literals (nan, inf and -0.0 included), separated by
spaces or commas. Run with an interpreter that has numpy (%python in lit).
"""
import argparse

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--shape", help="e.g. 2x4; default: 1-d")
    parser.add_argument("--values", default="")
    parser.add_argument("--version", default="1.0", help="npy format version")
    parser.add_argument("--fortran", action="store_true")
    parser.add_argument("--big-endian", action="store_true")
    parser.add_argument("--truncate", type=int, default=0,
                        help="drop this many bytes from the end")
    parser.add_argument("--bad-magic", action="store_true")
    args = parser.parse_args()

    if args.bad_magic:
        with open(args.out, "wb") as f:
            f.write(b"this is not a numpy file\n")
        return

    values = [float(v) for v in args.values.replace(",", " ").split()]
    array = np.array(values, dtype=np.float64).astype(args.dtype)
    if args.shape is not None:
        shape = [] if args.shape == "scalar" else [int(d) for d in args.shape.split("x")]
        array = array.reshape(shape)
    if args.big_endian:
        array = array.astype(array.dtype.newbyteorder(">"))
    if args.fortran:
        array = np.asfortranarray(array)
    version = tuple(int(p) for p in args.version.split("."))
    with open(args.out, "wb") as f:
        np.lib.format.write_array(f, array, version=version)
    if args.truncate:
        with open(args.out, "r+b") as f:
            f.seek(0, 2)
            f.truncate(f.tell() - args.truncate)


if __name__ == "__main__":
    main()
