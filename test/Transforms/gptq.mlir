// RUN: rm -rf %t && mkdir -p %t
// RUN: quant-tensor gen --shape 64x32 --seed 1 %t/x32.npy
// RUN: quant-tensor gen --shape 64x16 --seed 2 %t/x16.npy
// RUN: quant-tensor gen --shape 16x4x5x5 --seed 3 %t/conv.npy
// RUN: quant-tensor gen --shape 64x4 --seed 4 %t/x4.npy
// RUN: %python %lit_tools/write_stats.py %t/stats fc1=%t/x32.npy fc_t=%t/x32.npy \
// RUN:   wrong_k=%t/x32.npy no_xtx=%t/x16.npy conv1=%t/conv.npy conv_plain=%t/x4.npy \
// RUN:   --no-xtx no_xtx --patches conv1=2x2
// RUN: quant-opt %s --qc-gptq=stats=%t/stats -split-input-file 2>%t/diagnostics | FileCheck %s
// RUN: FileCheck %s --check-prefix=DIAG < %t/diagnostics
// RUN: quant-opt %s --qc-gptq="stats=%t/stats act-order=true block-size=8" -split-input-file 2>/dev/null \
// RUN:   | FileCheck %s --check-prefix=ACT
// RUN: not quant-opt %s --qc-gptq 2>&1 | FileCheck %s --check-prefix=NOSTATS
// RUN: not quant-opt %s --qc-gptq=stats=%t/nothing 2>&1 | FileCheck %s --check-prefix=NODIR

// An ONNX MatMul weight [K, N] = [32, 4], int4 per output channel (along
// axis 0): GPTQ's codes and scales become a packed [N, K] constant, decoded
// and transposed back to [K, N] for the layer; the fake_quant is gone. The
// layer records the layer output SQNR predicted on the calibration data
// for GPTQ and for round-to-nearest.
// CHECK-LABEL: func @matmul_kn
// CHECK-NOT: qc.fake_quant %{{.*}} as <int4, axis = 0>
// CHECK: %[[P:.*]] = qc.constant dense<{{.*}}> : tensor<80xi8> : !qc.packed<4x32, int4>
// CHECK: %[[D:.*]] = qc.dequantize %[[P]] : !qc.packed<4x32, int4> -> tensor<4x32xf32>
// CHECK: %[[T:.*]] = linalg.transpose ins(%[[D]] : tensor<4x32xf32>) outs(%{{.*}} : tensor<32x4xf32>) permutation = [1, 0]
// CHECK: linalg.matmul {qc.layer_sqnr = [[G:[0-9.]+]] : f64, qc.layer_sqnr_rtn = [[R:[0-9.]+]] : f64, qc.rounding = "gptq"} ins(%{{.*}}, %[[T]] : tensor<64x32xf32>, tensor<32x4xf32>)
// ACT-LABEL: func @matmul_kn
// ACT: qc.rounding = "gptq"
func.func @matmul_kn(%x: tensor<64x32xf32>) -> tensor<64x4xf32> {
  %w = arith.constant dense<[[0.06, -0.07, 0.32, 0.05],
    [-0.27, 0.18, 0.65, 0.47],
    [-0.35, -0.63, -0.31, 0.02],
    [-1.16, 2.50, -0.62, -0.37],
    [-0.27, -0.16, 0.21, 0.52],
    [-0.06, 0.68, -0.33, 0.18],
    [0.45, 0.05, -0.37, -0.46],
    [-0.23, 0.11, -0.50, -0.10],
    [-0.08, 0.27, 0.11, 0.18],
    [-0.33, -0.06, 0.39, 0.75],
    [-0.63, 0.76, 0.67, 0.39],
    [0.13, -0.16, 0.73, 0.98],
    [0.90, 0.66, 0.18, -0.60],
    [-0.00, 0.33, -0.64, 0.20],
    [0.21, 0.35, -0.59, -0.33],
    [-0.22, -0.58, 0.87, -0.25],
    [0.16, -0.13, 0.79, 0.66],
    [0.32, -1.10, 0.03, 0.34],
    [0.50, -0.31, 0.91, -0.66],
    [-0.33, 0.47, 0.02, 1.00],
    [0.09, -0.32, -0.19, -0.55],
    [-0.64, 0.32, 0.29, 0.65],
    [-0.38, 0.84, -0.14, 0.79],
    [-0.22, -0.37, 0.12, 0.52],
    [0.08, -0.29, -0.67, -0.70],
    [0.25, 0.49, -0.08, -0.54],
    [0.44, -0.64, -0.36, 0.31],
    [-1.13, 0.19, -0.29, 0.05],
    [-0.04, 0.10, 0.35, -0.38],
    [0.71, 0.36, 0.42, 0.58],
    [0.39, 0.42, 0.04, -0.71],
    [-0.07, -0.38, -0.71, 0.13]]> : tensor<32x4xf32>
  %wq = qc.fake_quant %w as <int4, axis = 0> : tensor<32x4xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<64x4xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<64x4xf32>) -> tensor<64x4xf32>
  %y = linalg.matmul ins(%x, %wq : tensor<64x32xf32>, tensor<32x4xf32>)
                     outs(%init : tensor<64x4xf32>) -> tensor<64x4xf32> loc("fc1")
  return %y : tensor<64x4xf32>
}

