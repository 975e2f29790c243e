#!/usr/bin/env bash
# The GPU bundle's entry point, on the machine with the GPU (no LLVM/MLIR
# needed; nvidia-smi, the CUDA driver and python3 + torch for the cuBLAS
# comparison). From the repository root:
#
#   bash build/gpu-bundle/run.sh        (results in $OUT, else build/gpu-bundle/out)
#
# Steps (each under its own time limit, 5 minutes at most; about 2 in all):
#   1. nvidia-smi and the device as the CUDA driver reports it (if the
#      prebuilt programs do not load, e.g. glibc < 2.34, relink/relink.sh
#      rebuilds them with this machine's c++ from the shipped sources and
#      objects, ~30 s);
#   2. correctness: bin/qc-gpu-check regenerates every case's inputs
#      (verifying their hashes against the build machine's), runs the function
#      compiled by quantc-lower-to-cuda (host code + PTX JIT-loaded by the
#      driver) and compares with the CPU path's output:
#         max|gpu - cpu| <= rel * max|cpu| + 1e-5, rel = 1e-3 (f32 results),
#                                                  2e-3 (f16 results)
#      Why: both sides decode the same codes and scales exactly and accumulate
#      in f32, in different orders: reordering K = 4096-14336 f32 products
#      moves a result by about sqrt(K) * 2^-24 * |x.w|, measured 2e-6..5e-6 of
#      max|y| (numpy f32 BLAS vs the CPU path on these inputs). The mma.sync
#      GEMM (M > 16) also rounds activations and dequantized weights to f16
#      (2^-11 relative each): measured 2e-4..3.2e-4 of max|y| (f16-rounded
#      operands vs f64, int8 4096^2 and mxfp4 14336x4096 at M = 128), so 1e-3
#      leaves a 3x margin there and 200x for the f32 GEMV/SIMT kernels. f16
#      results may round to neighbouring halves (up to 2^-10 relative), hence
#      2e-3 for them. A real bug (wrong scale, nibble order, tile or block
#      offset, missed row) moves results by 1e-2 of max|y| or more (one block
#      of 32 with a doubled scale: ~sqrt(32)/(4.8 sqrt(K)) = 2e-2 at K = 4096).
#      summary.md lists the worst measured error per kernel kind.
#   3. benchmarks: bin/qc-gpu-bench launches each kernel on random weight
#      bytes (rotated over >= 256 MiB so that the L2 does not serve them),
#      CUDA-event timing, median of 3 runs;
#   4. py/torch_bench.py: cuBLAS bf16 (F.linear) and fp8 (torch._scaled_mm)
#      on the same shapes, HBM bandwidth (device-to-device copy) and the
#      bf16/fp8 tensor-core peak (8192^3);
#   5. py/summarize.py: summary.md + summary.json.
# Files written to $OUT (7): run.log nvidia-smi.txt check.json bench.json
# torch.json summary.json summary.md. Exit status: 0 if every correctness
# case passed and every benchmark ran, else 1.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${OUT:-$here/out}"
mkdir -p "$OUT"
exec > >(tee "$OUT/run.log") 2>&1
tee_pid=$!
# Ends the script once tee has written all of run.log.
finish() { exec 1>&- 2>&-; wait "$tee_pid" 2>/dev/null; exit "$1"; }
chmod +x "$here"/bin/* 2>/dev/null
start=$(date +%s)
status=0
step() { echo; echo "== $* ($(( $(date +%s) - start )) s)"; }

cat "$here/MANIFEST.txt" 2>/dev/null | head -6

step "device"
if nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem,power.limit \
    --format=csv >> "$OUT/nvidia-smi.txt" 2>&1
  head -20 "$OUT/nvidia-smi.txt"
else
  echo "nvidia-smi failed:"; cat "$OUT/nvidia-smi.txt"
fi
bin="$here/bin"
probe="$(timeout 60 "$bin/qc-gpu-bench" info 2>&1)"; rc=$?
if [ $rc -ne 0 ] && echo "$probe" | grep -qE "GLIBC|error while loading|cannot execute"; then
  echo "the prebuilt programs do not load here: $probe"
  echo "relinking them with this machine's compiler (relink/relink.sh)"
  bin="${TMPDIR:-/tmp}/qc-gpu-bundle-bin"
  timeout 120 bash "$here/relink/relink.sh" "$bin" || { echo "relink failed: stopping"; finish 1; }
  probe="$(timeout 60 "$bin/qc-gpu-bench" info 2>&1)"; rc=$?
fi
echo "$probe"
if [ $rc -ne 0 ]; then
  printf '# quantc GPU bundle results\n\nNo usable GPU: `%s`\n' "$probe" > "$OUT/summary.md"
  echo "no usable GPU: stopping"
  finish 1
fi

step "correctness (qc-gpu-check)"
timeout 100 "$bin/qc-gpu-check" check --cases "$here/check/cases.tsv" \
  --expected "$here/check/expected" --json "$OUT/check.json"
rc=$?; [ $rc -eq 0 ] || { echo "check: exit $rc"; status=1; }

step "benchmarks (qc-gpu-bench)"
timeout 100 "$bin/qc-gpu-bench" bench --manifest "$here/bench/bench.tsv" \
  --ptx "$here/bench/ptx" --json "$OUT/bench.json" --min-ms "${QC_BENCH_MS:-150}"
rc=$?; [ $rc -eq 0 ] || { echo "bench: exit $rc"; status=1; }

step "cuBLAS and HBM (torch)"
timeout 90 python3 "$here/py/torch_bench.py" --manifest "$here/bench/bench.tsv" \
  --json "$OUT/torch.json"
rc=$?; [ $rc -eq 0 ] || echo "torch_bench: exit $rc (comparison incomplete)"

step "summary"
python3 "$here/py/summarize.py" --check "$OUT/check.json" --bench "$OUT/bench.json" \
  --torch "$OUT/torch.json" --nvidia-smi "$OUT/nvidia-smi.txt" \
  --md "$OUT/summary.md" --json "$OUT/summary.json" || status=1
cat "$OUT/summary.md" 2>/dev/null
step "done, exit $status"
finish $status
