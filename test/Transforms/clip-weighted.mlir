// qc-clip's weight MSE with calibration statistics: each weight's error is
// weighed by the mean square of the input channel it multiplies. Column 0 of
// the [K=16, N=2] weight has its outlier (8.0) in row 15; unweighted, the
// MSE-optimal ratio clamps it to 7.68 (as in clip.mlir's @outlier). When
// input channel 15 carries 10000x the power of the others (the statistics of
// Inputs/make_weighted_stats.py), clipping that weight costs more at the
// output than the finer grid saves: the column stays unclipped.
// RUN: rm -rf %t && %python %S/Inputs/make_weighted_stats.py %t
// RUN: quant-opt %s --qc-clip | FileCheck %s --check-prefix=PLAIN
// RUN: quant-opt %s --qc-clip="stats=%t" | FileCheck %s --check-prefix=WEIGHED
// PLAIN: arith.constant dense<{{.*}}[7.680000e+00, 1.000000e+00]]> : tensor<16x2xf32>
// PLAIN: qc.fake_quant %{{.*}} as <int4, axis = 0> {qc.clip = "mse per scale group"
// WEIGHED-NOT: 7.680000e+00
// WEIGHED: qc.fake_quant %{{.*}} as <int4, axis = 0> {qc.weight_qsnr = [[Q:[0-9.]+]] : f64, qc.weight_qsnr_minmax = [[Q]] : f64}
func.func @layer(%x: tensor<4x16xf32>) -> tensor<4x2xf32> {
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
