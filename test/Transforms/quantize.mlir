// qc-quantize: every quantizable layer (a contraction or convolution with one
// constant operand) gets its weight constant and its activation wrapped in
// qc.fake_quant, along the reduction axis of each.
// RUN: quant-opt %s --qc-quantize=recipe=w4a8-mxfp4 2>/dev/null | FileCheck %s
// RUN: quant-opt %s --qc-quantize=recipe=w4a8-mxfp4 2>&1 >/dev/null | FileCheck %s --check-prefix=DIAG
// RUN: quant-opt %s --qc-quantize=recipe=int8 2>/dev/null | FileCheck %s --check-prefix=INT8
// RUN: quant-opt %s --qc-quantize=recipe=w4a16-nvfp4 2>/dev/null | FileCheck %s --check-prefix=W4A16

// Per-layer overrides and skips from a JSON recipe.
// RUN: quant-opt %s --qc-quantize=recipe=%S/Inputs/recipe.json 2>/dev/null | FileCheck %s --check-prefix=JSON
// RUN: quant-opt %s --qc-quantize=recipe=%S/Inputs/recipe.json 2>&1 >/dev/null | FileCheck %s --check-prefix=JSON-DIAG

// Errors name the recipe, the file and the key.
// RUN: not quant-opt %s --qc-quantize=recipe=w3a3 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// UNKNOWN: error: qc-quantize: unknown recipe 'w3a3' (named recipes: int8, w8a8-mxint8, w4a16-mxfp4, w4a16-nvfp4, w4a8-mxfp4, w4a8-int4, w4a4-nvfp4, w4a4-nvint4, w4a16-nvfp4-gptq, w4a16-mxfp4-gptq, w4a8-int4-gptq, w8a8-int8-smooth, auto:BITS, auto-latency:MICROSECONDS; or a recipe .json file)
// RUN: not quant-opt %s --qc-quantize=recipe=%t.missing.json 2>&1 | FileCheck %s --check-prefix=MISSING
// MISSING: error: qc-quantize: {{.*}}.missing.json: cannot read the recipe: {{.*}}
// RUN: echo '{"weights": "nvfp4", "layers": [{"match": "fc*", "weights": "nvfp5"}]}' > %t.bad-format.json
// RUN: not quant-opt %s --qc-quantize=recipe=%t.bad-format.json 2>&1 | FileCheck %s --check-prefix=BAD-FORMAT
// BAD-FORMAT: error: qc-quantize: {{.*}}.bad-format.json: layers[0].weights: 'nvfp5' is not a format: {{.+}}
// RUN: echo '{"weights": "nvfp4", "activation": "mxint8"}' > %t.bad-key.json
// RUN: not quant-opt %s --qc-quantize=recipe=%t.bad-key.json 2>&1 | FileCheck %s --check-prefix=BAD-KEY
// BAD-KEY: error: qc-quantize: {{.*}}.bad-key.json: activation: unknown key (known: base, weights, activations, rotate, clip, layers, skip, gptq, allocate, bias_correct, smooth, equalize)
// The accuracy passes' options (quant-compile runs qc-gptq / qc-allocate-bits
// from them; qc-quantize only checks them).
// RUN: echo '{"weights": "nvfp4", "gptq": {"damp": 0.1, "block_size": 64, "act_order": true}, "allocate": {"budget": 4.5, "candidates": ["mxfp4", "nvfp4"]}}' > %t.accuracy.json
// RUN: quant-opt %s --qc-quantize=recipe=%t.accuracy.json -o /dev/null 2>&1 | FileCheck %s --check-prefix=ACCURACY
// ACCURACY: remark: qc-quantize: recipe '{{.*}}.accuracy.json' quantized
// RUN: echo '{"weights": "nvfp4", "gptq": {"damping": 0.1}}' > %t.bad-gptq.json
// RUN: not quant-opt %s --qc-quantize=recipe=%t.bad-gptq.json 2>&1 | FileCheck %s --check-prefix=BAD-GPTQ
// BAD-GPTQ: error: qc-quantize: {{.*}}.bad-gptq.json: gptq.damping: unknown key (known: damp, block_size, act_order)
// RUN: echo '{"weights": "nvfp4", "allocate": {"budget": "5", "candidates": ["mxfp5"]}}' > %t.bad-allocate.json
// RUN: not quant-opt %s --qc-quantize=recipe=%t.bad-allocate.json 2>&1 | FileCheck %s --check-prefix=BAD-ALLOCATE
// BAD-ALLOCATE: error: qc-quantize: {{.*}}.bad-allocate.json: allocate.candidates[0]: 'mxfp5' is not a format: {{.+}}
// RUN: echo '{"weights": "nvfp4", "allocate": {"candidates": ["mxfp4"]}}' > %t.no-budget.json
// RUN: not quant-opt %s --qc-quantize=recipe=%t.no-budget.json 2>&1 | FileCheck %s --check-prefix=NO-BUDGET
// NO-BUDGET: error: qc-quantize: {{.*}}.no-budget.json: allocate.budget: missing
// auto:BITS starts every layer at int8 (qc-allocate-bits replaces it).
// RUN: quant-opt %s --qc-quantize=recipe=auto:4.5 -o /dev/null 2>&1 | FileCheck %s --check-prefix=AUTO
// AUTO: remark: qc-quantize: recipe 'auto:4.5' quantized 7 layer(s); 0 skipped by the recipe, 1 left in float
// RUN: not quant-opt %s --qc-quantize=recipe=auto:lots 2>&1 | FileCheck %s --check-prefix=AUTO-BAD
// AUTO-BAD: error: qc-quantize: unknown recipe 'auto:lots'
// RUN: quant-opt %s --qc-quantize=recipe=w4a16-nvfp4-gptq -o /dev/null 2>&1 | FileCheck %s --check-prefix=GPTQ-NAMED
// GPTQ-NAMED: remark: qc-quantize: recipe 'w4a16-nvfp4-gptq' quantized
// RUN: echo '{"weights": "nvfp4", "rotate": "sometimes"}' > %t.bad-rotate.json
// RUN: not quant-opt %s --qc-quantize=recipe=%t.bad-rotate.json 2>&1 | FileCheck %s --check-prefix=BAD-ROTATE
// BAD-ROTATE: error: qc-quantize: {{.*}}.bad-rotate.json: rotate: expected "on", "off" or "auto"
// RUN: echo '{"weights": "nvfp4",' > %t.bad-json.json
// RUN: not quant-opt %s --qc-quantize=recipe=%t.bad-json.json 2>&1 | FileCheck %s --check-prefix=BAD-JSON
// BAD-JSON: error: qc-quantize: {{.*}}.bad-json.json: not valid JSON: {{.+}}
// RUN: echo '{"activations": "mxint8"}' > %t.nothing.json
// RUN: not quant-opt %s --qc-quantize=recipe=%t.nothing.json 2>&1 | FileCheck %s --check-prefix=NOTHING
// NOTHING: error: qc-quantize: {{.*}}.nothing.json: weights: missing: the recipe quantizes nothing

