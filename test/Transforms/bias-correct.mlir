// qc-bias-correct: the bias of a quantized layer absorbs the mean output
// shift (Q(W) − W)·E[x], E[x] the calibration means of its input channels
// (Inputs/bias_correct_stats.py: [1, 2, -1, 0.5] for the linear layers,
// [2, -1] for the convolution).
// RUN: rm -rf %t && %python %S/Inputs/bias_correct_stats.py %t
// RUN: quant-opt %s --qc-bias-correct="stats=%t" 2>%t.log | FileCheck %s
// RUN: FileCheck %s --check-prefix=DIAG < %t.log
// RUN: quant-opt %s --qc-bias-correct="stats=%t add-bias=true" 2>%t.add.log | FileCheck %s --check-prefix=ADD
// RUN: FileCheck %s --check-prefix=ADD-DIAG < %t.add.log
// RUN: quant-opt %s --qc-bias-correct="stats=%t record=true" 2>&1 | FileCheck %s --check-prefix=RECORD
// RUN: not quant-opt %s --qc-bias-correct 2>&1 | FileCheck %s --check-prefix=NOSTATS
// RUN: not quant-opt %s --qc-bias-correct="stats=%t/missing" 2>&1 | FileCheck %s --check-prefix=MISSING

// The int4 weight [K=4, N=2], one scale per output column (axis 0): column
// 0 has amax 7 (scale 1), column 1 amax 3.5 (scale 0.5).
//   column 0: [7, 2.25, -1.25, 0.75]    -> [7, 2, -1, 1],       Q−W = [0, -0.25, 0.25, 0.25]
//   column 1: [3.5, -1.125, 0.125, 2.375] -> [3.5, -1, 0, 2.5], Q−W = [0, 0.125, -0.125, 0.125]
// δ = (Q−W)ᵀ·[1, 2, -1, 0.5] = [-0.5 - 0.25 + 0.125, 0.25 + 0.125 + 0.0625]
//   = [-0.625, 0.4375]; the bias [0.5, -0.25] becomes [1.125, -0.6875].

// MatMul + Add of a constant (the ONNX importer's form).
// CHECK-LABEL: func @add
// CHECK: %[[B:.*]] = arith.constant dense<[1.125000e+00, -6.875000e-01]> : tensor<2xf32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[B]] : tensor<3x2xf32>, tensor<2xf32>)
// CHECK-NOT: 5.000000e-01, -2.500000e-01
func.func @add(%x: tensor<3x4xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[7.0, 3.5], [2.25, -1.125], [-1.25, 0.125], [0.75, 2.375]]> : tensor<4x2xf32>
  %b = arith.constant dense<[0.5, -0.25]> : tensor<2xf32>
  %wq = qc.fake_quant %w as <int4, axis = 0> : tensor<4x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x2xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<3x2xf32>) -> tensor<3x2xf32>
  %y = linalg.matmul ins(%x, %wq : tensor<3x4xf32>, tensor<4x2xf32>) outs(%acc : tensor<3x2xf32>) -> tensor<3x2xf32> loc("add")
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%y, %b : tensor<3x2xf32>, tensor<2xf32>) outs(%e : tensor<3x2xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %s = arith.addf %a, %c : f32
    linalg.yield %s : f32
  } -> tensor<3x2xf32>
  return %r : tensor<3x2xf32>
}

// The bias broadcast into the layer's init (the importer's Conv form).
// CHECK-LABEL: func @init
// CHECK: %[[B:.*]] = arith.constant dense<[1.125000e+00, -6.875000e-01]> : tensor<2xf32>
// CHECK: linalg.broadcast ins(%[[B]] : tensor<2xf32>)
func.func @init(%x: tensor<3x4xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[7.0, 3.5], [2.25, -1.125], [-1.25, 0.125], [0.75, 2.375]]> : tensor<4x2xf32>
  %b = arith.constant dense<[0.5, -0.25]> : tensor<2xf32>
  %wq = qc.fake_quant %w as <int4, axis = 0> : tensor<4x2xf32>
  %e = tensor.empty() : tensor<3x2xf32>
  %acc = linalg.broadcast ins(%b : tensor<2xf32>) outs(%e : tensor<3x2xf32>) dimensions = [0]
  %y = linalg.matmul ins(%x, %wq : tensor<3x4xf32>, tensor<4x2xf32>) outs(%acc : tensor<3x2xf32>) -> tensor<3x2xf32> loc("init")
  return %y : tensor<3x2xf32>
}

