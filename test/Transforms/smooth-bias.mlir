// qc-smooth's bias variant (SmoothQuant with bias, MPTQ-ViT): each channel
// is centred on its mid-range before the scale, x' = (x - z) / s, and every
// consumer gets z·W back on its output. Hand-computed from the statistics
// written here.
// RUN: rm -rf %t && mkdir -p %t/stats
// RUN: echo '{"samples": 1, "tensors": {' \
// RUN:   '"fc:input": {"channels": 2, "channel_amax": [8, 1], "channel_min": [0, -1], "channel_max": [8, 1]},' \
// RUN:   '"no_min_max:input": {"channels": 2, "channel_amax": [4, 1]}}}' > %t/stats/stats.json
// RUN: quant-opt %s --qc-smooth="stats=%t/stats bias=true" -split-input-file 2>/dev/null | FileCheck %s
// RUN: quant-opt %s --qc-smooth="stats=%t/stats bias=true" -split-input-file 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK

// Channel 0 spans [0, 8], channel 1 [-1, 1]: z = [4, 0], half ranges
// [4, 1]; max|W| per input channel = [1, 4]: s = sqrt([4, 1] / [1, 4]) =
// [2, 0.5]. The gain [1, 2] / s = [0.5, 4]; the inserted shift subtracts
// z / s = [2, 0]; W's rows times s; the output gets z·W = 4 * [1, -0.5,
// 0.25] = [4, -2, 1] added.
// CHECK-LABEL: func @shifted
// CHECK: arith.constant dense<[5.000000e-01, 4.000000e+00]> : tensor<2xf32>
// CHECK: %[[N:.*]] = linalg.generic
// CHECK: %[[Z:.*]] = arith.constant dense<[2.000000e+00, 0.000000e+00]> : tensor<2xf32>
// CHECK: %[[C:.*]] = linalg.generic {{.*}} ins(%[[N]], %[[Z]] : tensor<4x2xf32>, tensor<2xf32>)
// CHECK: arith.subf
// CHECK: qc.fake_quant %[[C]] as <int8, granularity = tensor>
// CHECK: arith.constant dense<{{\[}}[2.000000e+00, -1.000000e+00, 5.000000e-01], [2.000000e+00, -1.000000e+00, 5.000000e-01]]> : tensor<2x3xf32>
// CHECK: %[[Y:.*]] = linalg.matmul {qc.smooth = "alpha 0.5, shifted"}
// CHECK: %[[B:.*]] = arith.constant dense<[4.000000e+00, -2.000000e+00, 1.000000e+00]> : tensor<3xf32>
// CHECK: %[[OUT:.*]] = linalg.generic {{.*}} ins(%[[Y]], %[[B]] : tensor<4x3xf32>, tensor<3xf32>)
// CHECK: arith.addf
// CHECK: return %[[OUT]]
// REMARK: remark: {{.*}}qc-smooth: smoothed 'fc' into 'linalg.generic' (norm) (alpha 0.5, s in [0.5, 2], shifted)
// REMARK: remark: {{.*}}qc-smooth: 1 activation(s) read by quantized layers: 0 equalized, 1 smoothed (1 shifted), 0 not smoothed
func.func @shifted(%x: tensor<4x2xf32>) -> tensor<4x3xf32> {
  %g = arith.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %e = tensor.empty() : tensor<4x2xf32>
  %n = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%x, %g : tensor<4x2xf32>, tensor<2xf32>) outs(%e : tensor<4x2xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<4x2xf32> loc("norm")
  %nq = qc.fake_quant %n as <int8, granularity = tensor> : tensor<4x2xf32>
  %w = arith.constant dense<[[1.0, -0.5, 0.25], [4.0, -2.0, 1.0]]> : tensor<2x3xf32>
  %wq = qc.fake_quant %w as <int8, axis = 0> : tensor<2x3xf32>
  %zero = arith.constant 0.0 : f32
  %init0 = tensor.empty() : tensor<4x3xf32>
  %init = linalg.fill ins(%zero : f32) outs(%init0 : tensor<4x3xf32>) -> tensor<4x3xf32>
  %y = linalg.matmul ins(%nq, %wq : tensor<4x2xf32>, tensor<2x3xf32>)
                     outs(%init : tensor<4x3xf32>) -> tensor<4x3xf32> loc("fc")
  return %y : tensor<4x3xf32>
}

// -----

// Statistics without per-channel min/max (an older directory): smoothed
// from the amax alone, without the shift, and a remark says so.
// CHECK-LABEL: func @no_min_max
// CHECK: linalg.matmul {qc.smooth = "alpha 0.5"}
// CHECK-NOT: arith.subf
// REMARK: remark: {{.*}}qc-smooth: 'no_min_max' smoothed without the shift: the statistics have no per-channel min/max
func.func @no_min_max(%x: tensor<4x2xf32>) -> tensor<4x3xf32> {
  %g = arith.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %e = tensor.empty() : tensor<4x2xf32>
  %n = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%x, %g : tensor<4x2xf32>, tensor<2xf32>) outs(%e : tensor<4x2xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<4x2xf32> loc("norm")
  %nq = qc.fake_quant %n as <int8, granularity = tensor> : tensor<4x2xf32>
  %w = arith.constant dense<[[1.0, -0.5, 0.25], [4.0, -2.0, 1.0]]> : tensor<2x3xf32>
  %wq = qc.fake_quant %w as <int8, axis = 0> : tensor<2x3xf32>
  %zero = arith.constant 0.0 : f32
  %init0 = tensor.empty() : tensor<4x3xf32>
  %init = linalg.fill ins(%zero : f32) outs(%init0 : tensor<4x3xf32>) -> tensor<4x3xf32>
  %y = linalg.matmul ins(%nq, %wq : tensor<4x2xf32>, tensor<2x3xf32>)
                     outs(%init : tensor<4x3xf32>) -> tensor<4x3xf32> loc("no_min_max")
  return %y : tensor<4x3xf32>
}
