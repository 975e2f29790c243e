#!/usr/bin/env bash
# The GPU check: run from the repo root on a machine with an NVIDIA GPU and
# its driver. Builds quantc-gpu-check (no LLVM/MLIR needed: the compiled
# tests and kernels come from scripts/gpu-prepare.sh in build/gpu-artifacts
# or build/gpu-artifacts.tar.gz, unpacked here,
# or are made here when this machine can build quant-opt), then
#   1. GPU vs CPU reference for every format and shape class
#      (integration_test/gpu/cases.txt), through the code quantc-lower-to-cuda
#      generates and the mgpu* runtime (quantc-gpu-check test);
#   2. the lit suite integration_test/gpu (quant-run --device cuda against
#      quant-run), where quant-run is built;
#   2b. whole models (build/gpu-artifacts/models, integration_test/gpu/
#      run_model_so.py): the decoders float and w4a16-nvfp4 compiled for
#      cuda (float graph + qc.matmul on the GPU, device buffers) and for the
#      CPU, each against quant-run's logits (SQNR) and timed per forward ->
#      models.json;
#   3. benchmarks: GEMV/GEMM at bench/gpu/shapes.txt, an HBM copy probe
#      (quantc-gpu-check bench) and cuBLAS bf16/fp8 through PyTorch;
# and writes $OUT (default ./gpu-check-out): gpu-check.log, device.json,
# tests.json, bench.json, cublas.json, summary.md, summary.json.
# Every step runs even if an earlier one failed; the summary lists them all.
# --fp8: only what the sm_90a FP8 GEMM criterion needs, for a short device
# session: the test cases with act, the W8A8 kernels (activation
# quantization and FP8 wgmma GEMM) and cuBLAS at M = 128 and 4096.
# GPU_CHECK_STEP_LIMIT=S caps every step's time limit at S seconds (a short
# device lease: what a step had written by then still lands in $OUT).
set -uo pipefail
fp8_only=0
[ "${1:-}" = "--fp8" ] && fp8_only=1
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
OUT="${OUT:-$root/gpu-check-out}"
mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu-check.log") 2>&1
artifacts="${QUANTC_GPU_ARTIFACTS:-$root/build/gpu-artifacts}"
gbuild="${QUANTC_GPU_BUILD_DIR:-$root/build-gpu}"
steps="$OUT/.steps"
: > "$steps"
jobs="$(nproc 2>/dev/null || echo 4)"

# step NAME TIMEOUT COMMAND...: runs it with set -x tracing, records status.
step() {
  local name="$1" limit="$2"; shift 2
  local cap="${GPU_CHECK_STEP_LIMIT:-$limit}"
  [ "$cap" -lt "$limit" ] && limit="$cap"
  local start=$SECONDS status
  echo "=== $name ($(date -u +%H:%M:%S))"
  ( set -x; timeout "$limit" bash -c '"$@"' step "$@" )
  status=$?
  local verdict=ok
  [ "$status" -eq 0 ] || verdict="failed($status)"
  [ "$status" -eq 124 ] && verdict="timeout"
  echo "$name $verdict $((SECONDS - start))" >> "$steps"
  echo "=== $name: $verdict in $((SECONDS - start)) s"
  return "$status"
}

environment() {
  nvidia-smi -L
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv
  command -v cmake ninja g++ c++ nvcc python3 || true
  uname -a
}