// Gemm(transB=1): the weight stored [N, K] and transposed on its way; the
// bias [1, 2] reshaped on its way and added first (C + A·B).
// CHECK-LABEL: func @gemm
// CHECK: %[[B:.*]] = arith.constant dense<{{\[}}[1.125000e+00, -6.875000e-01]]> : tensor<1x2xf32>
// CHECK: %[[R:.*]] = tensor.collapse_shape %[[B]]
// CHECK: linalg.generic {{.*}} ins(%[[R]], %{{.*}} : tensor<2xf32>, tensor<3x2xf32>)
func.func @gemm(%x: tensor<3x4xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[7.0, 2.25, -1.25, 0.75], [3.5, -1.125, 0.125, 2.375]]> : tensor<2x4xf32>
  %b = arith.constant dense<[[0.5, -0.25]]> : tensor<1x2xf32>
  %wq = qc.fake_quant %w as <int4> : tensor<2x4xf32>
  %te = tensor.empty() : tensor<4x2xf32>
  %wt = linalg.transpose ins(%wq : tensor<2x4xf32>) outs(%te : tensor<4x2xf32>) permutation = [1, 0]
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x2xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<3x2xf32>) -> tensor<3x2xf32>
  %y = linalg.matmul ins(%x, %wt : tensor<3x4xf32>, tensor<4x2xf32>) outs(%acc : tensor<3x2xf32>) -> tensor<3x2xf32> loc("gemm")
  %bc = tensor.collapse_shape %b [[0, 1]] : tensor<1x2xf32> into tensor<2xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%bc, %y : tensor<2xf32>, tensor<3x2xf32>) outs(%e : tensor<3x2xf32>) {
  ^bb0(%c: f32, %a: f32, %o: f32):
    %s = arith.addf %c, %a : f32
    linalg.yield %s : f32
  } -> tensor<3x2xf32>
  return %r : tensor<3x2xf32>
}

// No bias: the output stays as it is (a remark names the layer); with
// add-bias=true an add of −δ follows the layer.
// CHECK-LABEL: func @nobias
// CHECK: %[[Y:.*]] = linalg.matmul
// CHECK-NEXT: return %[[Y]]
// ADD-LABEL: func @nobias
// ADD: %[[Y:.*]] = linalg.matmul
// ADD-NEXT: %[[D:.*]] = arith.constant dense<[6.250000e-01, -4.375000e-01]> : tensor<2xf32>
// ADD: %[[S:.*]] = linalg.generic {{.*}} ins(%[[Y]], %[[D]] : tensor<3x2xf32>, tensor<2xf32>)
// ADD: arith.addf
// ADD: return %[[S]]
func.func @nobias(%x: tensor<3x4xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[7.0, 3.5], [2.25, -1.125], [-1.25, 0.125], [0.75, 2.375]]> : tensor<4x2xf32>
  %wq = qc.fake_quant %w as <int4, axis = 0> : tensor<4x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x2xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<3x2xf32>) -> tensor<3x2xf32>
  %y = linalg.matmul ins(%x, %wq : tensor<3x4xf32>, tensor<4x2xf32>) outs(%acc : tensor<3x2xf32>) -> tensor<3x2xf32> loc("nobias")
  return %y : tensor<3x2xf32>
}

// A bias constant something else reads too stays for that reader; the layer
// gets a corrected copy. Two layers of one name ("shared", then
// "shared#2" in the statistics) each correct their own.
// CHECK-LABEL: func @shared
// CHECK-DAG: %[[B:.*]] = arith.constant dense<[5.000000e-01, -2.500000e-01]> : tensor<2xf32>
// CHECK-DAG: %[[C1:.*]] = arith.constant dense<[1.125000e+00, -6.875000e-01]> : tensor<2xf32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[C1]] :
// CHECK: %[[C2:.*]] = arith.constant dense<[1.125000e+00, -6.875000e-01]> : tensor<2xf32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[C2]] :
// CHECK: return %{{.*}}, %{{.*}}, %[[B]]
func.func @shared(%x: tensor<3x4xf32>) -> (tensor<3x2xf32>, tensor<3x2xf32>, tensor<2xf32>) {
  %w = arith.constant dense<[[7.0, 3.5], [2.25, -1.125], [-1.25, 0.125], [0.75, 2.375]]> : tensor<4x2xf32>
  %b = arith.constant dense<[0.5, -0.25]> : tensor<2xf32>
  %wq = qc.fake_quant %w as <int4, axis = 0> : tensor<4x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x2xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<3x2xf32>) -> tensor<3x2xf32>
  %y1 = linalg.matmul ins(%x, %wq : tensor<3x4xf32>, tensor<4x2xf32>) outs(%acc : tensor<3x2xf32>) -> tensor<3x2xf32> loc("shared")
  %r1 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%y1, %b : tensor<3x2xf32>, tensor<2xf32>) outs(%e : tensor<3x2xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %s = arith.addf %a, %c : f32
    linalg.yield %s : f32
  } -> tensor<3x2xf32>
  %y2 = linalg.matmul ins(%x, %wq : tensor<3x4xf32>, tensor<4x2xf32>) outs(%acc : tensor<3x2xf32>) -> tensor<3x2xf32> loc("shared")
  %r2 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%y2, %b : tensor<3x2xf32>, tensor<2xf32>) outs(%e : tensor<3x2xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %s = arith.addf %a, %c : f32
    linalg.yield %s : f32
  } -> tensor<3x2xf32>
  return %r1, %r2, %b : tensor<3x2xf32>, tensor<3x2xf32>, tensor<2xf32>
}