// -----

// A weight already stored [N, K] (Gemm with transB: the importer's
// linalg.transpose follows the fake_quant) in mxfp4 blocks of 32 along K:
// the dequantized [N, K] tensor replaces the fake_quant as it is, the
// importer's transpose stays; the earlier passes' records on the
// fake_quant move to the layer.
// CHECK-LABEL: func @matmul_nk
// CHECK: %[[P:.*]] = qc.constant dense<{{.*}}> : tensor<68xi8> : !qc.packed<4x32, mxfp4>
// CHECK: %[[D:.*]] = qc.dequantize %[[P]] : !qc.packed<4x32, mxfp4> -> tensor<4x32xf32>
// CHECK-NEXT: %{{.*}} = tensor.empty() : tensor<32x4xf32>
// CHECK-NEXT: linalg.transpose ins(%[[D]] : tensor<4x32xf32>) outs(%{{.*}} : tensor<32x4xf32>) permutation = [1, 0]
// CHECK: linalg.matmul {qc.layer_sqnr = {{.*}}, qc.layer_sqnr_rtn = {{.*}}, qc.rounding = "gptq", qc.weight_qsnr = 1.250000e+01 : f64}
func.func @matmul_nk(%x: tensor<64x32xf32>) -> tensor<64x4xf32> {
  %w = arith.constant dense<[[0.06, -0.27, -0.35, -1.16, -0.27, -0.06, 0.45, -0.23, -0.08, -0.33, -0.63, 0.13, 0.90, -0.00, 0.21, -0.22, 0.16, 0.32, 0.50, -0.33, 0.09, -0.64, -0.38, -0.22, 0.08, 0.25, 0.44, -1.13, -0.04, 0.71, 0.39, -0.07],
    [-0.07, 0.18, -0.63, 2.50, -0.16, 0.68, 0.05, 0.11, 0.27, -0.06, 0.76, -0.16, 0.66, 0.33, 0.35, -0.58, -0.13, -1.10, -0.31, 0.47, -0.32, 0.32, 0.84, -0.37, -0.29, 0.49, -0.64, 0.19, 0.10, 0.36, 0.42, -0.38],
    [0.32, 0.65, -0.31, -0.62, 0.21, -0.33, -0.37, -0.50, 0.11, 0.39, 0.67, 0.73, 0.18, -0.64, -0.59, 0.87, 0.79, 0.03, 0.91, 0.02, -0.19, 0.29, -0.14, 0.12, -0.67, -0.08, -0.36, -0.29, 0.35, 0.42, 0.04, -0.71],
    [0.05, 0.47, 0.02, -0.37, 0.52, 0.18, -0.46, -0.10, 0.18, 0.75, 0.39, 0.98, -0.60, 0.20, -0.33, -0.25, 0.66, 0.34, -0.66, 1.00, -0.55, 0.65, 0.79, 0.52, -0.70, -0.54, 0.31, 0.05, -0.38, 0.58, -0.71, 0.13]]> : tensor<4x32xf32>
  %wq = qc.fake_quant %w as <mxfp4> {qc.weight_qsnr = 12.5 : f64} : tensor<4x32xf32>
  %empty_k = tensor.empty() : tensor<32x4xf32>
  %wk = linalg.transpose ins(%wq : tensor<4x32xf32>) outs(%empty_k : tensor<32x4xf32>) permutation = [1, 0]
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<64x4xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<64x4xf32>) -> tensor<64x4xf32>
  %y = linalg.matmul ins(%x, %wk : tensor<64x32xf32>, tensor<32x4xf32>)
                     outs(%init : tensor<64x4xf32>) -> tensor<64x4xf32> loc("fc_t")
  return %y : tensor<64x4xf32>
}

