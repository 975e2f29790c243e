// math ops through LLVM intrinsics, expansions (tanh) and libm (erf), at
// points where the result is exact in f32, so that the expected values hold
// for any correct implementation. Inputs are arguments, not constants, so
// that nothing is folded at compile time.

// RUN: %python %lit_tools/quant-run-npy.py clean %t.out
// RUN: %python %lit_tools/quant-run-npy.py save %t.x.npy float32 "[0, 4, -2.25, 100]"
// RUN: %python %lit_tools/quant-run-npy.py save %t.y.npy float32 "[0, 200, -200, -np.inf]"
// RUN: quant-run %s --entry unary --input x=%t.x.npy --input y=%t.y.npy --output-dir %t.out
// RUN: %python %lit_tools/quant-run-npy.py show %t.out/exp.npy %t.out/tanh.npy %t.out/erf.npy %t.out/sqrt_abs.npy %t.out/floor.npy %t.out/rsqrt.npy | FileCheck %s

// CHECK:      exp.npy: float32 (4)
// CHECK-NEXT:   1 inf 0 0
// CHECK-NEXT: tanh.npy: float32 (4)
// CHECK-NEXT:   0 1 -1 -1
// CHECK-NEXT: erf.npy: float32 (4)
// CHECK-NEXT:   0 1 -1 -1
// CHECK-NEXT: sqrt_abs.npy: float32 (4)
// CHECK-NEXT:   0 2 1.5 10
// CHECK-NEXT: floor.npy: float32 (4)
// CHECK-NEXT:   0 4 -3 100
// CHECK-NEXT: rsqrt.npy: float32 (4)
// CHECK-NEXT:   inf 0.5 nan 0.1
func.func @unary(%x: tensor<4xf32> {qc.name = "x"}, %y: tensor<4xf32> {qc.name = "y"})
    -> (tensor<4xf32> {qc.name = "exp"}, tensor<4xf32> {qc.name = "tanh"},
        tensor<4xf32> {qc.name = "erf"}, tensor<4xf32> {qc.name = "sqrt_abs"},
        tensor<4xf32> {qc.name = "floor"}, tensor<4xf32> {qc.name = "rsqrt"}) {
  %e = math.exp %y : tensor<4xf32>
  %t = math.tanh %y : tensor<4xf32>
  %r = math.erf %y : tensor<4xf32>
  %a = math.absf %x : tensor<4xf32>
  %s = math.sqrt %a : tensor<4xf32>
  %f = math.floor %x : tensor<4xf32>
  %q = math.rsqrt %x : tensor<4xf32>
  return %e, %t, %r, %s, %f, %q
      : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
}
