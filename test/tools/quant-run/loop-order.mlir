// The CPU pipeline reorders loops so that the innermost one walks the
// output's last dimension (matmul as i, k, j). Each output element must still
// add its terms in order k = 0, 1, ...: results are compared bit for bit with
// NumPy accumulating one k at a time in f32 (a multiply and an add per term:
// --fp-contract=false; by default the host's FMA rounds once).

// RUN: %python %lit_tools/quant-run-npy.py clean %t.out
// RUN: %python %lit_tools/quant-run-npy.py save %t.a.npy float32 "np.random.default_rng(1).standard_normal((19, 37))"
// RUN: %python %lit_tools/quant-run-npy.py save %t.b.npy float32 "np.random.default_rng(2).standard_normal((37, 23))"
// RUN: quant-run %s --fp-contract=false --entry matmul --input %t.a.npy --input %t.b.npy --output-dir %t.out
// RUN: %python %lit_tools/quant-run-npy.py same %t.out/0.npy "sum((load('%t.a.npy')[:, k:k+1] * load('%t.b.npy')[k:k+1, :] for k in range(37)), np.zeros((19, 23), np.float32))" | FileCheck %s --check-prefix=MATMUL
// MATMUL: same: 0.npy
func.func @matmul(%a: tensor<19x37xf32>, %b: tensor<37x23xf32>) -> tensor<19x23xf32> {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<19x23xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%empty : tensor<19x23xf32>) -> tensor<19x23xf32>
  %c = linalg.matmul ins(%a, %b : tensor<19x37xf32>, tensor<37x23xf32>)
                     outs(%acc : tensor<19x23xf32>) -> tensor<19x23xf32>
  return %c : tensor<19x23xf32>
}

// Batched, with an accumulator that is an input (C + A B).
// RUN: %python %lit_tools/quant-run-npy.py save %t.ba.npy float32 "np.random.default_rng(3).standard_normal((3, 5, 9))"
// RUN: %python %lit_tools/quant-run-npy.py save %t.bb.npy float32 "np.random.default_rng(4).standard_normal((3, 9, 7))"
// RUN: %python %lit_tools/quant-run-npy.py save %t.bc.npy float32 "np.random.default_rng(5).standard_normal((3, 5, 7))"
// RUN: quant-run %s --fp-contract=false --entry batch_matmul --input %t.ba.npy --input %t.bb.npy --input %t.bc.npy --output-dir %t.out
// RUN: %python %lit_tools/quant-run-npy.py same %t.out/0.npy "sum((load('%t.ba.npy')[:, :, k:k+1] * load('%t.bb.npy')[:, k:k+1, :] for k in range(9)), load('%t.bc.npy'))" | FileCheck %s --check-prefix=BATCH
// BATCH: same: 0.npy
func.func @batch_matmul(%a: tensor<3x5x9xf32>, %b: tensor<3x9x7xf32>, %c: tensor<3x5x7xf32>) -> tensor<3x5x7xf32> {
  %r = linalg.batch_matmul ins(%a, %b : tensor<3x5x9xf32>, tensor<3x9x7xf32>)
                           outs(%c : tensor<3x5x7xf32>) -> tensor<3x5x7xf32>
  return %r : tensor<3x5x7xf32>
}

// NCHW convolution (ONNX's layout): the inner loop becomes the output width,
// reading the input at ow + kw. Small integers keep every sum exact, so the
// check does not depend on the order of the filter taps.
// RUN: %python %lit_tools/quant-run-npy.py save %t.img.npy float32 "np.random.default_rng(6).integers(-4, 5, (1, 2, 5, 6))"
// RUN: %python %lit_tools/quant-run-npy.py save %t.flt.npy float32 "np.random.default_rng(7).integers(-3, 4, (3, 2, 2, 3))"
// RUN: quant-run %s --fp-contract=false --entry conv --input %t.img.npy --input %t.flt.npy --output-dir %t.out
// RUN: %python %lit_tools/quant-run-npy.py same %t.out/0.npy "np.einsum('nchwij,fcij->nfhw', np.lib.stride_tricks.sliding_window_view(load('%t.img.npy'), (2, 3), axis=(2, 3)), load('%t.flt.npy')).astype(np.float32)" | FileCheck %s --check-prefix=CONV
// CONV: same: 0.npy
func.func @conv(%x: tensor<1x2x5x6xf32>, %w: tensor<3x2x2x3xf32>) -> tensor<1x3x4x4xf32> {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<1x3x4x4xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%x, %w : tensor<1x2x5x6xf32>, tensor<3x2x2x3xf32>)
      outs(%acc : tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
  return %y : tensor<1x3x4x4xf32>
}
