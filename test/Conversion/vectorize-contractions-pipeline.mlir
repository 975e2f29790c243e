// RUN: quant-opt %s --quantc-lower-to-llvm | FileCheck %s

// Through the whole CPU pipeline a convolution on tensors becomes a kernel
// of vector multiply-adds run by quantc_parallel_for; no scalar loop nest is left.

// CHECK-LABEL: llvm.func @conv
// CHECK: llvm.mlir.addressof @__quantc_contraction_0_trampoline
// CHECK: llvm.call @quantc_parallel_for
// CHECK: llvm.func internal @__quantc_contraction_0(
// CHECK: llvm.fmul {{.*}} : vector<16xf32>
// CHECK: llvm.fadd {{.*}} : vector<16xf32>
// CHECK: llvm.func internal @__quantc_contraction_0_trampoline
func.func @conv(%x: tensor<1x8x18x18xf32>, %w: tensor<16x8x3x3xf32>) -> tensor<1x16x16x16xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x16x16x16xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x16x16x16xf32>) -> tensor<1x16x16x16xf32>
  %y = linalg.conv_2d_nchw_fchw ins(%x, %w : tensor<1x8x18x18xf32>, tensor<16x8x3x3xf32>)
                                outs(%f : tensor<1x16x16x16xf32>) -> tensor<1x16x16x16xf32>
  return %y : tensor<1x16x16x16xf32>
}
