// A function whose intermediate buffer (the transpose, 256 KiB) is large
// enough for the library runtime to keep between runs (aot-mlir.test).
func.func @big(%x: tensor<256x256xf32> {qc.name = "x"}) -> (tensor<256x256xf32> {qc.name = "y"}) {
  %e = tensor.empty() : tensor<256x256xf32>
  %t = linalg.transpose ins(%x : tensor<256x256xf32>) outs(%e : tensor<256x256xf32>) permutation = [1, 0]
  %e2 = tensor.empty() : tensor<256x256xf32>
  %z = arith.constant 0.0 : f32
  %f = linalg.fill ins(%z : f32) outs(%e2 : tensor<256x256xf32>) -> tensor<256x256xf32>
  %m = linalg.matmul ins(%t, %x : tensor<256x256xf32>, tensor<256x256xf32>) outs(%f : tensor<256x256xf32>) -> tensor<256x256xf32>
  %s = arith.addf %m, %t : tensor<256x256xf32>
  return %s : tensor<256x256xf32>
}
