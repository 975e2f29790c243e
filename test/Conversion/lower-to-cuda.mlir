// RUN: quant-opt %s --quantc-lower-to-cuda=chip=sm_90a | FileCheck %s --implicit-check-not=qc. --implicit-check-not=func.func --implicit-check-not=memref. --implicit-check-not=gpu.alloc --implicit-check-not=gpu.memcpy
// RUN: quant-opt %s --quantc-lower-to-cuda=chip=sm_80 | FileCheck %s --check-prefix=SM80
// RUN: not quant-opt %s --quantc-lower-to-cuda=chip=sm_70 2>&1 | FileCheck %s --check-prefix=BADCHIP

// The whole CUDA pipeline: the qc.matmul becomes a kernel launch on one
// stream, its operands staged to device memory (x and the packed weight
// copied in, the result copied back), the host side lowered to the mgpu*
// runtime calls lib/Runtime/CudaDriver.cpp implements, and the kernel module
// a gpu.binary holding PTX for the chip.

// CHECK-LABEL: llvm.func @f(
// CHECK:         %[[S:.*]] = llvm.call @mgpuStreamCreate()
// CHECK:         llvm.call @mgpuMemAlloc({{.*}}, %[[S]],
// CHECK:         llvm.call @mgpuMemcpy({{.*}}, %[[S]])
// CHECK:         llvm.call @mgpuMemAlloc({{.*}}, %[[S]],
// CHECK:         llvm.call @mgpuMemcpy({{.*}}, %[[S]])
// CHECK:         llvm.call @mgpuMemAlloc({{.*}}, %[[S]],
// CHECK-NOT:     llvm.call @mgpuMemcpy
// CHECK:         gpu.launch_func <%[[S]] : !llvm.ptr> @qc_kernels::@qc_gemv
// CHECK:         llvm.call @mgpuMemcpy({{.*}}, %[[S]])
// CHECK-COUNT-3: llvm.call @mgpuMemFree({{.*}}, %[[S]])
// CHECK-NEXT:    llvm.call @mgpuStreamSynchronize(%[[S]])
// CHECK-NEXT:    llvm.call @mgpuStreamDestroy(%[[S]])
// CHECK:       gpu.binary @qc_kernels  [#gpu.object<#nvvm.target<O = 3, chip = "sm_90a"{{.*}}assembly = "{{.*}}.target sm_90a{{.*}}.entry qc_gemv
// CHECK:       llvm.func @mgpuStreamCreate() -> !llvm.ptr

// SM80: gpu.binary @qc_kernels  [#gpu.object<#nvvm.target<O = 3, chip = "sm_80"{{.*}}.target sm_80

// BADCHIP: unknown chip 'sm_70'
func.func @f(%x: tensor<1x64xf32>, %w: !qc.packed<32x64, mxfp4>) -> tensor<1x32xf32> {
  %y = qc.matmul %x, %w : tensor<1x64xf32>, !qc.packed<32x64, mxfp4> -> tensor<1x32xf32>
  return %y : tensor<1x32xf32>
}
