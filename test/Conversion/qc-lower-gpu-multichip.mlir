// qc-lower-gpu with several chips: one gpu.module per chip, each with its
// #nvvm.target, and every qc.matmul launched through an scf.index_switch on
// quantc_cuda_select_target(mask), mask bit i = kGpuChips[i] (sm_80 0,
// sm_90a 1, sm_100a 2, sm_120a 3), whose cases are those indices; the
// default case launches nothing (the runtime recorded why).
// RUN: quant-opt %s --qc-lower-gpu="chip=sm_80,sm_120a" | FileCheck %s

// CHECK-LABEL: func.func private @quantc_cuda_select_target(i32) -> i32
// CHECK-LABEL: func.func @f(
// CHECK:         %[[Y:.*]] = memref.alloc() {alignment = 64 : i64} : memref<1x32xf32>
// CHECK:         %[[MASK:.*]] = arith.constant 9 : i32
// CHECK:         %[[SEL:.*]] = call @quantc_cuda_select_target(%[[MASK]]) : (i32) -> i32
// CHECK:         %[[IDX:.*]] = arith.index_cast %[[SEL]] : i32 to index
// CHECK:         scf.index_switch %[[IDX]]
// CHECK-NEXT:    case 0 {
// CHECK:           gpu.launch_func  @qc_kernels_sm_80::@qc_gemv
// CHECK-SAME:        %[[Y]] : memref<1x32xf32>
// CHECK:         case 3 {
// CHECK:           gpu.launch_func  @qc_kernels_sm_120a::@qc_gemv
// CHECK-SAME:        %[[Y]] : memref<1x32xf32>
// CHECK:         default {
// CHECK-NEXT:    }
// CHECK:         bufferization.to_tensor %[[Y]]
// CHECK:       gpu.module @qc_kernels_sm_80 [#nvvm.target<O = 3, chip = "sm_80", features = "+ptx70">]
// CHECK:       gpu.module @qc_kernels_sm_120a [#nvvm.target<O = 3, chip = "sm_120a", features = "+ptx87">]
func.func @f(%x: tensor<1x64xf32>, %w: !qc.packed<32x64, mxfp4>) -> tensor<1x32xf32> {
  %y = qc.matmul %x, %w : tensor<1x64xf32>, !qc.packed<32x64, mxfp4> -> tensor<1x32xf32>
  return %y : tensor<1x32xf32>
}