// One bias value for every output channel cannot take a per-channel
// correction: left alone, with a warning.
// CHECK-LABEL: func @scalar
// CHECK: arith.constant dense<5.000000e-01> : tensor<1xf32>
func.func @scalar(%x: tensor<3x4xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[7.0, 3.5], [2.25, -1.125], [-1.25, 0.125], [0.75, 2.375]]> : tensor<4x2xf32>
  %b = arith.constant dense<[0.5]> : tensor<1xf32>
  %wq = qc.fake_quant %w as <int4, axis = 0> : tensor<4x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x2xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<3x2xf32>) -> tensor<3x2xf32>
  %y = linalg.matmul ins(%x, %wq : tensor<3x4xf32>, tensor<4x2xf32>) outs(%acc : tensor<3x2xf32>) -> tensor<3x2xf32> loc("scalar")
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%y, %b : tensor<3x2xf32>, tensor<1xf32>) outs(%e : tensor<3x2xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %s = arith.addf %a, %c : f32
    linalg.yield %s : f32
  } -> tensor<3x2xf32>
  return %r : tensor<3x2xf32>
}

// A 2x1 convolution over 2 input channels (means [2, -1]), int4 with one
// scale per (output channel, tap) over the input channels:
//   f0 tap0 [7, 2.25] -> [7, 2]       f0 tap1 [-1.125, 3.5] -> [-1, 3.5]
//   f1 tap0 [0.75, -7] -> [1, -7]     f1 tap1 [3.5, 2.375] -> [3.5, 2.5]
// δ0 = -0.25·(-1) + 0.125·2 = 0.5, δ1 = 0.25·2 + 0.125·(-1) = 0.375: the
// bias [1, -0.5] becomes [0.5, -0.875]. Every tap reads the channel mean.
// CHECK-LABEL: func @conv
// CHECK: %[[B:.*]] = arith.constant dense<[5.000000e-01, -8.750000e-01]> : tensor<2xf32>
// CHECK: linalg.broadcast ins(%[[B]] : tensor<2xf32>)
func.func @conv(%x: tensor<1x2x3x1xf32>) -> tensor<1x2x2x1xf32> {
  %w = arith.constant dense<[[[[7.0], [-1.125]], [[2.25], [3.5]]],
                             [[[0.75], [3.5]], [[-7.0], [2.375]]]]> : tensor<2x2x2x1xf32>
  %b = arith.constant dense<[1.0, -0.5]> : tensor<2xf32>
  %wq = qc.fake_quant %w as <int4, axis = 1> : tensor<2x2x2x1xf32>
  %e = tensor.empty() : tensor<1x2x2x1xf32>
  %acc = linalg.broadcast ins(%b : tensor<2xf32>) outs(%e : tensor<1x2x2x1xf32>) dimensions = [0, 2, 3]
  %y = linalg.conv_2d_nchw_fchw ins(%x, %wq : tensor<1x2x3x1xf32>, tensor<2x2x2x1xf32>) outs(%acc : tensor<1x2x2x1xf32>) -> tensor<1x2x2x1xf32> loc("conv")
  return %y : tensor<1x2x2x1xf32>
}

// DIAG: warning: {{.*}}qc-bias-correct: layer 'scalar' is not corrected: its bias is shared across output channels
// DIAG: remark: qc-bias-correct: corrected the bias of 6 layer(s) (largest mean output shift removed: 0.6250); 1 layer(s) without a bias left as they are (add-bias=true gives them one): nobias
// ADD-DIAG: remark: qc-bias-correct: corrected the bias of 6 layer(s), added one to 1
// RECORD-LABEL: func @add
// RECORD: linalg.matmul {qc.float_output_mean = array<f64: 1.312500e+01, 2.312500e+00>}
// NOSTATS: error: qc-bias-correct: stats=DIR is required
// MISSING: error: qc-bias-correct: {{.*}}missing
