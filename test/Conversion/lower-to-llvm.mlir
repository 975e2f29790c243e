// RUN: quant-opt %s --quantc-lower-to-llvm | FileCheck %s --implicit-check-not=linalg. --implicit-check-not=qc. --implicit-check-not=memref. --implicit-check-not=scf. --implicit-check-not=func.func --implicit-check-not=vector. --implicit-check-not=tensor.

// The whole host pipeline: tensors, linalg, qc format ops and vector code
// all end in the LLVM dialect. Results become out-parameters after the
// inputs (two 2-D memref descriptors each: allocated and aligned pointer,
// offset, two sizes, two strides), the matmul runs as a parallel task, and
// nothing of another dialect is left (the implicit checks).
// Numerics of this pipeline are checked by the quant-run tests
// (test/Transforms/expand-formats-exact.test and others).

// CHECK:       llvm.func @quantc_parallel_for(!llvm.ptr, !llvm.ptr, i64)
// CHECK-LABEL: llvm.func @f(
// CHECK-SAME:    %arg0: !llvm.ptr, %arg1: !llvm.ptr, %arg2: i64, %arg3: i64, %arg4: i64, %arg5: i64, %arg6: i64,
// CHECK-SAME:    %arg7: !llvm.ptr, %arg8: !llvm.ptr, %arg9: i64, %arg10: i64, %arg11: i64, %arg12: i64, %arg13: i64,
// CHECK-SAME:    %arg14: !llvm.ptr, %arg15: !llvm.ptr, %arg16: i64, %arg17: i64, %arg18: i64, %arg19: i64, %arg20: i64,
// CHECK-SAME:    %arg21: !llvm.ptr, %arg22: !llvm.ptr, %arg23: i64, %arg24: i64, %arg25: i64, %arg26: i64, %arg27: i64) {
// CHECK:         llvm.call @quantc_parallel_for(
// CHECK:         llvm.return{{$}}
// CHECK:       llvm.func internal @__quantc_contraction_0(
// CHECK-SAME:    quantc.parallel_task
func.func @f(%x: tensor<2x32xf32>, %w: tensor<32x8xf32>) -> (tensor<2x8xf32>, tensor<2x32xf32>) {
  %q = qc.fake_quant %x as <mxfp4> : tensor<2x32xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x8xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<2x8xf32>) -> tensor<2x8xf32>
  %y = linalg.matmul ins(%q, %w : tensor<2x32xf32>, tensor<32x8xf32>) outs(%f : tensor<2x8xf32>) -> tensor<2x8xf32>
  return %y, %q : tensor<2x8xf32>, tensor<2x32xf32>
}
