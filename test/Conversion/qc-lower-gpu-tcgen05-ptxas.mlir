// The sm_100a tcgen05 block-scaled GEMMs assemble with CUDA's ptxas for
// sm_100a (PTX 8.7: .kind::mxf4nvf4 needs it) without spills: MXFP8
// (E4M3 x E4M3 at the benchmark shape 4096 x 4096 x 4096, E5M2 x E4M3 with
// bf16 results and M, N not multiples of 128), MXFP4 (f16) and NVFP4, and
// NVFP4 weights known at compile time (scale tiles from nv_sf128x4, N = 1152:
// 128 x 256 CTA tiles, the last one's second half clamped).
// REQUIRES: ptxas
// RUN: quant-opt %s --qc-lower-gpu=chip=sm_100a --quantc-gpu-to-ptx -o %t.mlir
// RUN: %python %lit_tools/extract_ptx.py %t.mlir %t.ptx
// RUN: %ptxas -arch=sm_100a -v %t.ptx -o %t.cubin 2>&1 | grep -A1 "Function properties for qc_tcgen05" | FileCheck %s --check-prefix=SPILLS
// SPILLS-COUNT-5: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// SPILLS-NOT: spill
// RUN: FileCheck %s --input-file=%t.ptx
// CHECK: .version 8.7
// CHECK: .target sm_100a
// CHECK-DAG: tcgen05.alloc.cta_group::1.sync.aligned.shared::cta.b32
// CHECK-DAG: tcgen05.relinquish_alloc_permit.cta_group::1.sync.aligned;
// CHECK-DAG: tcgen05.cp.cta_group::1.32x128b.warpx4
// CHECK-DAG: tcgen05.mma.cta_group::1.kind::mxf8f6f4.block_scale.scale_vec::1X [%r{{[0-9]+}}], %rd{{[0-9]+}}, %rd{{[0-9]+}}, %r{{[0-9]+}}, [%r{{[0-9]+}}], [%r{{[0-9]+}}], p;
// CHECK-DAG: tcgen05.mma.cta_group::1.kind::mxf4nvf4.block_scale.scale_vec::2X
// CHECK-DAG: tcgen05.mma.cta_group::1.kind::mxf4nvf4.block_scale.scale_vec::4X
// CHECK-DAG: tcgen05.commit.cta_group::1.mbarrier::arrive::one.shared::cluster.b64
// CHECK-DAG: mbarrier.try_wait.parity.shared.b64
// CHECK-DAG: tcgen05.ld.sync.aligned.32x32b.x32.b32
// CHECK-DAG: tcgen05.wait::ld.sync.aligned;
// CHECK-DAG: tcgen05.dealloc.cta_group::1.sync.aligned.b32

func.func @mxfp8_bench(%x: tensor<4096x4096xf32>, %w: !qc.packed<4096x4096, mxfp8_e4m3>) -> tensor<4096x4096xf32> {
  %y = qc.matmul %x, %w act <mxfp8_e4m3> : tensor<4096x4096xf32>, !qc.packed<4096x4096, mxfp8_e4m3> -> tensor<4096x4096xf32>
  return %y : tensor<4096x4096xf32>
}
func.func @mxfp8_mixed(%x: tensor<200x1024xbf16>, %w: !qc.packed<200x1024, mxfp8_e4m3>) -> tensor<200x200xbf16> {
  %y = qc.matmul %x, %w act <mxfp8_e5m2> : tensor<200x1024xbf16>, !qc.packed<200x1024, mxfp8_e4m3> -> tensor<200x200xbf16>
  return %y : tensor<200x200xbf16>
}
func.func @mxfp4(%x: tensor<4096x4096xf16>, %w: !qc.packed<4096x4096, mxfp4>) -> tensor<4096x4096xf16> {
  %y = qc.matmul %x, %w act <mxfp4> : tensor<4096x4096xf16>, !qc.packed<4096x4096, mxfp4> -> tensor<4096x4096xf16>
  return %y : tensor<4096x4096xf16>
}
func.func @nvfp4(%x: tensor<4096x4096xf32>, %w: !qc.packed<4096x4096, nvfp4>) -> tensor<4096x4096xf32> {
  %y = qc.matmul %x, %w act <nvfp4> : tensor<4096x4096xf32>, !qc.packed<4096x4096, nvfp4> -> tensor<4096x4096xf32>
  return %y : tensor<4096x4096xf32>
}

func.func @nvfp4_constant(%x: tensor<256x512xf32>) -> tensor<256x1152xf32> {
  %c = arith.constant dense<0.5> : tensor<1152x512xf32>
  %w = qc.quantize %c : tensor<1152x512xf32> -> !qc.packed<1152x512, nvfp4>
  %y = qc.matmul %x, %w act <nvfp4> : tensor<256x512xf32>, !qc.packed<1152x512, nvfp4> -> tensor<256x1152xf32>
  return %y : tensor<256x1152xf32>
}
