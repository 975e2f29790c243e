// RUN: not quant-opt %s --qc-lower-gpu=chip=sm_75 2>&1 | FileCheck %s

// CHECK: error: qc-lower-gpu: unknown chip 'sm_75' (supported: sm_80, sm_90a, sm_100a, sm_120a)
func.func @f(%x: tensor<1x64xf32>, %w: !qc.packed<32x64, mxfp4>) -> tensor<1x32xf32> {
  %y = qc.matmul %x, %w : tensor<1x64xf32>, !qc.packed<32x64, mxfp4> -> tensor<1x32xf32>
  return %y : tensor<1x32xf32>
}