// DIAG-DAG: warning: loc("odd"): layer 'odd' left in float: the weight of shape 40x32 does not fit format 'mxfp4, axis = 0': dimension 0 of size 40 is not divisible by the block size 32
// JSON-DIAG: remark: qc-quantize: recipe '{{.*}}recipe.json' quantized 3 layer(s); 4 skipped by the recipe, 1 left in float
// DIAG-DAG: remark: qc-quantize: recipe 'w4a8-mxfp4' quantized 6 layer(s); 0 skipped by the recipe, 2 left in float

// A 2-D matmul: x [8, 64] x W [64, 32]; W is quantized along K = axis 0.
// CHECK-LABEL: func.func @matmul
// CHECK-SAME: (%[[X:.*]]: tensor<8x64xf32>)
// CHECK: %[[W:.*]] = arith.constant dense<5.000000e-01> : tensor<64x32xf32>
// CHECK-NEXT: %[[WQ:.*]] = qc.fake_quant %[[W]] as <mxfp4, axis = 0> : tensor<64x32xf32>
// CHECK: %[[XQ:.*]] = qc.fake_quant %[[X]] as <mxint8> : tensor<8x64xf32>
// CHECK-NEXT: linalg.matmul ins(%[[XQ]], %[[WQ]] : tensor<8x64xf32>, tensor<64x32xf32>)
// INT8-LABEL: func.func @matmul
// INT8: qc.fake_quant %{{.*}} as <int8, axis = 0> : tensor<64x32xf32>
// INT8: qc.fake_quant %{{.*}} as <int8, granularity = tensor> : tensor<8x64xf32>
// W4A16-LABEL: func.func @matmul
// W4A16: %[[WQ:.*]] = qc.fake_quant %{{.*}} as <nvfp4, axis = 0> : tensor<64x32xf32>
// W4A16-NOT: qc.fake_quant
// W4A16: linalg.matmul ins(%arg0, %[[WQ]] :
// The recipe file gives fc* int8 weights and float activations.
// JSON-LABEL: func.func @matmul
// JSON: %[[WQ:.*]] = qc.fake_quant %{{.*}} as <int8, axis = 0> : tensor<64x32xf32>
// JSON-NOT: qc.fake_quant
// JSON: linalg.matmul ins(%arg0, %[[WQ]] :
func.func @matmul(%x: tensor<8x64xf32>) -> tensor<8x32xf32> {
  %w = arith.constant dense<0.5> : tensor<64x32xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %y = linalg.matmul ins(%x, %w : tensor<8x64xf32>, tensor<64x32xf32>) outs(%init : tensor<8x32xf32>) -> tensor<8x32xf32> loc("fc1")
  return %y : tensor<8x32xf32>
}

