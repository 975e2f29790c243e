// qc-smooth folds per-channel scales into constants; every expected value
// below is computed by hand from the weights and the statistics written here
// (per-channel amax of each layer's input).
// RUN: rm -rf %t && mkdir -p %t/stats
// RUN: echo '{"samples": 1, "tensors": {' \
// RUN:   '"fc:input": {"channels": 2, "channel_amax": [4, 1]},' \
// RUN:   '"fc_a:input": {"channels": 2, "channel_amax": [16, 1]},' \
// RUN:   '"fc_b:input": {"channels": 2, "channel_amax": [16, 1]},' \
// RUN:   '"fc2:input": {"channels": 2, "channel_amax": [24, 8]}}}' > %t/stats/stats.json
// RUN: quant-opt %s --qc-smooth=stats=%t/stats -split-input-file 2>/dev/null | FileCheck %s
// RUN: quant-opt %s --qc-smooth=stats=%t/stats -split-input-file 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK
// RUN: quant-opt %s --qc-smooth="smooth=false equalize=true" -split-input-file 2>/dev/null | FileCheck %s --check-prefix=CLE
// RUN: not quant-opt %s --qc-smooth -split-input-file 2>&1 | FileCheck %s --check-prefix=NOSTATS
// RUN: not quant-opt %s --qc-smooth="stats=%t/stats alpha=1.5" -split-input-file 2>&1 | FileCheck %s --check-prefix=ALPHA
// RUN: not quant-opt %s --qc-smooth=stats=%t/missing -split-input-file 2>&1 | FileCheck %s --check-prefix=NODIR

// NOSTATS: error: qc-smooth: stats=DIR is required for SmoothQuant
// ALPHA: error: qc-smooth: alpha must lie in [0, 1], not 1.5
// NODIR: error: qc-smooth: {{.*}}missing/stats.json: {{.*}}

