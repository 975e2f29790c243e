#!/usr/bin/env bash
# Builds build/gpu-bundle/: self-contained GPU checks and benchmarks for a
# machine that has a GPU and its driver but no LLVM/MLIR (see
# scripts/gpu-bundle/run.sh for what runs there, and how).
#
#   scripts/make-gpu-bundle.sh [--chip sm_90a] [--jobs N] [--out DIR]
#
# What it does, all on this machine:
#  1. writes one MLIR function per check case (qc.matmul with a packed weight
#     argument; scripts/gpu-bundle/plan.py has the list) and per benchmark;
#  2. generates every check input with the bundle's own generator (integer
#     PRNG + quantc's format library) and records their hashes; the inputs do
#     not travel: the device regenerates them bit-identically and verifies the
#     hashes, so only the expected outputs ship;
#  3. computes the expected outputs with the CPU path (build/bin/quant-run);
#  4. lowers each check function with quantc-lower-to-cuda (host LLVM + PTX
#     in a gpu.binary), mlir-translate --mlir-to-llvmir, llc -O3 -filetype=obj,
#     and links them with lib/Runtime/CudaDriver.cpp, lib/Runtime/Npy.cpp,
#     lib/Formats and scripts/gpu-bundle/bundle_main.cpp into bin/qc-gpu-check
#     (static libstdc++/libgcc: needs only glibc and, via dlopen, libcuda);
#  5. emits PTX for every benchmark kernel (qc-lower-gpu + quantc-gpu-to-ptx)
#     with its launch shape, for bin/qc-gpu-bench (same driver, no check
#     functions), which launches them on device buffers;
#  6. verifies: every PTX embedded in qc-gpu-check and every benchmark PTX
#     assembles with ptxas for the chip (when /usr/local/cuda/bin/ptxas
#     exists); both programs fail cleanly ("no CUDA driver", exit 1) here
#     when there is no driver; every expected output exists.
#
# Environment: QUANTC_BUILD_DIR (default build), LLVM_BIN (default
# /usr/lib/llvm-22/bin), PTXAS (default /usr/local/cuda/bin/ptxas).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${QUANTC_BUILD_DIR:-$root/build}"
chip=sm_90a
jobs=1
out="$build/gpu-bundle"
while [ $# -gt 0 ]; do
  case "$1" in
    --chip) chip="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//;/^set -e/d'; exit 0 ;;
    *) echo "make-gpu-bundle.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

llvm="${LLVM_BIN:-/usr/lib/llvm-22/bin}"
ptxas="${PTXAS:-/usr/local/cuda/bin/ptxas}"
src="$root/scripts/gpu-bundle"
work="$build/gpu-bundle-work"
quant_opt="$build/bin/quant-opt"
quant_run="$build/bin/quant-run"
cxx="$llvm/clang++"
mlir_opt="$llvm/mlir-opt"
plan() { python3 "$src/plan.py" "$@"; }
say() { echo "== $*"; }
die() { echo "make-gpu-bundle.sh: error: $*" >&2; exit 1; }

for tool in "$quant_opt" "$quant_run" "$cxx" "$mlir_opt" "$llvm/mlir-translate" "$llvm/llc"; do
  [ -x "$tool" ] || die "$tool not found (build quantc first: ninja -C $build quant-opt quant-run)"
done
opt_help="$("$quant_opt" --help)"
[[ "$opt_help" == *--quantc-lower-to-cuda* ]] ||
  die "$quant_opt has no quantc-lower-to-cuda pipeline (qc-lower-gpu not built in)"

start=$(date +%s)
mkdir -p "$work"/{obj,ref,lower,bench,inputs,host,ptx-check}
rm -rf "$out"
mkdir -p "$out"/{bin,check/expected,bench/ptx,py}

# ---------------------------------------------------------------------------
say "plan"
plan plan "$work"

# ---------------------------------------------------------------------------
say "host objects (driver, CUDA runtime, .npy, format library)"
cxxflags=(-std=c++17 -O2 -fno-fast-math -ffp-contract=off -fPIC
          -I"$root/include" -I"$src" -Wall -Wno-unused-function)
host_srcs=("$src/bundle_main.cpp" "$root/lib/Runtime/CudaDriver.cpp"
           "$root/lib/Runtime/Npy.cpp" "$root/lib/Formats/Format.cpp"
           "$root/lib/Formats/Layout.cpp")
host_objs=()
for f in "${host_srcs[@]}"; do
  o="$work/host/$(basename "${f%.cpp}").o"
  "$cxx" "${cxxflags[@]}" -c "$f" -o "$o"
  host_objs+=("$o")
