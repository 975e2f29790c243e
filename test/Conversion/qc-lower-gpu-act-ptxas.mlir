// qc.matmul with quantized activations (`act`): the activation quantizer,
// the dequantizer of the fake-quantizing chips and the matmul kernels
// assemble with the CUDA toolkit's ptxas for every chip, for every kind of
// act format: MX (E8M0; fp4, fp6, fp8, int8 elements), NV (E4M3 + tensor
// scale, dynamic in one CTA or static), per-row and per-tensor f32 scales,
// asymmetric (zero points), f16 and bf16 activations; on sm_120a the
// block-scaled mma.sync kernels for the MXFP4/NVFP4/MXFP8/MXFP6 pairs.
// REQUIRES: ptxas
// RUN: quant-opt %s --qc-lower-gpu=chip=sm_80 --quantc-gpu-to-ptx -o %t.sm_80.mlir
// RUN: %python %lit_tools/extract_ptx.py %t.sm_80.mlir %t.sm_80.ptx
// RUN: %ptxas -arch=sm_80 %t.sm_80.ptx -o %t.sm_80.cubin
// RUN: quant-opt %s --qc-lower-gpu=chip=sm_90a --quantc-gpu-to-ptx -o %t.sm_90a.mlir
// RUN: %python %lit_tools/extract_ptx.py %t.sm_90a.mlir %t.sm_90a.ptx
// RUN: %ptxas -arch=sm_90a %t.sm_90a.ptx -o %t.sm_90a.cubin
// RUN: quant-opt %s --qc-lower-gpu=chip=sm_100a --quantc-gpu-to-ptx -o %t.sm_100a.mlir
// RUN: %python %lit_tools/extract_ptx.py %t.sm_100a.mlir %t.sm_100a.ptx
// RUN: %ptxas -arch=sm_100a %t.sm_100a.ptx -o %t.sm_100a.cubin
// RUN: quant-opt %s --qc-lower-gpu=chip=sm_120a --quantc-gpu-to-ptx -o %t.sm_120a.mlir
// RUN: %python %lit_tools/extract_ptx.py %t.sm_120a.mlir %t.sm_120a.ptx
// RUN: %ptxas -arch=sm_120a %t.sm_120a.ptx -o %t.sm_120a.cubin
// The hardware converts where the chip has them, integer arithmetic elsewhere.
// RUN: FileCheck %s --check-prefix=SM80 < %t.sm_80.ptx
// RUN: FileCheck %s --check-prefix=SM90 < %t.sm_90a.ptx
// RUN: FileCheck %s --check-prefix=SM120 < %t.sm_120a.ptx
// SM80-NOT: cvt.rn.satfinite
// SM90-NOT: cvt.rn.satfinite.e2m1x2
// SM90: cvt.rn.satfinite.e4m3x2.f32
// SM90: cvt.rn.satfinite.e5m2x2.f32
// SM90-NOT: cvt.rn.satfinite.e2m1x2
// SM120-DAG: cvt.rn.satfinite.e2m1x2.f32
// SM120-DAG: cvt.rn.satfinite.e2m3x2.f32
// SM120-DAG: cvt.rn.satfinite.e3m2x2.f32
// SM120-DAG: cvt.rn.satfinite.e4m3x2.f32
// SM120-DAG: cvt.rn.satfinite.e5m2x2.f32
// sm_120a runs MXFP4, NVFP4, MXFP8 and MXFP6 pairs on the block-scaled
// mma.sync (MXFP6 as 8-bit containers of kind::mxf8f6f4).
// SM120-DAG: mma.sync.aligned.m16n8k64.row.col.kind::mxf4nvf4.block_scale.scale_vec::2X.f32.e2m1.e2m1.f32.ue8m0
// SM120-DAG: mma.sync.aligned.m16n8k64.row.col.kind::mxf4nvf4.block_scale.scale_vec::4X.f32.e2m1.e2m1.f32.ue4m3
// SM120-DAG: mma.sync.aligned.m16n8k32.row.col.kind::mxf8f6f4.block_scale.scale_vec::1X.f32.e4m3.e4m3.f32.ue8m0
// SM120-DAG: mma.sync.aligned.m16n8k32.row.col.kind::mxf8f6f4.block_scale.scale_vec::1X.f32.e5m2.e5m2.f32.ue8m0
// SM120-DAG: mma.sync.aligned.m16n8k32.row.col.kind::mxf8f6f4.block_scale.scale_vec::1X.f32.e2m3.e2m3.f32.ue8m0
// SM120-DAG: mma.sync.aligned.m16n8k32.row.col.kind::mxf8f6f4.block_scale.scale_vec::1X.f32.e3m2.e3m2.f32.ue8m0