// An RMSNorm's gain g = [1, 2], then one layer. max|X| = [4, 1], max|W| per
// input channel = [1, 4]: s = sqrt([4, 1]) / sqrt([1, 4]) = [2, 0.5].
// g / s = [0.5, 4]; W's rows times s: [1, -0.5, 0.25] * 2, [4, -2, 1] / 2.
// CHECK-LABEL: func @norm_gain
// CHECK: %[[G:.*]] = arith.constant dense<[5.000000e-01, 4.000000e+00]> : tensor<2xf32>
// CHECK: %[[N:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %[[G]] : tensor<4x2xf32>, tensor<2xf32>)
// CHECK: %[[NQ:.*]] = qc.fake_quant %[[N]]
// CHECK: %[[W:.*]] = arith.constant dense<{{\[}}[2.000000e+00, -1.000000e+00, 5.000000e-01], [2.000000e+00, -1.000000e+00, 5.000000e-01]]> : tensor<2x3xf32>
// CHECK: %[[WQ:.*]] = qc.fake_quant %[[W]]
// CHECK: linalg.matmul {qc.smooth = "alpha 0.5"} ins(%[[NQ]], %[[WQ]] :
// REMARK: remark: {{.*}}qc-smooth: smoothed 'fc' into 'linalg.generic' (norm) (alpha 0.5, s in [0.5, 2])
// REMARK: remark: {{.*}}qc-smooth: 1 activation(s) read by quantized layers: 0 equalized, 1 smoothed, 0 not smoothed
// The gain has no weight to equalize with: CLE leaves it.
// CLE-LABEL: func @norm_gain
// CLE: arith.constant dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>
// CLE-NOT: qc.smooth
func.func @norm_gain(%x: tensor<4x2xf32>) -> tensor<4x3xf32> {
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

// A LayerNorm's gain and bias, read by two layers (q and k share their
// norm): one s from the larger weight of each channel, max|W| = [4, 1] over
// both, max|X| = [16, 1]: s = [sqrt(16 / 4), 1] = [2, 1]. Gain [1, 1] ->
// [0.5, 1], bias [0.5, -1] -> [0.25, -1]; each weight's first row doubles.
// The input reaches the layers through their own reshapes.
// CHECK-LABEL: func @layer_norm_shared
// CHECK-DAG: arith.constant dense<[5.000000e-01, 1.000000e+00]> : tensor<2xf32>
// CHECK-DAG: arith.constant dense<[2.500000e-01, -1.000000e+00]> : tensor<2xf32>
// CHECK-DAG: arith.constant dense<{{\[}}[2.000000e+00, 2.000000e+00], [1.000000e+00, 1.000000e+00]]> : tensor<2x2xf32>
// CHECK-DAG: arith.constant dense<{{\[}}[8.000000e+00, 0.000000e+00], [0.000000e+00, 2.500000e-01]]> : tensor<2x2xf32>
// CHECK-COUNT-2: qc.smooth = "alpha 0.5"
// REMARK: remark: {{.*}}qc-smooth: smoothed 'fc_a', 'fc_b' into 'linalg.generic' (ln_gain) (alpha 0.5, s in [1, 2])
func.func @layer_norm_shared(%x: tensor<1x4x2xf32>) -> (tensor<4x2xf32>, tensor<4x2xf32>) {
  %g = arith.constant dense<[1.0, 1.0]> : tensor<2xf32>
  %b = arith.constant dense<[0.5, -1.0]> : tensor<2xf32>
  %e = tensor.empty() : tensor<1x4x2xf32>
  %n = linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, j, k)>, affine_map<(i, j, k) -> (k)>, affine_map<(i, j, k) -> (i, j, k)>],
                       iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x, %g : tensor<1x4x2xf32>, tensor<2xf32>) outs(%e : tensor<1x4x2xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %m = arith.mulf %a, %c : f32
    linalg.yield %m : f32
  } -> tensor<1x4x2xf32> loc("ln_gain")
  %e2 = tensor.empty() : tensor<1x4x2xf32>
  %nb = linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, j, k)>, affine_map<(i, j, k) -> (k)>, affine_map<(i, j, k) -> (i, j, k)>],
                        iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%n, %b : tensor<1x4x2xf32>, tensor<2xf32>) outs(%e2 : tensor<1x4x2xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %m = arith.addf %a, %c : f32
    linalg.yield %m : f32
  } -> tensor<1x4x2xf32> loc("ln_bias")
  %ra = tensor.collapse_shape %nb [[0, 1], [2]] : tensor<1x4x2xf32> into tensor<4x2xf32>
  %rb = tensor.collapse_shape %nb [[0, 1], [2]] : tensor<1x4x2xf32> into tensor<4x2xf32>
  %qa = qc.fake_quant %ra as <int8, granularity = tensor> : tensor<4x2xf32>
  %qb = qc.fake_quant %rb as <int8, granularity = tensor> : tensor<4x2xf32>
  %wa = arith.constant dense<[[1.0, 1.0], [1.0, 1.0]]> : tensor<2x2xf32>
  %wb = arith.constant dense<[[4.0, 0.0], [0.0, 0.25]]> : tensor<2x2xf32>
  %wqa = qc.fake_quant %wa as <int8, axis = 0> : tensor<2x2xf32>
  %wqb = qc.fake_quant %wb as <int8, axis = 0> : tensor<2x2xf32>
  %zero = arith.constant 0.0 : f32
  %init0 = tensor.empty() : tensor<4x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%init0 : tensor<4x2xf32>) -> tensor<4x2xf32>
  %ya = linalg.matmul ins(%qa, %wqa : tensor<4x2xf32>, tensor<2x2xf32>)
                      outs(%init : tensor<4x2xf32>) -> tensor<4x2xf32> loc("fc_a")
  %yb = linalg.matmul ins(%qb, %wqb : tensor<4x2xf32>, tensor<2x2xf32>)
                      outs(%init : tensor<4x2xf32>) -> tensor<4x2xf32> loc("fc_b")
  return %ya, %yb : tensor<4x2xf32>, tensor<4x2xf32>
}

// -----

