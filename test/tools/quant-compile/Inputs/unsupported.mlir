// An op the CPU pipeline has no lowering for (aot-errors.test; line 7, column
// 8: MLIR 22 has no LLVM lowering of arith.scaling_truncf): quant-compile names it and writes nothing.
func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  %c0 = arith.constant 0 : index
  %s = arith.constant 1.0 : f8E8M0FNU
  %v = tensor.extract %x[%c0] : tensor<4xf32>
  %t = arith.scaling_truncf %v, %s : f32, f8E8M0FNU to f8E4M3FN
  %w = arith.scaling_extf %t, %s : f8E4M3FN, f8E8M0FNU to f32
  %y = tensor.insert %w into %x[%c0] : tensor<4xf32>
  return %y : tensor<4xf32>
}