// Gemm with transB: the weight is stored [N, K] and transposed on the way.
// CHECK-LABEL: func.func @gemm_trans_b
// The fake_quant sits on the [N, K] constant (K is its last axis); the
// transpose follows it.
// CHECK: %[[W:.*]] = arith.constant dense<5.000000e-01> : tensor<32x64xf32>
// CHECK-NEXT: %[[WQ:.*]] = qc.fake_quant %[[W]] as <mxfp4> : tensor<32x64xf32>
// CHECK: %[[WT:.*]] = linalg.transpose ins(%[[WQ]] : tensor<32x64xf32>)
// CHECK: %[[XQ:.*]] = qc.fake_quant %arg0 as <mxint8> : tensor<8x64xf32>
// CHECK-NEXT: linalg.matmul ins(%[[XQ]], %[[WT]] :
// The recipe file skips head*.
// JSON-LABEL: func.func @gemm_trans_b
// JSON-NOT: qc.fake_quant
// JSON: return
func.func @gemm_trans_b(%x: tensor<8x64xf32>) -> tensor<8x32xf32> {
  %w = arith.constant dense<0.5> : tensor<32x64xf32>
  %te = tensor.empty() : tensor<64x32xf32>
  %wt = linalg.transpose ins(%w : tensor<32x64xf32>) outs(%te : tensor<64x32xf32>) permutation = [1, 0]
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %y = linalg.matmul ins(%x, %wt : tensor<8x64xf32>, tensor<64x32xf32>) outs(%init : tensor<8x32xf32>) -> tensor<8x32xf32> loc("head")
  return %y : tensor<8x32xf32>
}

// Attention-like: no constant operand, not a layer.
// CHECK-LABEL: func.func @no_constant
// CHECK-NOT: qc.fake_quant
// CHECK: linalg.matmul ins(%arg0, %arg1 :
func.func @no_constant(%a: tensor<8x64xf32>, %b: tensor<64x8xf32>) -> tensor<8x8xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<8x8xf32>) -> tensor<8x8xf32>
  %y = linalg.matmul ins(%a, %b : tensor<8x64xf32>, tensor<64x8xf32>) outs(%init : tensor<8x8xf32>) -> tensor<8x8xf32> loc("scores")
  return %y : tensor<8x8xf32>
}

