// An op the CPU pipeline has no lowering for (aot-errors.test): quant-compile
// names it and writes nothing.
func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  %e = tensor.empty() : tensor<4xf32>
  // Line 7, column 8 below is what the error names.

  %y = linalg.softmax dimension(0) ins(%x : tensor<4xf32>) outs(%e : tensor<4xf32>) -> tensor<4xf32>
  return %y : tensor<4xf32>
}