// A linear layer with a bias, ReLU, a linear layer. fc1 reads the function
// argument: nothing produces it that could absorb a scale. fc2: max|X| =
// [24, 8], max|W2| per input channel = [1.5, 2]: s = sqrt([16, 4]) = [4, 2],
// into fc1's output channels (W1's columns and the bias [3, 2] / s) through
// the ReLU. W1 = [[3, 1], [6, 2]] -> [[0.75, 0.5], [1.5, 1]], bias ->
// [0.75, 1], W2's rows [1.5, 0] * 4, [0, 2] * 2.
// CHECK-LABEL: func @linear_relu_linear
// CHECK-DAG: arith.constant dense<{{\[}}[7.500000e-01, 5.000000e-01], [1.500000e+00, 1.000000e+00]]> : tensor<2x2xf32>
// CHECK-DAG: arith.constant dense<[7.500000e-01, 1.000000e+00]> : tensor<2xf32>
// CHECK-DAG: arith.constant dense<{{\[}}[6.000000e+00, 0.000000e+00], [0.000000e+00, 4.000000e+00]]> : tensor<2x2xf32>
// CHECK: linalg.matmul {qc.smooth = "alpha 0.5"} ins
// REMARK: remark: {{.*}}qc-smooth: not smoothing 'fc1': it is a function argument
// REMARK: remark: {{.*}}qc-smooth: smoothed 'fc2' into 'linalg.matmul' (fc1) (alpha 0.5, s in [2, 4])
// Equalization, data-free: r1 = max|W1| per output channel = [6, 2], r2 =
// [1.5, 2], s = sqrt(r1 / r2) = [2, 1]: W1 -> [[1.5, 1], [3, 2]], bias ->
// [1.5, 2], W2 -> [[3, 0], [0, 2]]; both ranges become [3, 2].
// CLE-LABEL: func @linear_relu_linear
// CLE-DAG: arith.constant dense<{{\[}}[1.500000e+00, 1.000000e+00], [3.000000e+00, 2.000000e+00]]> : tensor<2x2xf32>
// CLE-DAG: arith.constant dense<[1.500000e+00, 2.000000e+00]> : tensor<2xf32>
// CLE-DAG: arith.constant dense<{{\[}}[3.000000e+00, 0.000000e+00], [0.000000e+00, 2.000000e+00]]> : tensor<2x2xf32>
func.func @linear_relu_linear(%x: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %xq = qc.fake_quant %x as <int8, granularity = tensor> : tensor<4x2xf32>
  %w1 = arith.constant dense<[[3.0, 1.0], [6.0, 2.0]]> : tensor<2x2xf32>
  %w1q = qc.fake_quant %w1 as <int8, axis = 0> : tensor<2x2xf32>
  %b1 = arith.constant dense<[3.0, 2.0]> : tensor<2xf32>
  %e = tensor.empty() : tensor<4x2xf32>
  %bias = linalg.generic {indexing_maps = [affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>],
                          iterator_types = ["parallel", "parallel"]}
      ins(%b1 : tensor<2xf32>) outs(%e : tensor<4x2xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  } -> tensor<4x2xf32>
  %h = linalg.matmul ins(%xq, %w1q : tensor<4x2xf32>, tensor<2x2xf32>)
                     outs(%bias : tensor<4x2xf32>) -> tensor<4x2xf32> loc("fc1")
  %e2 = tensor.empty() : tensor<4x2xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%h : tensor<4x2xf32>) outs(%e2 : tensor<4x2xf32>) {
  ^bb0(%a: f32, %o: f32):
    %zero = arith.constant 0.0 : f32
    %m = arith.maximumf %a, %zero : f32
    linalg.yield %m : f32
  } -> tensor<4x2xf32> loc("relu")
  %rq = qc.fake_quant %r as <int8, granularity = tensor> : tensor<4x2xf32>
  %w2 = arith.constant dense<[[1.5, 0.0], [0.0, 2.0]]> : tensor<2x2xf32>
  %w2q = qc.fake_quant %w2 as <int8, axis = 0> : tensor<2x2xf32>
  %zero = arith.constant 0.0 : f32
  %init0 = tensor.empty() : tensor<4x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%init0 : tensor<4x2xf32>) -> tensor<4x2xf32>
  %y = linalg.matmul ins(%rq, %w2q : tensor<4x2xf32>, tensor<2x2xf32>)
                     outs(%init : tensor<4x2xf32>) -> tensor<4x2xf32> loc("fc2")
  return %y : tensor<4x2xf32>
}

// -----

// The norm's output also feeds the residual add: scaling it would change
// the sum, so nothing moves. A weight-only layer (no activation fake_quant)
// is not smoothed either.
// CHECK-LABEL: func @not_foldable
// CHECK: arith.constant dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>
// CHECK-NOT: qc.smooth
// REMARK: remark: {{.*}}qc-smooth: not smoothing 'fc': its input is also read by 'linalg.generic' (residual)
// REMARK: remark: {{.*}}qc-smooth: not smoothing 'weight_only': its activations are not quantized
func.func @not_foldable(%x: tensor<4x2xf32>) -> (tensor<4x2xf32>, tensor<4x2xf32>) {
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
  %w = arith.constant dense<[[1.0, -0.5], [4.0, -2.0]]> : tensor<2x2xf32>
  %wq = qc.fake_quant %w as <int8, axis = 0> : tensor<2x2xf32>
  %zero = arith.constant 0.0 : f32
  %init0 = tensor.empty() : tensor<4x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%init0 : tensor<4x2xf32>) -> tensor<4x2xf32>
  %y = linalg.matmul ins(%nq, %wq : tensor<4x2xf32>, tensor<2x2xf32>)
                     outs(%init : tensor<4x2xf32>) -> tensor<4x2xf32> loc("fc")
  %e2 = tensor.empty() : tensor<4x2xf32>
  %sum = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                         iterator_types = ["parallel", "parallel"]}
      ins(%y, %n : tensor<4x2xf32>, tensor<4x2xf32>) outs(%e2 : tensor<4x2xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.addf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<4x2xf32> loc("residual")
  %w3 = arith.constant dense<[[1.0, 0.0], [0.0, 1.0]]> : tensor<2x2xf32>
  %w3q = qc.fake_quant %w3 as <int4, axis = 0> : tensor<2x2xf32>
  %z = linalg.matmul ins(%sum, %w3q : tensor<4x2xf32>, tensor<2x2xf32>)
                     outs(%init : tensor<4x2xf32>) -> tensor<4x2xf32> loc("weight_only")
  return %sum, %z : tensor<4x2xf32>, tensor<4x2xf32>
}
