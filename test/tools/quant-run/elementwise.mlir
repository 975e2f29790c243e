// Elementwise f32 arithmetic, on whole tensors and in a linalg.generic, with
// inputs chosen so that every expected value is exact in f32.

// RUN: %python %lit_tools/quant-run-npy.py clean %t.out
// RUN: %python %lit_tools/quant-run-npy.py save %t.a.npy float32 "[[1.5, -2, 0.25], [8, 3, -0.5]]"
// RUN: %python %lit_tools/quant-run-npy.py save %t.b.npy float32 "[[0.5, 4, -0.75], [-2, 0.125, 2]]"
// RUN: quant-run %s --entry arith --input a=%t.a.npy --input b=%t.b.npy --output-dir %t.out
// RUN: %python %lit_tools/quant-run-npy.py show %t.out/sum.npy %t.out/product.npy %t.out/quotient.npy %t.out/max.npy | FileCheck %s --check-prefix=ARITH

// ARITH:      sum.npy: float32 (2, 3)
// ARITH-NEXT:   2 2 -0.5
// ARITH-NEXT:   6 3.125 1.5
// ARITH-NEXT: product.npy: float32 (2, 3)
// ARITH-NEXT:   0.75 -8 -0.1875
// ARITH-NEXT:   -16 0.375 -1
// ARITH-NEXT: quotient.npy: float32 (2, 3)
// ARITH-NEXT:   3 -0.5 -0.33333334
// ARITH-NEXT:   -4 24 -0.25
// ARITH-NEXT: max.npy: float32 (2, 3)
// ARITH-NEXT:   1.5 4 0.25
// ARITH-NEXT:   8 3 2
func.func @arith(%a: tensor<2x3xf32> {qc.name = "a"}, %b: tensor<2x3xf32> {qc.name = "b"})
    -> (tensor<2x3xf32> {qc.name = "sum"}, tensor<2x3xf32> {qc.name = "product"},
        tensor<2x3xf32> {qc.name = "quotient"}, tensor<2x3xf32> {qc.name = "max"}) {
  %sum = arith.addf %a, %b : tensor<2x3xf32>
  %product = arith.mulf %a, %b : tensor<2x3xf32>
  %quotient = arith.divf %a, %b : tensor<2x3xf32>
  %max = arith.maximumf %a, %b : tensor<2x3xf32>
  return %sum, %product, %quotient, %max
      : tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>
}

// y = relu(a * b - 1) + sqrt(|a|) in one generic; math on exact squares.
// RUN: %python %lit_tools/quant-run-npy.py save %t.c.npy float32 "[4, -9, 0.25, 16]"
// RUN: %python %lit_tools/quant-run-npy.py save %t.d.npy float32 "[0.5, 1, 8, -2]"
// RUN: quant-run %s --entry fused --input %t.c.npy --input %t.d.npy --output-dir %t.out
// RUN: %python %lit_tools/quant-run-npy.py show %t.out/0.npy | FileCheck %s --check-prefix=FUSED

// FUSED:      0.npy: float32 (4)
// FUSED-NEXT:   3 3 1.5 4
#map = affine_map<(d0) -> (d0)>
func.func @fused(%a: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<4xf32> {
  %init = tensor.empty() : tensor<4xf32>
  %y = linalg.generic {indexing_maps = [#map, #map, #map], iterator_types = ["parallel"]}
      ins(%a, %b : tensor<4xf32>, tensor<4xf32>) outs(%init : tensor<4xf32>) {
  ^bb0(%x: f32, %w: f32, %out: f32):
    %one = arith.constant 1.0 : f32
    %zero = arith.constant 0.0 : f32
    %p = arith.mulf %x, %w : f32
    %m = arith.subf %p, %one : f32
    %r = arith.maximumf %m, %zero : f32
    %abs = math.absf %x : f32
    %s = math.sqrt %abs : f32
    %sum = arith.addf %r, %s : f32
    linalg.yield %sum : f32
  } -> tensor<4xf32>
  return %y : tensor<4xf32>
}
