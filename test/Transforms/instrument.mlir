// RUN: quant-opt %s --qc-instrument | FileCheck %s
// RUN: quant-opt %s --qc-instrument=hessian=false | FileCheck %s --check-prefix=NOHESS
// RUN: quant-opt %s --qc-instrument=hessian-max-mib=4 2>&1 | FileCheck %s --check-prefix=CAP

// A W8A8 layer: the observed tensor is the float activation the activation
// quantizer sees (its fake_quant's operand), keyed "<layer>:input".
// CHECK-LABEL: func @w8a8
// CHECK: %[[X:.*]] = arith.addf
// CHECK: qc.fake_quant %[[X]] as <int8>
// CHECK: qc.observe "fc1:input", %[[X]] {stats = ["amax", "channel_amax", "histogram", "hessian"]} : tensor<4x64xf32>
// CHECK-NEXT: linalg.matmul
// NOHESS: qc.observe "fc1:input", %{{.*}} {stats = ["amax", "channel_amax", "histogram"]} : tensor<4x64xf32>
func.func @w8a8(%x: tensor<4x64xf32>) -> tensor<4x32xf32> {
  %w = arith.constant dense<0.5> : tensor<64x32xf32>
  %wq = qc.fake_quant %w as <int8, axis = 0> : tensor<64x32xf32>
  %y = arith.addf %x, %x : tensor<4x64xf32>
  %yq = qc.fake_quant %y as <int8> : tensor<4x64xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x32xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<4x32xf32>) -> tensor<4x32xf32>
  %r = linalg.matmul ins(%yq, %wq : tensor<4x64xf32>, tensor<64x32xf32>) outs(%acc : tensor<4x32xf32>) -> tensor<4x32xf32> loc("fc1")
  return %r : tensor<4x32xf32>
}

// Weight-only (W4A16): the activation itself is observed (GPTQ needs its
// XᵀX). Two contractions of one node get distinct keys. A float layer (no
// quantized weight) is not observed.
// CHECK-LABEL: func @weight_only
// CHECK: qc.observe "proj:input", %arg0
// CHECK: linalg.matmul
// CHECK: qc.observe "proj#2:input", %arg0
// CHECK: linalg.matmul
// CHECK-NOT: qc.observe
// CHECK: return
func.func @weight_only(%x: tensor<4x64xf32>) -> (tensor<4x32xf32>, tensor<4x32xf32>, tensor<4x32xf32>) {
  %w = arith.constant dense<0.25> : tensor<64x32xf32>
  %wq = qc.fake_quant %w as <int4_g32, axis = 0> : tensor<64x32xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x32xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<4x32xf32>) -> tensor<4x32xf32>
  %a = linalg.matmul ins(%x, %wq : tensor<4x64xf32>, tensor<64x32xf32>) outs(%acc : tensor<4x32xf32>) -> tensor<4x32xf32> loc("proj")
  %b = linalg.matmul ins(%x, %wq : tensor<4x64xf32>, tensor<64x32xf32>) outs(%acc : tensor<4x32xf32>) -> tensor<4x32xf32> loc("proj")
  %c = linalg.matmul ins(%x, %w : tensor<4x64xf32>, tensor<64x32xf32>) outs(%acc : tensor<4x32xf32>) -> tensor<4x32xf32> loc("float_head")
  return %a, %b, %c : tensor<4x32xf32>, tensor<4x32xf32>, tensor<4x32xf32>
}

// A convolution (the importer's grouped form, 3x3 kernel, stride 2,
// dilation 2 along W): its observe carries the patch geometry of the input
// it reads, per dimension [n, g, c, h, w], so that calibration collects the
// Hessian over im2col patches, one per group.
// CHECK-LABEL: func @conv
// CHECK: qc.observe "conv:input", %arg0 {axis = 2 : i64, dilations = array<i64: 1, 1, 1, 1, 2>, group_axis = 1 : i64, kernel = array<i64: 1, 1, 1, 3, 3>, stats = ["amax", "channel_amax", "histogram", "hessian"], strides = array<i64: 1, 1, 1, 2, 2>} : tensor<1x2x8x9x11xf32>
// CHECK-NEXT: linalg.generic
// NOHESS-LABEL: func @conv
// NOHESS: qc.observe "conv:input", %arg0 {axis = 2 : i64, stats = ["amax", "channel_amax", "histogram"]} : tensor<1x2x8x9x11xf32>
#conv_x = affine_map<(n, g, m, oh, ow, c, kh, kw) -> (n, g, c, oh * 2 + kh, ow * 2 + kw * 2)>
#conv_w = affine_map<(n, g, m, oh, ow, c, kh, kw) -> (g, m, c, kh, kw)>
#conv_y = affine_map<(n, g, m, oh, ow, c, kh, kw) -> (n, g, m, oh, ow)>
func.func @conv(%x: tensor<1x2x8x9x11xf32>) -> tensor<1x2x4x4x4xf32> {
  %w = arith.constant dense<0.5> : tensor<8x8x3x3xf32>
  %wq = qc.fake_quant %w as <int8, axis = 1> : tensor<8x8x3x3xf32>
  %wg = tensor.expand_shape %wq [[0, 1], [2], [3], [4]] output_shape [2, 4, 8, 3, 3] : tensor<8x8x3x3xf32> into tensor<2x4x8x3x3xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<1x2x4x4x4xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x2x4x4x4xf32>) -> tensor<1x2x4x4x4xf32>
  %y = linalg.generic {indexing_maps = [#conv_x, #conv_w, #conv_y],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%x, %wg : tensor<1x2x8x9x11xf32>, tensor<2x4x8x3x3xf32>) outs(%init : tensor<1x2x4x4x4xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x2x4x4x4xf32> loc("conv")
  return %y : tensor<1x2x4x4x4xf32>
}

// A layer whose XᵀX (1024² doubles = 8 MiB) exceeds hessian-max-mib goes
// without it, with a warning naming it; the small one keeps it.
// CAP: warning: {{.*}}qc-instrument: layer 'wide': its input Hessian would take 8.0 MiB (more than hessian-max-mib=4); not collected, so GPTQ keeps round-to-nearest for it
// CAP-LABEL: func @hessian_cap
// CAP: qc.observe "wide:input", %arg0 {stats = ["amax", "channel_amax", "histogram"]} : tensor<2x1024xf32>
// CAP: qc.observe "narrow:input", %arg1 {stats = ["amax", "channel_amax", "histogram", "hessian"]} : tensor<2x64xf32>
func.func @hessian_cap(%x: tensor<2x1024xf32>, %x2: tensor<2x64xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>) {
  %w = arith.constant dense<0.5> : tensor<1024x8xf32>
  %wq = qc.fake_quant %w as <int4_g32, axis = 0> : tensor<1024x8xf32>
  %w2 = arith.constant dense<0.5> : tensor<64x8xf32>
  %w2q = qc.fake_quant %w2 as <int4_g32, axis = 0> : tensor<64x8xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x8xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<2x8xf32>) -> tensor<2x8xf32>
  %a = linalg.matmul ins(%x, %wq : tensor<2x1024xf32>, tensor<1024x8xf32>) outs(%acc : tensor<2x8xf32>) -> tensor<2x8xf32> loc("wide")
  %b = linalg.matmul ins(%x2, %w2q : tensor<2x64xf32>, tensor<64x8xf32>) outs(%acc : tensor<2x8xf32>) -> tensor<2x8xf32> loc("narrow")
  return %a, %b : tensor<2x8xf32>, tensor<2x8xf32>
}
