// qc-clip's weight MSE with calibration statistics: one clip ratio per scale
// group (here per output column of a [K=16, N=2] int4 weight), each weight's
// error weighed by the mean square of the input channel it multiplies
// (Inputs/make_weighted_stats.py).
// RUN: rm -rf %t && %python %S/Inputs/make_weighted_stats.py %t
// RUN: quant-opt %s --qc-clip="stats=%t" | FileCheck %s

// Layer "even" (equal input powers): column 0, whose outlier 8.0 sits in
// row 15, is clamped at 0.96 * 8 = 7.68 in a new constant; column 1 (evenly
// spread values) keeps its 1.0. The per-group choice is exact: the clamped
// constant quantized with minmax scales.
// CHECK-LABEL: func @even
// CHECK: %[[C:.*]] = arith.constant dense<{{.*}}[7.680000e+00, 1.000000e+00]]> : tensor<16x2xf32>
// CHECK: qc.fake_quant %[[C]] as <int4, axis = 0> {qc.clip = "mse per scale group, weighed by input power"

// Layer "fc": input channel 15 carries 10000x the power of the others, so
// clipping the weight it multiplies costs more at the output than the finer
// grid saves: nothing is clamped.
// CHECK-LABEL: func @fc
// CHECK-NOT: 7.680000e+00
// CHECK: qc.fake_quant %{{.*}} as <int4, axis = 0> {qc.weight_qsnr = [[Q:[0-9.]+]] : f64, qc.weight_qsnr_minmax = [[Q]] : f64}
func.func @even(%x: tensor<4x16xf32>) -> tensor<4x2xf32> {
  %w = arith.constant dense<[[0.1, -1.0], [-0.2, -0.8666], [0.3, -0.7333], [-0.4, -0.6],
                             [0.5, -0.4666], [-0.6, -0.3333], [0.7, -0.2], [-0.8, -0.0666],
                             [0.15, 0.0666], [-0.25, 0.2], [0.35, 0.3333], [-0.45, 0.4666],
                             [0.55, 0.6], [-0.65, 0.7333], [0.75, 0.8666], [8.0, 1.0]]> : tensor<16x2xf32>
  %wq = qc.fake_quant %w as <int4, axis = 0> : tensor<16x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x2xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<4x2xf32>) -> tensor<4x2xf32>
  %r = linalg.matmul ins(%x, %wq : tensor<4x16xf32>, tensor<16x2xf32>) outs(%acc : tensor<4x2xf32>) -> tensor<4x2xf32> loc("even")
  return %r : tensor<4x2xf32>
}

func.func @fc(%x: tensor<4x16xf32>) -> tensor<4x2xf32> {
  %w = arith.constant dense<[[0.1, -1.0], [-0.2, -0.8666], [0.3, -0.7333], [-0.4, -0.6],
                             [0.5, -0.4666], [-0.6, -0.3333], [0.7, -0.2], [-0.8, -0.0666],
                             [0.15, 0.0666], [-0.25, 0.2], [0.35, 0.3333], [-0.45, 0.4666],
                             [0.55, 0.6], [-0.65, 0.7333], [0.75, 0.8666], [8.0, 1.0]]> : tensor<16x2xf32>
  %wq = qc.fake_quant %w as <int4, axis = 0> : tensor<16x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x2xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<4x2xf32>) -> tensor<4x2xf32>
  %r = linalg.matmul ins(%x, %wq : tensor<4x16xf32>, tensor<16x2xf32>) outs(%acc : tensor<4x2xf32>) -> tensor<4x2xf32> loc("fc")
  return %r : tensor<4x2xf32>
}
