// PTX for each target from LLVM's NVPTX back end (no CUDA toolkit needed):
// the GEMV kernel's 16-byte non-coherent loads and warp shuffles, and the
// GEMM kernel's cp.async staging and mma.sync on every chip but sm_90a,
// which runs wgmma (the other RUN line there keeps the mma.sync kernel with
// wgmma=false).
// RUN: quant-opt %s --qc-lower-gpu=chip=sm_80 --quantc-gpu-to-ptx | FileCheck %s --check-prefixes=CHECK,SM80,MMA
// Without a CUDA toolkit (no CUDA_HOME) nothing may call libdevice (__nv_*),
// whose calls would stay unresolved in the PTX.
// RUN: env -u CUDA_HOME quant-opt %s --qc-lower-gpu=chip=sm_90a --quantc-gpu-to-ptx | FileCheck %s --check-prefixes=CHECK,SM90A,WGMMA --implicit-check-not=__nv_
// RUN: quant-opt %s --qc-lower-gpu="chip=sm_90a wgmma=false" --quantc-gpu-to-ptx | FileCheck %s --check-prefixes=CHECK,SM90A,MMA
// RUN: quant-opt %s --qc-lower-gpu=chip=sm_100a --quantc-gpu-to-ptx | FileCheck %s --check-prefixes=CHECK,SM100A,MMA
// RUN: quant-opt %s --qc-lower-gpu=chip=sm_120a --quantc-gpu-to-ptx | FileCheck %s --check-prefixes=CHECK,SM120A,MMA

// CHECK: gpu.binary @qc_kernels
// SM80-SAME: #nvvm.target<O = 3, chip = "sm_80", features = "+ptx70">
// SM90A-SAME: #nvvm.target<O = 3, chip = "sm_90a", features = "+ptx80">
// SM100A-SAME: #nvvm.target<O = 3, chip = "sm_100a", features = "+ptx87">
// SM120A-SAME: #nvvm.target<O = 3, chip = "sm_120a", features = "+ptx87">
// SM80-SAME: .version 7.0\0A.target sm_80
// SM90A-SAME: .version 8.0\0A.target sm_90a
// SM100A-SAME: .version 8.7\0A.target sm_100a
// SM120A-SAME: .version 8.7\0A.target sm_120a
// CHECK-SAME: .visible .entry qc_gemv(
// CHECK-SAME: .maxntid 128, 1, 1
// CHECK-SAME: ld.global.nc.v4.b32
// CHECK-SAME: fma.rn.f32
// CHECK-SAME: shfl.sync.bfly.b32
// MMA-SAME: .visible .entry qc_mma_gemm(
// MMA-SAME: .maxntid 256, 1, 1
// MMA-SAME: cp.async.cg.shared.global
// MMA-SAME: cp.async.commit_group
// MMA-SAME: cp.async.wait_group
// MMA-SAME: bar.sync
// MMA-SAME: cvt.rn.f16x2.f32
// MMA-SAME: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// WGMMA-SAME: .visible .entry qc_wgmma_gemm(
// WGMMA-SAME: .maxntid 256, 1, 1
// WGMMA-SAME: cp.async.cg.shared.global
// WGMMA-SAME: cvt.rn.bf16x2.f32
// WGMMA-SAME: fence.proxy.async.shared::cta
// (the loop is rotated: the wgmma wait of step s - 1 heads step s)
// WGMMA-SAME: wgmma.wait_group.sync.aligned
// WGMMA-SAME: bar.sync
// WGMMA-SAME: wgmma.fence.sync.aligned
// WGMMA-SAME: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
// WGMMA-SAME: wgmma.commit_group.sync.aligned
// WGMMA-SAME: cvt.rn.bf16x2.f32
// CHECK-NOT: gpu.module
// CHECK-NOT: qc.matmul

func.func @decode(%x: tensor<1x4096xf32>, %w: !qc.packed<4096x4096, mxfp4>) -> tensor<1x4096xf32> {
  %y = qc.matmul %x, %w : tensor<1x4096xf32>, !qc.packed<4096x4096, mxfp4> -> tensor<1x4096xf32>
  return %y : tensor<1x4096xf32>
}

func.func @prefill(%x: tensor<128x4096xf32>, %w: !qc.packed<4096x4096, mxfp8_e4m3>) -> tensor<128x4096xf32> {
  %y = qc.matmul %x, %w : tensor<128x4096xf32>, !qc.packed<4096x4096, mxfp8_e4m3> -> tensor<128x4096xf32>
  return %y : tensor<128x4096xf32>
}