// -----

// No statistics for the layer, statistics for another reduction size, or
// statistics without XᵀX: each layer keeps round-to-nearest (its
// fake_quant), with a warning that names it.
// CHECK-LABEL: func @without_statistics
// CHECK-COUNT-3: qc.fake_quant %{{.*}} as <int4, axis = 0>
// CHECK-NOT: qc.rounding
// DIAG-DAG: warning: {{.*}}qc-gptq: layer 'missing' keeps round-to-nearest: no calibration statistics for 'missing:input'
// DIAG-DAG: warning: {{.*}}qc-gptq: layer 'wrong_k' keeps round-to-nearest: XᵀX of 'wrong_k:input' is 32x32, the layer reduces over 16
// DIAG-DAG: warning: {{.*}}qc-gptq: layer 'no_xtx' keeps round-to-nearest: the statistics of 'no_xtx:input' have no XᵀX
// DIAG-DAG: remark: qc-gptq: 1 layer(s) rounded with GPTQ, 0 kept round-to-nearest; layer output SQNR on the calibration data +{{[0-9.]+}} dB on average
// DIAG-DAG: remark: qc-gptq: no layer rounded with GPTQ (3 kept round-to-nearest)
func.func @without_statistics(%x: tensor<64x16xf32>) -> (tensor<64x4xf32>, tensor<64x4xf32>, tensor<64x4xf32>) {
  %w = arith.constant dense<[[0.5, -1.0, 0.25, 0.75], [1.5, 0.1, -0.3, 0.2], [0.4, 0.6, -0.8, 1.0], [0.9, -0.2, 0.3, 0.1],
                             [0.5, -1.0, 0.25, 0.75], [1.5, 0.1, -0.3, 0.2], [0.4, 0.6, -0.8, 1.0], [0.9, -0.2, 0.3, 0.1],
                             [0.5, -1.0, 0.25, 0.75], [1.5, 0.1, -0.3, 0.2], [0.4, 0.6, -0.8, 1.0], [0.9, -0.2, 0.3, 0.1],
                             [0.5, -1.0, 0.25, 0.75], [1.5, 0.1, -0.3, 0.2], [0.4, 0.6, -0.8, 1.0], [0.9, -0.2, 0.3, 0.1]]> : tensor<16x4xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<64x4xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<64x4xf32>) -> tensor<64x4xf32>
  %wq0 = qc.fake_quant %w as <int4, axis = 0> : tensor<16x4xf32>
  %y0 = linalg.matmul ins(%x, %wq0 : tensor<64x16xf32>, tensor<16x4xf32>)
                      outs(%init : tensor<64x4xf32>) -> tensor<64x4xf32> loc("missing")
  %wq1 = qc.fake_quant %w as <int4, axis = 0> : tensor<16x4xf32>
  %y1 = linalg.matmul ins(%x, %wq1 : tensor<64x16xf32>, tensor<16x4xf32>)
                      outs(%init : tensor<64x4xf32>) -> tensor<64x4xf32> loc("wrong_k")
  %wq2 = qc.fake_quant %w as <int4, axis = 0> : tensor<16x4xf32>
  %y2 = linalg.matmul ins(%x, %wq2 : tensor<64x16xf32>, tensor<16x4xf32>)
                      outs(%init : tensor<64x4xf32>) -> tensor<64x4xf32> loc("no_xtx")
  return %y0, %y1, %y2 : tensor<64x4xf32>, tensor<64x4xf32>, tensor<64x4xf32>
}

// NOSTATS: qc-gptq: stats=DIR is required
// NODIR: qc-gptq: {{.*}}nothing

// -----

