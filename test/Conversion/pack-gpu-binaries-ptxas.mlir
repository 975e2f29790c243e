// With ptxas, quantc-pack-gpu-binaries assembles each PTX object for its chip
// and puts the cubin (ELF, "\7FELF") first in the image, then the PTX; a
// PTX ptxas rejects is an error naming the chip.
// REQUIRES: ptxas
// RUN: quant-opt %s --qc-lower-gpu=chip=sm_90a --quantc-gpu-to-ptx --quantc-pack-gpu-binaries=ptxas=%ptxas | FileCheck %s
// RUN: not quant-opt %s --qc-lower-gpu=chip=sm_90a --quantc-gpu-to-ptx --quantc-pack-gpu-binaries=ptxas=%S/pack-gpu-binaries-ptxas.mlir 2>&1 | FileCheck %s --check-prefix=BAD

// CHECK: gpu.binary @qc_kernels  [#gpu.object<#nvvm.target<O = 3, chip = "sm_90a", features = "+ptx80">, properties = {{.*}}, bin = "QCCUDA01\02\00\00\00\00\00\00\00sm_90a\00\00\00\00\00\00\00\00\00\00\01\00\00\00
// CHECK-SAME: \7FELF
// CHECK-SAME: .target sm_90a
// BAD: error: quantc-pack-gpu-binaries: {{.*}}pack-gpu-binaries-ptxas.mlir -arch=sm_90a failed
func.func @f(%x: tensor<1x64xf32>, %w: !qc.packed<32x64, mxfp4>) -> tensor<1x32xf32> {
  %y = qc.matmul %x, %w : tensor<1x64xf32>, !qc.packed<32x64, mxfp4> -> tensor<1x32xf32>
  return %y : tensor<1x32xf32>
}