func.func @mxfp4(%x: tensor<130x256xf32>, %w: !qc.packed<160x256, mxfp4>) -> tensor<130x160xf32> {
  %y = qc.matmul %x, %w act <mxfp4> : tensor<130x256xf32>, !qc.packed<160x256, mxfp4> -> tensor<130x160xf32>
  return %y : tensor<130x160xf32>
}
func.func @nvfp4(%x: tensor<3x256xf16>, %w: !qc.packed<64x256, nvfp4>) -> tensor<3x64xf16> {
  %y = qc.matmul %x, %w act <nvfp4> : tensor<3x256xf16>, !qc.packed<64x256, nvfp4> -> tensor<3x64xf16>
  return %y : tensor<3x64xf16>
}
func.func @nvfp4_static(%x: tensor<2x8x256xbf16>, %w: !qc.packed<64x256, nvfp4>) -> tensor<2x8x64xbf16> {
  %y = qc.matmul %x, %w act <nvfp4, amax = 12.5> : tensor<2x8x256xbf16>, !qc.packed<64x256, nvfp4> -> tensor<2x8x64xbf16>
  return %y : tensor<2x8x64xbf16>
}
func.func @mxfp6_e2m3(%x: tensor<3x256xf32>, %w: !qc.packed<64x256, mxfp6_e2m3>) -> tensor<3x64xf32> {
  %y = qc.matmul %x, %w act <mxfp6_e2m3> : tensor<3x256xf32>, !qc.packed<64x256, mxfp6_e2m3> -> tensor<3x64xf32>
  return %y : tensor<3x64xf32>
}
func.func @mxfp6_e3m2(%x: tensor<3x256xf32>, %w: !qc.packed<64x256, mxfp6_e3m2>) -> tensor<3x64xf32> {
  %y = qc.matmul %x, %w act <mxfp6_e3m2> : tensor<3x256xf32>, !qc.packed<64x256, mxfp6_e3m2> -> tensor<3x64xf32>
  return %y : tensor<3x64xf32>
}
func.func @mxfp8_e4m3(%x: tensor<130x256xf32>, %w: !qc.packed<160x256, mxfp8_e4m3>) -> tensor<130x160xf32> {
  %y = qc.matmul %x, %w act <mxfp8_e4m3> : tensor<130x256xf32>, !qc.packed<160x256, mxfp8_e4m3> -> tensor<130x160xf32>
  return %y : tensor<130x160xf32>
}
func.func @mxfp8_e5m2(%x: tensor<3x256xf32>, %w: !qc.packed<64x256, mxfp8_e5m2>) -> tensor<3x64xf32> {
  %y = qc.matmul %x, %w act <mxfp8_e5m2> : tensor<3x256xf32>, !qc.packed<64x256, mxfp8_e5m2> -> tensor<3x64xf32>
  return %y : tensor<3x64xf32>
}
func.func @mxint8(%x: tensor<3x256xf32>, %w: !qc.packed<64x256, int4_g32>) -> tensor<3x64xf32> {
  %y = qc.matmul %x, %w act <mxint8> : tensor<3x256xf32>, !qc.packed<64x256, int4_g32> -> tensor<3x64xf32>
  return %y : tensor<3x64xf32>
}
func.func @int8_per_row(%x: tensor<3x256xf32>, %w: !qc.packed<64x256, int4_g128>) -> tensor<3x64xf32> {
  %y = qc.matmul %x, %w act <int8> : tensor<3x256xf32>, !qc.packed<64x256, int4_g128> -> tensor<3x64xf32>
  return %y : tensor<3x64xf32>
}
func.func @int8_per_tensor(%x: tensor<3x256xf32>, %w: !qc.packed<64x256, int8>) -> tensor<3x64xf32> {
  %y = qc.matmul %x, %w act <int8, granularity = tensor> : tensor<3x256xf32>, !qc.packed<64x256, int8> -> tensor<3x64xf32>
  return %y : tensor<3x64xf32>
}
func.func @uint8_asymmetric(%x: tensor<3x256xf32>, %w: !qc.packed<64x256, int8>) -> tensor<3x64xf32> {
  %y = qc.matmul %x, %w act <uint8> : tensor<3x256xf32>, !qc.packed<64x256, int8> -> tensor<3x64xf32>
  return %y : tensor<3x64xf32>
}
