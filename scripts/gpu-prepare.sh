#!/usr/bin/env bash
# Prepares what scripts/gpu-check.sh runs on a GPU machine that has no LLVM or
# MLIR (the H200 machines lend here have the CUDA driver, nvcc, CMake and
# PyTorch, but not the Debian llvm-22/mlir-22 packages): builds quant-opt and
# compiles, for --chip (default sm_90a),
#   build/gpu-artifacts/tests.txt, test_<format>.so   (quantc-lower-to-cuda, end to end)
#   build/gpu-artifacts/kernels.txt, kernels.ptx      (qc-lower-gpu kernels to time)
#   build/gpu-artifacts/models/models.txt, *.so       (whole models: the decoders,
#       float and w4a16-nvfp4, for cuda:sm_80,sm_90a and for the CPU, with
#       quant-run's logits on this CPU; integration_test/gpu/prepare_models.py)
# Run it here, then carry build/gpu-artifacts.tar.gz (the same, gzipped:
# the directory is beyond a device session's 64 MiB) to the GPU machine;
# scripts/gpu-check.sh unpacks it.
# usage: scripts/gpu-prepare.sh [--chip sm_90a] [--out DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${QUANTC_BUILD_DIR:-$root/build}"
chip=sm_90a
out="$build/gpu-artifacts"
while [ $# -gt 0 ]; do
  case "$1" in
    --chip) chip="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "gpu-prepare: unknown argument $1" >&2; exit 2 ;;
  esac
done
"$root/scripts/build.sh" quant-opt quant-compile quant-run
rm -rf "$out"
/usr/bin/python3 "$root/bench/gpu/prepare_artifacts.py" --out "$out" --chip "$chip" \
  --bin "$build/bin" --jobs "$(nproc)"
/usr/bin/python3 "$root/integration_test/gpu/prepare_models.py" --out "$out/models" \
  --bin "$build/bin"
tar czf "$out.tar.gz" -C "$(dirname "$out")" "$(basename "$out")"
du -sh "$out" "$out.tar.gz"
