"""Runs a command and succeeds only if it exits with the given status.

  expect_status.py 1 quant-tensor fake-quant --format bogus in.npy out.npy

'not' accepts any failure; this pins the exact status (1 for quant-tensor's
errors, never a crash or an abort).
"""
import subprocess
import sys

expected = int(sys.argv[1])
status = subprocess.call(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if status != expected:
    sys.exit(f"expect_status.py: '{' '.join(sys.argv[2:])}' exited with {status}, expected {expected}")
