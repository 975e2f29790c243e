// RUN: quant-opt %s --qc-instrument --qc-observations-to-results | FileCheck %s
// RUN: quant-opt %s --qc-instrument --qc-observations-to-results=drop-fake-quant=false | FileCheck %s --check-prefix=KEEP

// The observed activation becomes an extra result after the function's own,
// annotated with the key, the channel axis and the statistics; the
// fake_quants are gone (calibration sees the float model).
// CHECK-LABEL: func @layer
// CHECK-SAME: -> (tensor<4x32xf32> {qc.name = "y"}, tensor<4x64xf32> {qc.observe = "fc1:input", qc.observe_axis = -1 : i64, qc.observe_stats = ["amax", "channel_amax", "histogram", "hessian"]})
// CHECK-NOT: qc.fake_quant
// CHECK-NOT: qc.observe "
// CHECK: %[[R:.*]] = linalg.matmul ins(%[[Y:.*]], %{{.*}} :
// CHECK: %[[E:.*]] = tensor.empty() : tensor<4x64xf32>
// CHECK: %[[C:.*]] = linalg.copy ins(%[[Y]] : tensor<4x64xf32>) outs(%[[E]] : tensor<4x64xf32>)
// CHECK: return %[[R]], %[[C]]
// KEEP: qc.fake_quant
func.func @layer(%x: tensor<4x64xf32>) -> (tensor<4x32xf32> {qc.name = "y"}) {
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