build_harness() {
  local generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  if command -v cmake >/dev/null; then
    cmake "${generator[@]}" -S "$root" -B "$gbuild" -DQUANTC_ENABLE_MLIR=OFF \
      -DCMAKE_BUILD_TYPE=Release >/dev/null &&
      cmake --build "$gbuild" --target quantc-gpu-check -j "$jobs" && return 0
    echo "gpu-check: CMake build failed; compiling directly"
  fi
  mkdir -p "$gbuild/bin"
  c++ -O2 -std=c++17 -I"$root/include" "$root/bench/gpu/gpu-check.cpp" \
    "$root"/lib/Formats/*.cpp "$root/lib/Runtime/CudaDriver.cpp" \
    -rdynamic -ldl -lpthread -o "$gbuild/bin/quantc-gpu-check"
}

harness() {
  local exe
  for exe in "$gbuild/bin/quantc-gpu-check" "$gbuild/bench/gpu/quantc-gpu-check"; do
    [ -x "$exe" ] && { echo "$exe"; return; }
  done
  echo "$gbuild/bin/quantc-gpu-check"
}

prepare_here() {
  if [ ! -f "$artifacts/tests.txt" ] && [ -f "$artifacts.tar.gz" ]; then
    echo "gpu-check: unpacking $artifacts.tar.gz"
    tar xzf "$artifacts.tar.gz" -C "$(dirname "$artifacts")" || return 1
  fi
  if [ -f "$artifacts/tests.txt" ] && [ -f "$artifacts/kernels.txt" ]; then
    echo "gpu-check: using $artifacts"; return 0
  fi
  # Only where LLVM/MLIR 22 are installed (not on the lent GPU machines).
  if [ ! -d /usr/lib/llvm-22/lib/cmake/mlir ]; then
    echo "gpu-check: no $artifacts and no MLIR here: run scripts/gpu-prepare.sh" \
         "on a build machine and carry build/gpu-artifacts.tar.gz"
    return 1
  fi
  "$root/scripts/gpu-prepare.sh" --out "$artifacts"
}

device_info() {
  "$(harness)" device > "$OUT/device.json" && cat "$OUT/device.json"
}

lit_suite() {
  if [ ! -x "$root/build/bin/quant-run" ] || [ ! -f "$root/build/integration_test/lit.site.cfg.py" ]; then
    echo "gpu-check: skipped: no quant-run build here (integration_test/gpu needs LLVM/MLIR)"
    return 0
  fi
  /usr/bin/python3 /usr/lib/llvm-22/bin/lit -v "$root/build/integration_test/gpu"
}

models_check() {
  local list="$artifacts/models/models.txt" status=0 label so input ref sqnr
  if [ ! -f "$list" ]; then
    echo "gpu-check: no $list (scripts/gpu-prepare.sh makes it)"; return 1
  fi
  : > "$OUT/models.json"
  while read -r label so input ref sqnr; do
    case "$label" in ''|'#'*) continue ;; esac
    python3 "$root/integration_test/gpu/run_model_so.py" "$artifacts/models/$so" \
      --input "$artifacts/models/$input" --reference "$artifacts/models/$ref" \
      --min-sqnr "$sqnr" --repeat 20 --label "$label" --json "$OUT/models.json" || status=1
  done < "$list"
  return "$status"
}

export root OUT artifacts gbuild jobs
export -f environment build_harness harness prepare_here device_info lit_suite models_check

step environment 60 environment
step build 300 build_harness
step device 60 device_info
step prepare 600 prepare_here
if [ "$fp8_only" = 1 ]; then
  # The act cases and kernels, in files beside the originals (paths in them
  # are relative to their directory).
  grep -E '^#| act ' "$artifacts/tests.txt" > "$artifacts/tests_fp8.txt"
  grep -E '^#| act=' "$artifacts/kernels.txt" > "$artifacts/kernels_fp8.txt"
  step tests 300 "$(harness)" test --cases "$artifacts/tests_fp8.txt" --json "$OUT/tests.json"
  step bench 300 "$(harness)" bench --kernels "$artifacts/kernels_fp8.txt" --json "$OUT/bench.json"
  step cublas 180 python3 "$root/bench/gpu/cublas_reference.py" --rows 128,4096 --json "$OUT/cublas.json"
else
  step tests 600 "$(harness)" test --cases "$artifacts/tests.txt" --json "$OUT/tests.json"
  step lit-gpu 600 lit_suite
  step models 300 models_check
  step bench 300 "$(harness)" bench --kernels "$artifacts/kernels.txt" --json "$OUT/bench.json"
  step cublas 180 python3 "$root/bench/gpu/cublas_reference.py" --json "$OUT/cublas.json"
fi
python3 "$root/bench/gpu/summarize.py" "$OUT" "$steps" || true
echo "=== steps"
cat "$steps"
failed=$(grep -vc " ok " "$steps")
rm -f "$steps"
echo "gpu-check: $failed step(s) not ok; results in $OUT"
[ "$failed" -eq 0 ]
