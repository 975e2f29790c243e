// A function with several inputs and outputs of different dtypes and ranks
// (f32, i64, i1, rank 0) and a strided slice, whose copy goes through
// memrefCopy (aot-mlir.test).
func.func @mixed(%x: tensor<6x8xf32> {qc.name = "x"},
                 %n: tensor<3xi64> {qc.name = "n"},
                 %b: tensor<6x8xi1> {qc.name = "mask"},
                 %r: tensor<f32> {qc.name = "scalar"})
    -> (tensor<3x4xf32> {qc.name = "strided"}, tensor<3xi64> {qc.name = "twice"},
        tensor<6x8xf32> {qc.name = "masked"}, tensor<8x6xf32> {qc.name = "transposed"},
        tensor<f32> {qc.name = "square"}) {
  %s = tensor.extract_slice %x[0, 1] [3, 4] [2, 2] : tensor<6x8xf32> to tensor<3x4xf32>
  %t = arith.addi %n, %n : tensor<3xi64>
  %z = arith.constant dense<0.0> : tensor<6x8xf32>
  %m = arith.select %b, %x, %z : tensor<6x8xi1>, tensor<6x8xf32>
  %e = tensor.empty() : tensor<8x6xf32>
  %tr = linalg.transpose ins(%x : tensor<6x8xf32>) outs(%e : tensor<8x6xf32>) permutation = [1, 0]
  %sq = arith.mulf %r, %r : tensor<f32>
  return %s, %t, %m, %tr, %sq : tensor<3x4xf32>, tensor<3xi64>, tensor<6x8xf32>, tensor<8x6xf32>, tensor<f32>
}
