// RUN: quant-opt %s --qc-clip -split-input-file | FileCheck %s
// RUN: quant-opt %s --qc-clip=weights=minmax -split-input-file | FileCheck %s --check-prefix=MINMAX
// RUN: not quant-opt %s --qc-clip=activations=percentile 2>&1 | FileCheck %s --check-prefix=ACTS

// One outlier among small values: at 4 bits the MSE-optimal ratio clips the
// outlier a little (its own error dominates the sum, so not much); the QSNR
// reached (14.93 dB) is recorded next to minmax's (14.75 dB). Without
// calibration statistics the tensor gets one ratio, in its format
// (clip-weighted.mlir: one per scale group, with statistics).
// CHECK-LABEL: func @outlier
// CHECK: qc.fake_quant %{{.*}} as <int4, clip = 0.96> {qc.weight_qsnr = 14.93{{[0-9]*}} : f64, qc.weight_qsnr_minmax = 14.75{{[0-9]*}} : f64}
// MINMAX-LABEL: func @outlier
// MINMAX: qc.fake_quant %{{.*}} as <int4> : tensor<1x16xf32>
func.func @outlier() -> tensor<1x16xf32> {
  %w = arith.constant dense<[[0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8,
                              0.15, -0.25, 0.35, -0.45, 0.55, -0.65, 0.75, 8.0]]> : tensor<1x16xf32>
  %0 = qc.fake_quant %w as <int4> : tensor<1x16xf32>
  return %0 : tensor<1x16xf32>
}

// -----

// A per-tensor weight scale has one group: the ratio goes into the format.
// CHECK-LABEL: func @per_tensor
// CHECK: qc.fake_quant %{{.*}} as <int4, granularity = tensor, clip = 0.96>
func.func @per_tensor() -> tensor<1x16xf32> {
  %w = arith.constant dense<[[0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8,
                              0.15, -0.25, 0.35, -0.45, 0.55, -0.65, 0.75, 8.0]]> : tensor<1x16xf32>
  %0 = qc.fake_quant %w as <int4, granularity = tensor> : tensor<1x16xf32>
  return %0 : tensor<1x16xf32>
}

// -----

// Evenly spread values: clipping only adds error, the ratio stays 1.
// CHECK-LABEL: func @uniform
// CHECK: qc.fake_quant %{{.*}} as <int8> {qc.weight_qsnr = [[Q:[0-9.]+]] : f64, qc.weight_qsnr_minmax = [[Q]] : f64} : tensor<1x16xf32>
func.func @uniform() -> tensor<1x16xf32> {
  %w = arith.constant dense<[[-1.0, -0.8666, -0.7333, -0.6, -0.4666, -0.3333, -0.2, -0.0666,
                              0.0666, 0.2, 0.3333, 0.4666, 0.6, 0.7333, 0.8666, 1.0]]> : tensor<1x16xf32>
  %0 = qc.fake_quant %w as <int8> : tensor<1x16xf32>
  return %0 : tensor<1x16xf32>
}

// -----

// A ratio set explicitly (a recipe override) is kept; activations are left
// alone.
// CHECK-LABEL: func @explicit_and_activation
// CHECK: qc.fake_quant %{{.*}} as <int4, clip = 0.5> : tensor<1x16xf32>
// CHECK: qc.fake_quant %arg0 as <int8> : tensor<1x16xf32>
func.func @explicit_and_activation(%x: tensor<1x16xf32>) -> (tensor<1x16xf32>, tensor<1x16xf32>) {
  %w = arith.constant dense<1.0> : tensor<1x16xf32>
  %0 = qc.fake_quant %w as <int4, clip = 0.5> : tensor<1x16xf32>
  %1 = qc.fake_quant %x as <int8> : tensor<1x16xf32>
  return %0, %1 : tensor<1x16xf32>, tensor<1x16xf32>
}

// ACTS: qc-clip: activations=percentile needs calibration statistics