done
"$llvm/clang" -O2 -fPIC -c "$src/glibc_compat.c" -o "$work/host/glibc_compat.o"
host_objs+=("$work/host/glibc_compat.o")
# libstdc++ is linked in; libgcc_s stays a shared library (it is wherever
# libstdc++ or python3 is): static libgcc's unwinder would need glibc 2.35
# (_dl_find_object). Result: glibc >= 2.34 and libgcc_s.so.1, nothing else.
link() { # OUT OBJS...
  local exe="$1"; shift
  "$cxx" -static-libstdc++ -o "$exe" "$@" -ldl -lpthread -lm
}
# qc-gpu-bench: no check functions.
printf '#include "bundle_cases.h"\nconst CheckFunction kCheckFunctions[] = {{nullptr, nullptr}};\n' \
  > "$work/host/empty_table.cpp"
"$cxx" "${cxxflags[@]}" -c "$work/host/empty_table.cpp" -o "$work/host/empty_table.o"
link "$out/bin/qc-gpu-bench" "${host_objs[@]}" "$work/host/empty_table.o"

# ---------------------------------------------------------------------------
say "check inputs (generated here and, identically, on the device)"
"$out/bin/qc-gpu-bench" gen --cases "$work/check/cases.tsv" --out "$work/inputs" \
  > "$work/check/hashes.tsv"

# Runs CMD for each case name on stdin, $jobs at a time.
foreach() { xargs -r -P "$jobs" -I{} bash -c "$1" _ {}; }
export work quant_run quant_opt mlir_opt llvm chip
# A result is rebuilt when its case, its inputs or the tool changed.
export stamp_tools="$(stat -c %Y "$quant_opt" "$quant_run" | tr '\n' ' ')"

# ---------------------------------------------------------------------------
say "expected outputs (CPU path: quant-run)"
reference() {
  local name="$1" key
  key="$(grep -P "^$name\t" "$work/check/cases.tsv"; grep -P "^$name\t" "$work/check/hashes.tsv"; echo "$stamp_tools")"
  if [ -f "$work/ref/$name.npy" ] && [ "$(cat "$work/ref/$name.key" 2>/dev/null)" = "$key" ]; then
    return 0
  fi
  local xs ws
  xs=$(grep -P "^$name\t" "$work/check/cases.tsv" | cut -f4)
  ws=$(grep -P "^$name\t" "$work/check/cases.tsv" | cut -f8)
  rm -rf "$work/ref/$name.d"
  "$quant_run" "$work/check/$name.mlir" --entry "$name" \
    --input "$work/inputs/x_$xs.npy" --input "$work/inputs/w_$ws.npy" \
    --output-dir "$work/ref/$name.d" > "$work/ref/$name.log" 2>&1 ||
    { echo "quant-run failed for $name:"; cat "$work/ref/$name.log"; return 1; }
  mv "$work/ref/$name.d/0.npy" "$work/ref/$name.npy"
  rm -rf "$work/ref/$name.d"
  echo "$key" > "$work/ref/$name.key"
}
export -f reference
cut -f1 "$work/check/cases.tsv" | grep -v '^#' | foreach 'reference "$1"'

# ---------------------------------------------------------------------------
# Lowering: quantc-lower-to-cuda, the pipeline quant-run --device cuda uses.
lower() { "$quant_opt" "$1" --quantc-lower-to-cuda="chip=$chip" -o "$2"; }
export -f lower
say "lowering: quantc-lower-to-cuda{chip=$chip}"

compile_case() {
  local name="$1" key
  key="$(cat "$work/check/$name.mlir"; echo "$chip $stamp_tools")"
  if [ -f "$work/obj/$name.o" ] && [ "$(cat "$work/obj/$name.key" 2>/dev/null)" = "$key" ]; then
    return 0
  fi
  local l="$work/lower/$name"
  { "$quant_opt" "$work/check/$name.mlir" --qc-lower-gpu="chip=$chip" -o "$l.kernels.mlir" &&
    lower "$work/check/$name.mlir" "$l.llvm.mlir" &&
    "$llvm/mlir-translate" --mlir-to-llvmir "$l.llvm.mlir" -o "$l.ll" &&
    "$llvm/llc" -O3 -filetype=obj -relocation-model=pic "$l.ll" -o "$work/obj/$name.o"; } \
    > "$l.log" 2>&1 || { echo "lowering failed for $name:"; cat "$l.log"; return 1; }
  rm -f "$l.llvm.mlir"
  echo "$key" > "$work/obj/$name.key"
}
export -f compile_case
say "check functions: lower, translate, compile"
cut -f1 "$work/check/cases.tsv" | grep -v '^#' | foreach 'compile_case "$1"'

# The case table the device reads: plan + kernel kind + input hashes.
plan kernel-kinds "$work/check/cases.tsv" "$work/lower" "$work/check/kinds.tsv"
python3 - "$work/check/cases.tsv" "$work/check/kinds.tsv" "$work/check/hashes.tsv" \
  "$out/check/cases.tsv" <<'EOF'
