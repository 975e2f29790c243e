// REQUIRES: cpu-x86-64-v3
// By default (--fp-contract=true) a float matmul on a CPU with FMA rounds
// each term once: acc = fma(a_ik, b_kj, acc) for k = 0, 1, ... in order, bit
// for bit against NumPy computing a * b + acc exactly in f64 (the product of
// two f32 is exact there) and rounding to f32 once per term. With
// --fp-contract=false the same matmul is a multiply and an add per term
// (loop-order.mlir).

// RUN: %python %lit_tools/quant-run-npy.py clean %t.out
// RUN: %python %lit_tools/quant-run-npy.py save %t.a.npy float32 "np.random.default_rng(1).standard_normal((19, 37))"
// RUN: %python %lit_tools/quant-run-npy.py save %t.b.npy float32 "np.random.default_rng(2).standard_normal((37, 70))"
// RUN: quant-run %s --entry matmul --input %t.a.npy --input %t.b.npy --output-dir %t.out
// RUN: %python %lit_tools/quant-run-npy.py same %t.out/0.npy "__import__('functools').reduce(lambda acc, k: (acc.astype(np.float64) + load('%t.a.npy')[:, k:k+1].astype(np.float64) * load('%t.b.npy')[k:k+1, :].astype(np.float64)).astype(np.float32), range(37), np.zeros((19, 70), np.float32))" | FileCheck %s --check-prefix=FMA
// FMA: same: 0.npy
// The two-rounding sum is a different result here, so the check above can tell them apart.
// RUN: quant-run %s --fp-contract=false --entry matmul --input %t.a.npy --input %t.b.npy --output-dir %t.out
// RUN: not %python %lit_tools/quant-run-npy.py same %t.out/0.npy "__import__('functools').reduce(lambda acc, k: (acc.astype(np.float64) + load('%t.a.npy')[:, k:k+1].astype(np.float64) * load('%t.b.npy')[k:k+1, :].astype(np.float64)).astype(np.float32), range(37), np.zeros((19, 70), np.float32))" | FileCheck %s --check-prefix=TWO
// TWO: {{[0-9]+}} of 1330 elements differ
func.func @matmul(%a: tensor<19x37xf32>, %b: tensor<37x70xf32>) -> tensor<19x70xf32> {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<19x70xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%empty : tensor<19x70xf32>) -> tensor<19x70xf32>
  %c = linalg.matmul ins(%a, %b : tensor<19x37xf32>, tensor<37x70xf32>)
                     outs(%acc : tensor<19x70xf32>) -> tensor<19x70xf32>
  return %c : tensor<19x70xf32>
}
