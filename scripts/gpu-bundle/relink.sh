#!/usr/bin/env bash
# Rebuilds the bundle's two programs on the machine that runs them, from the
# shipped sources and the check functions' objects (plain C-ABI code made by
# llc, which need nothing but the mgpu* entry points): the fallback run.sh
# uses when the prebuilt programs do not load (a glibc older than 2.34).
#
#   bash relink.sh OUTDIR      (uses $CXX, else c++ / g++ / clang++)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$1"
mkdir -p "$out/obj"
cxx="${CXX:-}"
for c in c++ g++ clang++; do
  [ -n "$cxx" ] && break
  command -v "$c" > /dev/null && cxx="$c"
done
[ -n "$cxx" ] || { echo "relink.sh: no C++ compiler" >&2; exit 1; }
flags=(-std=c++17 -O2 -fno-fast-math -ffp-contract=off -fPIC -I"$here/include" -I"$here/src")
pids=()
for f in "$here"/src/*.cpp; do
  "$cxx" "${flags[@]}" -c "$f" -o "$out/obj/$(basename "${f%.cpp}").o" & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
host=("$out/obj/bundle_main.o" "$out/obj/CudaDriver.o" "$out/obj/Npy.o" "$out/obj/Format.o" "$out/obj/Layout.o")
"$cxx" -static-libstdc++ -o "$out/qc-gpu-bench" "${host[@]}" "$out/obj/empty_table.o" -ldl -lpthread -lm
"$cxx" -static-libstdc++ -o "$out/qc-gpu-check" "${host[@]}" "$out/obj/table.o" "$here"/cases/*.o -ldl -lpthread -lm
echo "relinked with $("$cxx" --version | head -1) into $out"