import sys
cases, kinds, hashes, out = sys.argv[1:]
kind = dict(l.rstrip("\n").split("\t") for l in open(kinds) if l.strip())
hsh = {l.split("\t")[0]: l.rstrip("\n").split("\t")[1:] for l in open(hashes) if l.strip()}
with open(out, "w") as o:
    for line in open(cases):
        line = line.rstrip("\n")
        if line.startswith("#"):
            o.write(line + "\tkind\tx_hash\tw_hash\n")
            continue
        name = line.split("\t")[0]
        o.write("\t".join([line, kind[name]] + hsh[name]) + "\n")
EOF
for name in $(cut -f1 "$work/check/cases.tsv" | grep -v '^#'); do
  cp "$work/ref/$name.npy" "$out/check/expected/$name.npy"
done

plan table "$work/check/cases.tsv" "$work/host/table.cpp"
"$cxx" "${cxxflags[@]}" -c "$work/host/table.cpp" -o "$work/host/table.o"
link "$out/bin/qc-gpu-check" "${host_objs[@]}" "$work/host/table.o" \
  $(cut -f1 "$work/check/cases.tsv" | grep -v '^#' | sed "s|.*|$work/obj/&.o|")

# ---------------------------------------------------------------------------
say "benchmark kernels: PTX + launch shapes"
bench_case() {
  local name="$1" b="$work/bench/$1" key
  key="$(cat "$b.mlir"; echo "$chip $stamp_tools")"
  if [ -f "$b.ptx.mlir" ] && [ "$(cat "$b.key" 2>/dev/null)" = "$key" ]; then return 0; fi
  { "$quant_opt" "$b.mlir" --qc-lower-gpu="chip=$chip" -o "$b.kernels.mlir" &&
    "$quant_opt" "$b.kernels.mlir" --quantc-gpu-to-ptx -o "$b.ptx.mlir"; } > "$b.log" 2>&1 ||
    { echo "PTX failed for $name:"; cat "$b.log"; return 1; }
  echo "$key" > "$b.key"
}
export -f bench_case
cut -f1 "$work/bench/list.tsv" | foreach 'bench_case "$1"'
plan bench-manifest "$work/bench/list.tsv" "$work/bench" "$out/bench/ptx" "$out/bench/bench.tsv"

# ---------------------------------------------------------------------------
cp "$src/run.sh" "$out/run.sh"
cp "$src/torch_bench.py" "$src/summarize.py" "$out/py/"
chmod +x "$out/run.sh" "$out/bin/"*
# The relink kit (run.sh's fallback where these programs do not load).
mkdir -p "$out/relink"/{src,cases,include/quantc/Runtime,include/quantc/Formats}
cp "$src/relink.sh" "$out/relink/"
cp "${host_srcs[@]}" "$src/bundle_cases.h" "$work/host/empty_table.cpp" "$work/host/table.cpp" \
  "$out/relink/src/"
cp "$root/include/quantc/Runtime/CudaDriver.h" "$root/include/quantc/Runtime/Npy.h" \
  "$out/relink/include/quantc/Runtime/"
cp "$root/include/quantc/Formats/Format.h" "$root/include/quantc/Formats/Layout.h" \
  "$out/relink/include/quantc/Formats/"
for name in $(cut -f1 "$out/check/cases.tsv" | grep -v '^#'); do
  cp "$work/obj/$name.o" "$out/relink/cases/"
done

# ---------------------------------------------------------------------------
say "verify"
verdict=()
# Every PTX the check program embeds, and every benchmark PTX, through ptxas.
rm -rf "$work/ptx-check"; mkdir -p "$work/ptx-check"
embedded=$(plan elf-ptx "$out/bin/qc-gpu-check" "$work/ptx-check/embedded")
ncases=$(grep -vc '^#' "$out/check/cases.tsv")
[ "$embedded" -eq "$ncases" ] || die "qc-gpu-check embeds $embedded PTX images, expected $ncases"
nbench=$(ls "$out/bench/ptx" | wc -l)
if [ -x "$ptxas" ]; then
  bad=0
  for p in "$work/ptx-check/embedded/"*.ptx "$out/bench/ptx/"*.ptx; do
    "$ptxas" -arch="$chip" "$p" -o "$work/ptx-check/last.cubin" 2> "$work/ptx-check/err" ||
      { echo "ptxas rejects $p:"; head -5 "$work/ptx-check/err"; bad=$((bad + 1)); }
  done
  [ "$bad" -eq 0 ] || die "$bad PTX files rejected by ptxas"
  verdict+=("ptxas -arch=$chip ($("$ptxas" --version | tail -1)) accepts all $embedded embedded + $nbench benchmark PTX files")
else
  verdict+=("ptxas not found: PTX not assembled here")
