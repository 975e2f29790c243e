// REQUIRES: cpu-x86-64-v3
// RUN: quant-opt %s --quantc-lower-to-llvm | FileCheck %s

// Through the whole CPU pipeline a convolution on tensors becomes a kernel
// of vector multiply-adds run by quantc_parallel_for; no scalar loop nest is left.
// (The host has FMA: one fused multiply-add per product.)

// CHECK-LABEL: llvm.func @conv
// CHECK: llvm.mlir.addressof @__quantc_contraction_0_trampoline
// CHECK: llvm.call @quantc_parallel_for
// CHECK: llvm.func internal @__quantc_contraction_0(
// CHECK-NOT: llvm.fmul
// CHECK: llvm.intr.fma({{.*}}) : (vector<16xf32>, vector<16xf32>, vector<16xf32>) -> vector<16xf32>
// CHECK-NOT: llvm.fmul
// CHECK: llvm.func internal @__quantc_contraction_0_trampoline
func.func @conv(%x: tensor<1x8x18x18xf32>, %w: tensor<16x8x3x3xf32>) -> tensor<1x16x16x16xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x16x16x16xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x16x16x16xf32>) -> tensor<1x16x16x16xf32>
  %y = linalg.conv_2d_nchw_fchw ins(%x, %w : tensor<1x8x18x18xf32>, tensor<16x8x3x3xf32>)
                                outs(%f : tensor<1x16x16x16xf32>) -> tensor<1x16x16x16xf32>
  return %y : tensor<1x16x16x16xf32>
}
