// The sm_120a block-scaled mma.sync kernels assemble with ptxas
// -arch=sm_120a without spills: the staged GEMM for every way an operand
// reaches shared memory (16-byte chunks of packed FP4 for kind::mxf4nvf4
// and of FP8; FP4 in .b4x16_p64 and FP6 in .b6x16_p32 chunks for
// kind::mxf8f6f4, on A and on B), ue8m0 1X/2X and ue4m3 4X scales, and the
// small-M kernel (M <= 16) of the MXFP4, NVFP4 and MXFP8 pairs.
// REQUIRES: ptxas
// RUN: quant-opt %s --qc-lower-gpu=chip=sm_120a --quantc-gpu-to-ptx -o %t.mlir
// RUN: %python %lit_tools/extract_ptx.py %t.mlir %t.ptx
// RUN: %ptxas -arch=sm_120a -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s
// CHECK-NOT: {{[1-9][0-9]*}} bytes spill
// RUN: FileCheck %s --check-prefix=PTX < %t.ptx
// PTX-DAG: mma.sync.aligned.m16n8k64.row.col.kind::mxf4nvf4.block_scale.scale_vec::2X.f32.e2m1.e2m1.f32.ue8m0
// PTX-DAG: mma.sync.aligned.m16n8k64.row.col.kind::mxf4nvf4.block_scale.scale_vec::4X.f32.e2m1.e2m1.f32.ue4m3
// PTX-DAG: mma.sync.aligned.m16n8k32.row.col.kind::mxf8f6f4.block_scale.scale_vec::1X.f32.e5m2.e4m3.f32.ue8m0
// PTX-DAG: mma.sync.aligned.m16n8k32.row.col.kind::mxf8f6f4.block_scale.scale_vec::1X.f32.e4m3.e2m1.f32.ue8m0
// PTX-DAG: mma.sync.aligned.m16n8k32.row.col.kind::mxf8f6f4.block_scale.scale_vec::1X.f32.e2m1.e5m2.f32.ue8m0
// PTX-DAG: mma.sync.aligned.m16n8k32.row.col.kind::mxf8f6f4.block_scale.scale_vec::1X.f32.e2m3.e3m2.f32.ue8m0
// PTX-DAG: mma.sync.aligned.m16n8k32.row.col.kind::mxf8f6f4.block_scale.scale_vec::1X.f32.e4m3.e2m3.f32.ue8m0
// PTX-DAG: mma.sync.aligned.m16n8k32.row.col.kind::mxf8f6f4.block_scale.scale_vec::1X.f32.e3m2.e2m1.f32.ue8m0
// PTX-DAG: ldmatrix.sync.aligned.m8n16.x4.shared.b8x16.b4x16_p64
// PTX-DAG: ldmatrix.sync.aligned.m8n16.x4.shared.b8x16.b6x16_p32
// PTX-DAG: ldmatrix.sync.aligned.m8n8.x4.shared.b16
// PTX-DAG: cp.async.cg.shared.global [{{.*}}], [{{.*}}], 16
// PTX-DAG: cp.async.ca.shared.global [{{.*}}], [{{.*}}], 8
// PTX-DAG: cp.async.ca.shared.global [{{.*}}], [{{.*}}], 4

// The staged GEMM.
func.func @mxfp4(%x: tensor<256x4096xf32>, %w: !qc.packed<256x4096, mxfp4>) -> tensor<256x256xf32> {
  %y = qc.matmul %x, %w act <mxfp4> : tensor<256x4096xf32>, !qc.packed<256x4096, mxfp4> -> tensor<256x256xf32>
  return %y : tensor<256x256xf32>
}
func.func @nvfp4(%x: tensor<200x4096xbf16>, %w: !qc.packed<256x4096, nvfp4>) -> tensor<200x256xbf16> {
  %y = qc.matmul %x, %w act <nvfp4> : tensor<200x4096xbf16>, !qc.packed<256x4096, nvfp4> -> tensor<200x256xbf16>
  return %y : tensor<200x256xbf16>
}
func.func @mxfp8(%x: tensor<256x4096xf16>, %w: !qc.packed<256x4096, mxfp8_e4m3>) -> tensor<256x256xf16> {
  %y = qc.matmul %x, %w act <mxfp8_e5m2> : tensor<256x4096xf16>, !qc.packed<256x4096, mxfp8_e4m3> -> tensor<256x256xf16>
  return %y : tensor<256x256xf16>
}
func.func @w4a8(%x: tensor<256x4096xf32>, %w: !qc.packed<256x4096, mxfp4>) -> tensor<256x256xf32> {
  %y = qc.matmul %x, %w act <mxfp8_e4m3> : tensor<256x4096xf32>, !qc.packed<256x4096, mxfp4> -> tensor<256x256xf32>
  return %y : tensor<256x256xf32>
}
func.func @a4w8(%x: tensor<256x4096xf32>, %w: !qc.packed<256x4096, mxfp8_e5m2>) -> tensor<256x256xf32> {
  %y = qc.matmul %x, %w act <mxfp4> : tensor<256x4096xf32>, !qc.packed<256x4096, mxfp8_e5m2> -> tensor<256x256xf32>
  return %y : tensor<256x256xf32>
}
func.func @mxfp6(%x: tensor<256x4096xf32>, %w: !qc.packed<256x4096, mxfp6_e3m2>) -> tensor<256x256xf32> {
  %y = qc.matmul %x, %w act <mxfp6_e2m3> : tensor<256x4096xf32>, !qc.packed<256x4096, mxfp6_e3m2> -> tensor<256x256xf32>
  return %y : tensor<256x256xf32>
}
func.func @w6a8(%x: tensor<130x4096xf32>, %w: !qc.packed<160x4096, mxfp6_e2m3>) -> tensor<130x160xf32> {
  %y = qc.matmul %x, %w act <mxfp8_e4m3> : tensor<130x4096xf32>, !qc.packed<160x4096, mxfp6_e2m3> -> tensor<130x160xf32>
  return %y : tensor<130x160xf32>
}
func.func @w4a6(%x: tensor<256x4096xf32>, %w: !qc.packed<256x4096, mxfp4>) -> tensor<256x256xf32> {
  %y = qc.matmul %x, %w act <mxfp6_e3m2> : tensor<256x4096xf32>, !qc.packed<256x4096, mxfp4> -> tensor<256x256xf32>
  return %y : tensor<256x256xf32>
}
// The small-M kernel.
func.func @mxfp4_decode(%x: tensor<1x4096xf32>, %w: !qc.packed<256x4096, mxfp4>) -> tensor<1x256xf32> {
  %y = qc.matmul %x, %w act <mxfp4> : tensor<1x4096xf32>, !qc.packed<256x4096, mxfp4> -> tensor<1x256xf32>
  return %y : tensor<1x256xf32>
}
func.func @nvfp4_decode(%x: tensor<16x4096xf16>, %w: !qc.packed<256x4096, nvfp4>) -> tensor<16x256xf16> {
  %y = qc.matmul %x, %w act <nvfp4> : tensor<16x4096xf16>, !qc.packed<256x4096, nvfp4> -> tensor<16x256xf16>
  return %y : tensor<16x256xf16>
}
func.func @mxfp8_decode(%x: tensor<4x4096xf32>, %w: !qc.packed<256x4096, mxfp8_e5m2>) -> tensor<4x256xf32> {
  %y = qc.matmul %x, %w act <mxfp8_e5m2> : tensor<4x4096xf32>, !qc.packed<256x4096, mxfp8_e5m2> -> tensor<4x256xf32>
  return %y : tensor<4x256xf32>
}