fi
# No driver here: both programs must say so in one line and exit 1.
for exe in qc-gpu-check qc-gpu-bench; do
  set +e
  msg=$(QUANTC_LIBCUDA="${QUANTC_LIBCUDA:-libcuda.so.1}" "$out/bin/$exe" info 2>&1); rc=$?
  set -e
  if [ "$rc" -eq 0 ]; then
    verdict+=("$exe info: a CUDA device is present here: $msg")
  else
    [ "$rc" -eq 1 ] && [ "$(echo "$msg" | wc -l)" -eq 1 ] ||
      die "$exe info: expected a one-line error and exit 1, got rc=$rc: $msg"
    verdict+=("$exe info without a GPU: exit $rc, '$msg'")
  fi
done
# Runtime dependencies: glibc only (libcuda is opened with dlopen).
deps=$(readelf -d "$out/bin/qc-gpu-check" | grep NEEDED | sed 's/.*\[\(.*\)\]/\1/' | tr '\n' ' ')
for lib in $deps; do
  case "$lib" in libc.so.6|libm.so.6|libgcc_s.so.1|ld-linux-x86-64.so.2) ;;
    *) die "unexpected NEEDED library $lib (expected glibc and libgcc_s only)" ;; esac
done
verdict+=("NEEDED: $deps")
glibc=$(objdump -T "$out/bin/qc-gpu-check" "$out/bin/qc-gpu-bench" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
case "$glibc" in GLIBC_2.3[5-9]|GLIBC_2.[4-9]*) die "the programs need $glibc (expected <= GLIBC_2.34)" ;; esac
verdict+=("newest glibc symbol version required: $glibc")
# The relink kit builds (as run.sh would use it on an older glibc), with g++
# where there is one: a different compiler than the prebuilt programs'.
rm -rf "$work/relink-test"
relink_cxx="$(command -v g++ || echo "$cxx")"
CXX="$relink_cxx" bash "$out/relink/relink.sh" "$work/relink-test" > "$work/relink-test.log" 2>&1 ||
  { cat "$work/relink-test.log"; die "the relink kit does not build"; }
verdict+=("relink kit builds both programs ($(tail -1 "$work/relink-test.log" | sed 's/ into .*//'))")
# The inputs regenerate bit-identically from both builds (the device relies
# on it; the hashes were recorded by the prebuilt qc-gpu-bench).
"$work/relink-test/qc-gpu-bench" gen --cases "$out/check/cases.tsv" --out - > "$work/relink-test/hashes.tsv"
cmp -s "$work/relink-test/hashes.tsv" "$work/check/hashes.tsv" ||
  die "inputs regenerated by the relinked ($relink_cxx) program differ from the recorded hashes"
verdict+=("inputs of all $(wc -l < "$work/check/hashes.tsv") cases regenerate bit-identically (clang-22 and $(basename "$relink_cxx") builds)")
# A dry run of the check program on the small cases: regeneration + hash
# check, expected outputs, calls into the compiled functions (which, without
# a driver, must fail cleanly with the runtime's error and no crash).
set +e
"$out/bin/qc-gpu-check" check --cases "$out/check/cases.tsv" --expected "$out/check/expected" \
  --dry-run 1 --only "x320|simt|rank3" --json "$work/dry-run.json" > "$work/dry-run.log" 2>&1
rc=$?
set -e
ndry=$(grep -c "^FAIL" "$work/dry-run.log" || true)
nclean=$(grep -c "^FAIL .*no CUDA driver" "$work/dry-run.log" || true)
{ [ "$rc" -eq 1 ] && [ "$ndry" -gt 0 ] && [ "$ndry" -eq "$nclean" ]; } ||
  { cat "$work/dry-run.log"; die "dry run of qc-gpu-check: unexpected results"; }
verdict+=("dry run (no driver) of $ndry small check cases: inputs and hashes, expected outputs, calls return cleanly with 'no CUDA driver'")
for name in $(cut -f1 "$out/check/cases.tsv" | grep -v '^#'); do
  [ -s "$out/check/expected/$name.npy" ] || die "missing expected output for $name"
done
verdict+=("$ncases check cases with expected outputs, $nbench benchmark kernels")

size=$(du -sh "$out" | cut -f1)
{
  echo "quantc GPU bundle"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) from $(git -C "$root" rev-parse --short HEAD 2>/dev/null)$(git -C "$root" diff --quiet 2>/dev/null || echo '+uncommitted')"
  echo "chip: $chip"
  echo "lowering: quantc-lower-to-cuda{chip=$chip} -> mlir-translate -> llc -O3"
  echo "size: $size"
  printf 'verified here: %s\n' "${verdict[@]}"
  echo "run on the device (from the repo root): bash build/gpu-bundle/run.sh"
} > "$out/MANIFEST.txt"
cat "$out/MANIFEST.txt"
say "done in $(( $(date +%s) - start )) s: $out ($size)"