// A convolution (the importer's form: weight [out, in, kh, kw] reshaped to
// [groups, out, in, kh, kw]) with int4 per (out, kh, kw) slice along the
// input channels: GPTQ'd as the [2, 2·2·4] matrix against the patch
// Hessian, packed back in the constant's own shape and format (no
// transpose); the reshape to the layer stays.
// CHECK-LABEL: func @conv
// CHECK-NOT: qc.fake_quant
// CHECK: %[[P:.*]] = qc.constant dense<{{.*}}> : tensor<48xi8> : !qc.packed<2x4x2x2, int4, axis = 1>
// CHECK: %[[D:.*]] = qc.dequantize %[[P]] : !qc.packed<2x4x2x2, int4, axis = 1> -> tensor<2x4x2x2xf32>
// CHECK-NEXT: %[[E:.*]] = tensor.expand_shape %[[D]]
// CHECK-NOT: linalg.transpose
// CHECK: linalg.generic {{.*}}ins(%arg0, %[[E]] : tensor<1x1x4x5x5xf32>, tensor<1x2x4x2x2xf32>)
// CHECK-SAME: qc.rounding = "gptq"
// The same convolution with statistics over the input channels alone (no
// patches): it keeps round-to-nearest.
// CHECK-LABEL: func @conv_without_patches
// CHECK: qc.fake_quant %{{.*}} as <int4, axis = 1>
// DIAG-DAG: warning: {{.*}}qc-gptq: layer 'conv_plain' keeps round-to-nearest: XᵀX of 'conv_plain:input' is 4x4, the layer reduces over 16
#conv_x = affine_map<(n, g, m, oh, ow, c, kh, kw) -> (n, g, c, oh + kh, ow + kw)>
#conv_w = affine_map<(n, g, m, oh, ow, c, kh, kw) -> (g, m, c, kh, kw)>
#conv_y = affine_map<(n, g, m, oh, ow, c, kh, kw) -> (n, g, m, oh, ow)>
func.func @conv(%x: tensor<1x1x4x5x5xf32>) -> tensor<1x1x2x4x4xf32> {
  %w = arith.constant dense<[[[[ 2.04, -2.56], [ 0.42, -0.57]], [[-1.36, -0.65], [-6.06, -0.7 ]],
      [[-0.87,  3.32], [ 0.23, -0.35]], [[-0.28, -0.67], [-1.06, -0.39]]],
    [[[ 0.48, -0.24], [ 0.96, -0.2 ]], [[ 0.02,  1.55], [ 0.55, -0.51]],
      [[-0.18,  0.54], [ 1.94, -0.27]], [[-0.24,  1.  ], [-0.89, -0.29]]]]> : tensor<2x4x2x2xf32>
  %wq = qc.fake_quant %w as <int4, axis = 1> : tensor<2x4x2x2xf32>
  %wg = tensor.expand_shape %wq [[0, 1], [2], [3], [4]] output_shape [1, 2, 4, 2, 2] : tensor<2x4x2x2xf32> into tensor<1x2x4x2x2xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<1x1x2x4x4xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x1x2x4x4xf32>) -> tensor<1x1x2x4x4xf32>
  %y = linalg.generic {indexing_maps = [#conv_x, #conv_w, #conv_y],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%x, %wg : tensor<1x1x4x5x5xf32>, tensor<1x2x4x2x2xf32>) outs(%init : tensor<1x1x2x4x4xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x1x2x4x4xf32> loc("conv1")
  return %y : tensor<1x1x2x4x4xf32>
}

func.func @conv_without_patches(%x: tensor<1x1x4x5x5xf32>) -> tensor<1x1x2x4x4xf32> {
  %w = arith.constant dense<0.5> : tensor<2x4x2x2xf32>
  %wq = qc.fake_quant %w as <int4, axis = 1> : tensor<2x4x2x2xf32>
  %wg = tensor.expand_shape %wq [[0, 1], [2], [3], [4]] output_shape [1, 2, 4, 2, 2] : tensor<2x4x2x2xf32> into tensor<1x2x4x2x2xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<1x1x2x4x4xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x1x2x4x4xf32>) -> tensor<1x1x2x4x4xf32>
  %y = linalg.generic {indexing_maps = [#conv_x, #conv_w, #conv_y],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%x, %wg : tensor<1x1x4x5x5xf32>, tensor<1x2x4x2x2xf32>) outs(%init : tensor<1x1x2x4x4xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x1x2x4x4xf32> loc("conv_plain")
  return %y : tensor<1x1x2x4x4xf32>
}