// batch_matmul with a broadcast weight: the fake_quant goes on the [K, N]
// constant, before the broadcast.
// CHECK-LABEL: func.func @batch_matmul
// CHECK: %[[WQ:.*]] = qc.fake_quant %{{.*}} as <mxfp4, axis = 0> : tensor<64x32xf32>
// CHECK-NEXT: tensor.empty
// CHECK-NEXT: %[[WB:.*]] = linalg.broadcast ins(%[[WQ]] : tensor<64x32xf32>)
// CHECK: %[[XQ:.*]] = qc.fake_quant %arg0 as <mxint8> : tensor<2x8x64xf32>
// CHECK-NEXT: linalg.batch_matmul ins(%[[XQ]], %[[WB]] :
func.func @batch_matmul(%x: tensor<2x8x64xf32>) -> tensor<2x8x32xf32> {
  %w = arith.constant dense<0.5> : tensor<64x32xf32>
  %be = tensor.empty() : tensor<2x64x32xf32>
  %wb = linalg.broadcast ins(%w : tensor<64x32xf32>) outs(%be : tensor<2x64x32xf32>) dimensions = [0]
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x8x32xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<2x8x32xf32>) -> tensor<2x8x32xf32>
  %y = linalg.batch_matmul ins(%x, %wb : tensor<2x8x64xf32>, tensor<2x64x32xf32>) outs(%init : tensor<2x8x32xf32>) -> tensor<2x8x32xf32> loc("bmm")
  return %y : tensor<2x8x32xf32>
}

// A linalg.generic contraction y[m, n] = sum_k x[m, k] * W[n, k].
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @generic
// CHECK: %[[WQ:.*]] = qc.fake_quant %{{.*}} as <mxfp4> : tensor<32x64xf32>
// CHECK: %[[XQ:.*]] = qc.fake_quant %arg0 as <mxint8> : tensor<8x64xf32>
// CHECK-NEXT: linalg.generic {{.*}} ins(%[[XQ]], %[[WQ]] :
// The recipe file's default (nvfp4 / nvfp4) applies to "proj".
// JSON-LABEL: func.func @generic
// JSON: qc.fake_quant %{{.*}} as <nvfp4> : tensor<32x64xf32>
// JSON: qc.fake_quant %arg0 as <nvfp4> : tensor<8x64xf32>
func.func @generic(%x: tensor<8x64xf32>) -> tensor<8x32xf32> {
  %w = arith.constant dense<0.5> : tensor<32x64xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %y = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<8x64xf32>, tensor<32x64xf32>) outs(%init : tensor<8x32xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  } -> tensor<8x32xf32> loc("proj")
  return %y : tensor<8x32xf32>
}

// A convolution: filter [F, C, KH, KW] quantized along C = axis 1, the
// input [N, C, H, W] along axis 1.
// CHECK-LABEL: func.func @conv
// JSON-LABEL: func.func @conv
// JSON-NOT: qc.fake_quant
// JSON: return
// CHECK: %[[WQ:.*]] = qc.fake_quant %{{.*}} as <mxfp4, axis = 1> : tensor<16x32x3x3xf32>
// CHECK: %[[XQ:.*]] = qc.fake_quant %arg0 as <mxint8, axis = 1> : tensor<1x32x8x8xf32>
// CHECK-NEXT: linalg.conv_2d_nchw_fchw ins(%[[XQ]], %[[WQ]] :
func.func @conv(%x: tensor<1x32x8x8xf32>) -> tensor<1x16x6x6xf32> {
  %w = arith.constant dense<0.5> : tensor<16x32x3x3xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x16x6x6xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x16x6x6xf32>) -> tensor<1x16x6x6xf32>
  %y = linalg.conv_2d_nchw_fchw ins(%x, %w : tensor<1x32x8x8xf32>, tensor<16x32x3x3xf32>) outs(%init : tensor<1x16x6x6xf32>) -> tensor<1x16x6x6xf32> loc("conv1")
  return %y : tensor<1x16x6x6xf32>
}

// K = 40 is not a multiple of the blocks of 16/32: left in float, named.
// CHECK-LABEL: func.func @odd_k
// CHECK-NOT: qc.fake_quant
// CHECK: linalg.matmul ins(%arg0, %cst :
// Per-axis int8 has no blocks: K = 40 is fine.
// INT8-LABEL: func.func @odd_k
// INT8: qc.fake_quant %{{.*}} as <int8, axis = 0> : tensor<40x32xf32>
func.func @odd_k(%x: tensor<8x40xf32>) -> tensor<8x32xf32> {
  %w = arith.constant dense<0.5> : tensor<40x32xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %y = linalg.matmul ins(%x, %w : tensor<8x40xf32>, tensor<40x32xf32>) outs(%init : tensor<8x32xf32>) -> tensor<8x32xf32> loc("odd")
  return %y : tensor<8x32xf32>
}

