// Every emitted PTX assembles with the CUDA toolkit's ptxas for its chip, for
// a spread of formats (4/6/8-bit minifloats and integers, 3-bit codes that
// straddle bytes, E8M0/E4M3/f32/f16/bf16 scales, zero points, 2-D blocks) and
// every kernel kind (GEMV, mma.sync GEMM, the sm_90a wgmma GEMM, SIMT), with
// f32, f16 and bf16 activations.
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

func.func @gemv_0(%x: tensor<3x256xf32>, %w: !qc.packed<64x256, mxfp4>) -> tensor<3x64xf32> {
  %y = qc.matmul %x, %w : tensor<3x256xf32>, !qc.packed<64x256, mxfp4> -> tensor<3x64xf32>
  return %y : tensor<3x64xf32>
}
func.func @gemv_2(%x: tensor<3x256xf32>, %w: !qc.packed<64x256, mxfp6_e3m2>) -> tensor<3x64xf32> {
  %y = qc.matmul %x, %w : tensor<3x256xf32>, !qc.packed<64x256, mxfp6_e3m2> -> tensor<3x64xf32>
  return %y : tensor<3x64xf32>
}
func.func @gemv_3(%x: tensor<3x256xf32>, %w: !qc.packed<64x256, mxfp8_e4m3>) -> tensor<3x64xf32> {
  %y = qc.matmul %x, %w : tensor<3x256xf32>, !qc.packed<64x256, mxfp8_e4m3> -> tensor<3x64xf32>
  return %y : tensor<3x64xf32>
}
func.func @gemv_4(%x: tensor<3x256xf32>, %w: !qc.packed<64x256, mxfp8_e5m2>) -> tensor<3x64xf32> {
  %y = qc.matmul %x, %w : tensor<3x256xf32>, !qc.packed<64x256, mxfp8_e5m2> -> tensor<3x64xf32>
  return %y : tensor<3x64xf32>
}
func.func @gemv_6(%x: tensor<3x256xf32>, %w: !qc.packed<64x256, nvfp4>) -> tensor<3x64xf32> {
  %y = qc.matmul %x, %w : tensor<3x256xf32>, !qc.packed<64x256, nvfp4> -> tensor<3x64xf32>
  return %y : tensor<3x64xf32>
}
func.func @gemv_7(%x: tensor<3x256xf32>, %w: !qc.packed<64x256, nvint4>) -> tensor<3x64xf32> {
  %y = qc.matmul %x, %w : tensor<3x256xf32>, !qc.packed<64x256, nvint4> -> tensor<3x64xf32>
  return %y : tensor<3x64xf32>
}
func.func @gemv_8(%x: tensor<3x256xf32>, %w: !qc.packed<64x256, int8>) -> tensor<3x64xf32> {
  %y = qc.matmul %x, %w : tensor<3x256xf32>, !qc.packed<64x256, int8> -> tensor<3x64xf32>
  return %y : tensor<3x64xf32>
}
func.func @gemv_11(%x: tensor<3x256xf32>, %w: !qc.packed<64x256, int4_g128>) -> tensor<3x64xf32> {
  %y = qc.matmul %x, %w : tensor<3x256xf32>, !qc.packed<64x256, int4_g128> -> tensor<3x64xf32>
  return %y : tensor<3x64xf32>
}
func.func @gemv_12(%x: tensor<3x256xf32>, %w: !qc.packed<64x256, uint4>) -> tensor<3x64xf32> {
  %y = qc.matmul %x, %w : tensor<3x256xf32>, !qc.packed<64x256, uint4> -> tensor<3x64xf32>
  return %y : tensor<3x64xf32>
}
func.func @gemv_14(%x: tensor<3x256xf32>, %w: !qc.packed<64x256, int3>) -> tensor<3x64xf32> {
  %y = qc.matmul %x, %w : tensor<3x256xf32>, !qc.packed<64x256, int3> -> tensor<3x64xf32>
  return %y : tensor<3x64xf32>
}
func.func @gemv_17(%x: tensor<3x256xf32>, %w: !qc.packed<64x256, e5m2, saturate = false>) -> tensor<3x64xf32> {
  %y = qc.matmul %x, %w : tensor<3x256xf32>, !qc.packed<64x256, e5m2, saturate = false> -> tensor<3x64xf32>
  return %y : tensor<3x64xf32>
}
func.func @gemv_18(%x: tensor<3x256xf32>, %w: !qc.packed<64x256, int4_g32, scale = bf16>) -> tensor<3x64xf32> {
  %y = qc.matmul %x, %w : tensor<3x256xf32>, !qc.packed<64x256, int4_g32, scale = bf16> -> tensor<3x64xf32>
  return %y : tensor<3x64xf32>
}
func.func @gemv_20(%x: tensor<3x256xf32>, %w: !qc.packed<64x256, int4, granularity = block2d, block = 16, block2 = 32>) -> tensor<3x64xf32> {
  %y = qc.matmul %x, %w : tensor<3x256xf32>, !qc.packed<64x256, int4, granularity = block2d, block = 16, block2 = 32> -> tensor<3x64xf32>
  return %y : tensor<3x64xf32>
}
func.func @gemm_0(%x: tensor<130x256xf32>, %w: !qc.packed<160x256, mxfp4>) -> tensor<130x160xf32> {
  %y = qc.matmul %x, %w : tensor<130x256xf32>, !qc.packed<160x256, mxfp4> -> tensor<130x160xf32>
  return %y : tensor<130x160xf32>
}
func.func @gemm_1(%x: tensor<130x256xf32>, %w: !qc.packed<160x256, nvfp4>) -> tensor<130x160xf32> {
  %y = qc.matmul %x, %w : tensor<130x256xf32>, !qc.packed<160x256, nvfp4> -> tensor<130x160xf32>
  return %y : tensor<130x160xf32>
}
func.func @gemm_2(%x: tensor<130x256xf32>, %w: !qc.packed<160x256, mxfp8_e4m3>) -> tensor<130x160xf32> {
  %y = qc.matmul %x, %w : tensor<130x256xf32>, !qc.packed<160x256, mxfp8_e4m3> -> tensor<130x160xf32>
  return %y : tensor<130x160xf32>
}
func.func @gemm_5(%x: tensor<130x256xf32>, %w: !qc.packed<160x256, int4_g128>) -> tensor<130x160xf32> {
  %y = qc.matmul %x, %w : tensor<130x256xf32>, !qc.packed<160x256, int4_g128> -> tensor<130x160xf32>
  return %y : tensor<130x160xf32>
}
func.func @gemm_7(%x: tensor<130x256xf32>, %w: !qc.packed<160x256, uint4>) -> tensor<130x160xf32> {
  %y = qc.matmul %x, %w : tensor<130x256xf32>, !qc.packed<160x256, uint4> -> tensor<130x160xf32>
  return %y : tensor<130x160xf32>
}
func.func @gemm_9(%x: tensor<130x256xf32>, %w: !qc.packed<160x256, int3>) -> tensor<130x160xf32> {
  %y = qc.matmul %x, %w : tensor<130x256xf32>, !qc.packed<160x256, int3> -> tensor<130x160xf32>
  return %y : tensor<130x160xf32>
}
func.func @gemv_f16(%x: tensor<16x256xf16>, %w: !qc.packed<64x256, nvfp4>) -> tensor<16x64xf16> {
  %y = qc.matmul %x, %w : tensor<16x256xf16>, !qc.packed<64x256, nvfp4> -> tensor<16x64xf16>
  return %y : tensor<16x64xf16>
}
func.func @gemm_bf16(%x: tensor<64x256xbf16>, %w: !qc.packed<64x256, mxfp4>) -> tensor<64x64xbf16> {
  %y = qc.matmul %x, %w : tensor<64x256xbf16>, !qc.packed<64x256, mxfp4> -> tensor<64x64xbf16>
  return %y : tensor<64x64xbf16>
}
func.func @simt_odd_k(%x: tensor<5x100xf32>, %w: !qc.packed<7x100, int5>) -> tensor<5x7xf32> {
  %y = qc.matmul %x, %w : tensor<5x100xf32>, !qc.packed<7x100, int5> -> tensor<5x7xf32>
  return %y : tensor<5x7xf32>
}
