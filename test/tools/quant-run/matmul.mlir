// linalg.matmul with a zero-filled accumulator, checked against products
// computed by hand:
//   [1 2 3]   [ 1 0]   [ 1+0+6    0+4-3 ]   [ 7   1]
//   [4 5 6] x [ 0 2] = [ 4+0+12   0+10-6] = [16   4]
//             [ 2 -1]

// RUN: %python %lit_tools/quant-run-npy.py clean %t.out
// RUN: %python %lit_tools/quant-run-npy.py save %t.x.npy float32 "[[1, 2, 3], [4, 5, 6]]"
// RUN: %python %lit_tools/quant-run-npy.py save %t.w.npy float32 "[[1, 0], [0, 2], [2, -1]]"
// RUN: quant-run %s --entry matmul --input x=%t.x.npy --input w=%t.w.npy --output-dir %t.out
// RUN: %python %lit_tools/quant-run-npy.py show %t.out/y.npy | FileCheck %s

// CHECK:      y.npy: float32 (2, 2)
// CHECK-NEXT:   7 1
// CHECK-NEXT:   16 4
func.func @matmul(%x: tensor<2x3xf32> {qc.name = "x"}, %w: tensor<3x2xf32> {qc.name = "w"})
    -> (tensor<2x2xf32> {qc.name = "y"}) {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<2x2xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%empty : tensor<2x2xf32>) -> tensor<2x2xf32>
  %y = linalg.matmul ins(%x, %w : tensor<2x3xf32>, tensor<3x2xf32>)
                     outs(%acc : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %y : tensor<2x2xf32>
}

// The same product with the weight transposed first and a constant bias
// broadcast over rows, as an imported ONNX Gemm looks:
// y = x . transpose(wt) + [0.5, -3] = [[7.5, -2], [16.5, 1]].
// RUN: %python %lit_tools/quant-run-npy.py save %t.wt.npy float32 "[[1, 0, 2], [0, 2, -1]]"
// RUN: quant-run %s --entry gemm --input %t.x.npy --input %t.wt.npy --output-dir %t.out
// RUN: %python %lit_tools/quant-run-npy.py show %t.out/0.npy | FileCheck %s --check-prefix=GEMM

// GEMM:      0.npy: float32 (2, 2)
// GEMM-NEXT:   7.5 -2
// GEMM-NEXT:   16.5 1
func.func @gemm(%x: tensor<2x3xf32>, %wt: tensor<2x3xf32>) -> tensor<2x2xf32> {
  %bias = arith.constant dense<[0.5, -3.0]> : tensor<2xf32>
  %zero = arith.constant 0.0 : f32
  %wEmpty = tensor.empty() : tensor<3x2xf32>
  %w = linalg.transpose ins(%wt : tensor<2x3xf32>) outs(%wEmpty : tensor<3x2xf32>) permutation = [1, 0]
  %empty = tensor.empty() : tensor<2x2xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%empty : tensor<2x2xf32>) -> tensor<2x2xf32>
  %mm = linalg.matmul ins(%x, %w : tensor<2x3xf32>, tensor<3x2xf32>)
                      outs(%acc : tensor<2x2xf32>) -> tensor<2x2xf32>
  %biasEmpty = tensor.empty() : tensor<2x2xf32>
  %b = linalg.broadcast ins(%bias : tensor<2xf32>) outs(%biasEmpty : tensor<2x2xf32>) dimensions = [0]
  %y = arith.addf %mm, %b : tensor<2x2xf32>
  return %y : tensor<2x2xf32>
}