// The importer's grouped convolution: a linalg.generic over
// [N, G, C/G, H, W] x [G, F/G, C/G, KH, KW], the filter reshaped from its
// [F, C, KH, KW] constant through a 1-D collapse and an expand. The reshape
// run keeps C, so the fake_quant goes on the constant along axis 1 and the
// reshapes are replayed on it.
#conv_in = affine_map<(n, g, f, oh, ow, c, kh, kw) -> (n, g, c, oh + kh, ow + kw)>
#conv_w = affine_map<(n, g, f, oh, ow, c, kh, kw) -> (g, f, c, kh, kw)>
#conv_out = affine_map<(n, g, f, oh, ow, c, kh, kw) -> (n, g, f, oh, ow)>
// CHECK-LABEL: func.func @importer_conv
// CHECK: %[[W:.*]] = arith.constant dense<5.000000e-01> : tensor<16x32x3x3xf32>
// CHECK-NEXT: %[[WQ:.*]] = qc.fake_quant %[[W]] as <mxfp4, axis = 1> : tensor<16x32x3x3xf32>
// CHECK-NEXT: %[[FLAT:.*]] = tensor.collapse_shape %[[WQ]]
// CHECK-NEXT: %[[W5:.*]] = tensor.expand_shape %[[FLAT]]
// CHECK: %[[XQ:.*]] = qc.fake_quant %arg0 as <mxint8, axis = 2> : tensor<1x1x32x10x10xf32>
// CHECK-NEXT: linalg.generic {{.*}} ins(%[[XQ]], %[[W5]] :
func.func @importer_conv(%x: tensor<1x1x32x10x10xf32>) -> tensor<1x1x16x8x8xf32> {
  %w = arith.constant dense<0.5> : tensor<16x32x3x3xf32>
  %flat = tensor.collapse_shape %w [[0, 1, 2, 3]] : tensor<16x32x3x3xf32> into tensor<4608xf32>
  %w5 = tensor.expand_shape %flat [[0, 1, 2, 3, 4]] output_shape [1, 16, 32, 3, 3] : tensor<4608xf32> into tensor<1x16x32x3x3xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x1x16x8x8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x1x16x8x8xf32>) -> tensor<1x1x16x8x8xf32>
  %y = linalg.generic {indexing_maps = [#conv_in, #conv_w, #conv_out],
                       iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%x, %w5 : tensor<1x1x32x10x10xf32>, tensor<1x16x32x3x3xf32>) outs(%init : tensor<1x1x16x8x8xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x1x16x8x8xf32> loc("conv_grouped")
  return %y : tensor<1x1x16x8x8xf32>
}

// A depthwise convolution reduces over one channel per group: nothing to
// block, left in float with a warning.
// CHECK-LABEL: func.func @depthwise
// CHECK-NOT: qc.fake_quant
// CHECK: return
// DIAG-DAG: warning: loc("dw"): layer 'dw' left in float: it reduces over one input channel per group (depthwise)
func.func @depthwise(%x: tensor<1x16x1x10x10xf32>) -> tensor<1x16x1x8x8xf32> {
  %w = arith.constant dense<0.5> : tensor<16x1x3x3xf32>
  %flat = tensor.collapse_shape %w [[0, 1, 2, 3]] : tensor<16x1x3x3xf32> into tensor<144xf32>
  %w5 = tensor.expand_shape %flat [[0, 1, 2, 3, 4]] output_shape [16, 1, 1, 3, 3] : tensor<144xf32> into tensor<16x1x1x3x3xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x16x1x8x8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x16x1x8x8xf32>) -> tensor<1x16x1x8x8xf32>
  %y = linalg.generic {indexing_maps = [#conv_in, #conv_w, #conv_out],
                       iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%x, %w5 : tensor<1x16x1x10x10xf32>, tensor<16x1x1x3x3xf32>) outs(%init : tensor<1x16x1x8x8xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x16x1x8x8xf32> loc("dw")
  return %y : tensor<1x16x1x8x8xf32>
}
