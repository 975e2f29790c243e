#!/usr/bin/env python3
"""Checks that a shared library quant-compile wrote stands alone.

  check_so_deps.py READELF LIB.so

Reads `READELF -d LIB.so` and fails unless every NEEDED library is a system
library (libc, libm, libstdc++, libgcc_s, the dynamic loader) and there is no
RPATH or RUNPATH; prints the NEEDED libraries, sorted, one per line.
"""
import re
import subprocess
import sys

ALLOWED = {"libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1",
           "ld-linux-x86-64.so.2", "libpthread.so.0", "libdl.so.2"}


def main():
    readelf, library = sys.argv[1], sys.argv[2]
    dynamic = subprocess.run([readelf, "-d", library], check=True, capture_output=True,
                             text=True).stdout
    needed = sorted(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic))
    bad = [name for name in needed if name not in ALLOWED]
    if bad:
        sys.exit(f"{library}: depends on {', '.join(bad)}")
    if re.search(r"\((RPATH|RUNPATH)\)", dynamic):
        sys.exit(f"{library}: has an RPATH/RUNPATH")
    for name in needed:
        print(name)


if __name__ == "__main__":
    main()
