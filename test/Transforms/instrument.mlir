// RUN: quant-opt %s --qc-instrument | FileCheck %s
// RUN: quant-opt %s --qc-instrument=hessian=false | FileCheck %s --check-prefix=NOHESS

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
