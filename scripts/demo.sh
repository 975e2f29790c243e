#!/usr/bin/env bash
# The main job: installs dependencies, builds quantc, and shows the format
# library and the compiler path on a generated tensor:
#   1. QSNR and storage cost of every named format on a seeded 256x4096
#      standard-normal tensor (the INT v.s. FP study's setting);
#   2. the same with 8 outlier channels scaled x50, without and with a
#      Hadamard rotation;
#   3. qc.fake_quant / qc.quantize + qc.dequantize compiled by
#      qc-expand-formats and run by the JIT (quant-run), compared bit for bit
#      with the format library;
#   4. an ONNX model end to end: a small MLP (test/lit-tools/make_mlp_onnx.py)
#      run in float, then calibrated, quantized and compiled to a shared
#      library per recipe (quant-compile -o model.so --report), run by
#      quant-run, its output SQNR against float printed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${QUANTC_BUILD_DIR:-$root/build}"
"$root/scripts/build.sh" >/dev/null

bin="$build/bin"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
formats="mxint8,mxfp8_e4m3,mxfp8_e5m2,mxfp6_e2m3,mxfp6_e3m2,mxfp4,nvfp4,nvint4,int4_g32,int4_g128,int8,e3m2"

echo "== 1. QSNR on a seeded 256x4096 standard-normal tensor"
"$bin/quant-tensor" gen --shape 256x4096 --seed 0 "$work/x.npy"
"$bin/quant-tensor" qsnr --formats "$formats" "$work/x.npy"

echo
echo "== 2. With 8 outlier channels x50: plain, then Hadamard-rotated rows"
"$bin/quant-tensor" gen --shape 256x4096 --seed 0 --outlier-channels 8 --outlier-scale 50 "$work/xo.npy"
"$bin/quant-tensor" qsnr --formats mxfp4,nvfp4,nvint4,int4_g32 "$work/xo.npy"
"$bin/quant-tensor" qsnr --formats mxfp4,nvfp4,nvint4,int4_g32 --hadamard "$work/xo.npy"

echo
echo "== 3. Compiled path: qc-expand-formats + JIT vs the format library"
"$bin/quant-tensor" gen --shape 64x256 --seed 1 "$work/small.npy"
for f in mxfp4 nvfp4 mxfp6_e3m2 mxfp8_e4m3 mxint8 int4_g32; do
  cat >"$work/f.mlir" <<MLIR
func.func @main(%x: tensor<64x256xf32>) -> tensor<64x256xf32> {
  %p = qc.quantize %x : tensor<64x256xf32> -> !qc.packed<64x256, $f>
  %y = qc.dequantize %p : !qc.packed<64x256, $f> -> tensor<64x256xf32>
  return %y : tensor<64x256xf32>
}
MLIR
  rm -rf "$work/out"
  "$bin/quant-run" "$work/f.mlir" --entry main --input "$work/small.npy" --output-dir "$work/out" >/dev/null
  "$bin/quant-tensor" fake-quant --format "$f" "$work/small.npy" "$work/ref.npy"
  printf '%-12s compiled vs library: %s\n' "$f" \
    "$("$bin/quant-tensor" compare --exact "$work/out/0.npy" "$work/ref.npy")"
done

echo
echo "== 4. An ONNX model end to end: float, then quantized shared libraries"
/usr/bin/python3 "$root/test/lit-tools/make_mlp_onnx.py" "$work/mlp.onnx" --input "$work/mlp-x.npy"
mkdir -p "$work/calib/0"
cp "$work/mlp-x.npy" "$work/calib/0/x.npy"
"$bin/quant-run" "$work/mlp.onnx" --input "x=$work/mlp-x.npy" --output-dir "$work/float" >/dev/null
for recipe in int8 w8a8-mxint8 w4a16-nvfp4 w4a8-int4 w4a4-nvint4; do
  "$bin/quant-compile" "$work/mlp.onnx" --recipe "$recipe" --calib "$work/calib" --quiet \
    --report "$work/$recipe.md" -o "$work/$recipe.so"
  "$bin/quant-run" "$work/$recipe.so" --input "x=$work/mlp-x.npy" --output-dir "$work/$recipe" >/dev/null
  printf '%-14s %6s KiB library: %s\n' "$recipe" "$(( $(stat -c %s "$work/$recipe.so") / 1024 ))" \
    "$(/usr/bin/python3 "$root/test/lit-tools/sqnr.py" "$work/float/y.npy" "$work/$recipe/y.npy" --label 'output vs float')"
done
echo "-- the int8 report (quant-compile --report):"
sed -n '/^## Layers/,/^## Compile/p' "$work/int8.md" | grep '^|'
