// Input of expand-formats-matmul.test.
func.func @main(%x: tensor<2x3x64xf32>, %w: tensor<8x64xf32>) -> (tensor<2x3x8xf32>, tensor<2x3x8xf32>) {
  %p = qc.quantize %w : tensor<8x64xf32> -> !qc.packed<8x64, nvfp4>
  %y = qc.matmul %x, %p : tensor<2x3x64xf32>, !qc.packed<8x64, nvfp4> -> tensor<2x3x8xf32>
  %z = qc.matmul %x, %p act <mxint8> : tensor<2x3x64xf32>, !qc.packed<8x64, nvfp4> -> tensor<2x3x8xf32>
  return %y, %z : tensor<2x3x8xf32>, tensor<2x3x8xf32>
}
