// The FP8 wgmma GEMMs assemble for sm_90a without spills and without
// wgmma serialization (ptxas says "Potential Performance Loss: wgmma.mma_async
// instructions are serialized" when the accumulators do not fit the 255
// registers): MXFP8 x MXFP8 (stages of 128) and per-channel e4m3 x per-row
// e4m3 at K % 256 == 0 (stages of 256) and K % 256 != 0 (128), per-tensor
// scales, E5M2 x E4M3, with f32, bf16 and f16 results.
// REQUIRES: ptxas
// RUN: quant-opt %s --qc-lower-gpu=chip=sm_90a --quantc-gpu-to-ptx -o %t.mlir
// RUN: %python %lit_tools/extract_ptx.py %t.mlir %t.ptx
// RUN: %ptxas -arch=sm_90a -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s
// CHECK-NOT: serialized
// CHECK-COUNT-5: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// CHECK-NOT: serialized
// RUN: grep -c "wgmma.mma_async.sync.aligned.m64n128k32.f32.e[45]m[32].e[45]m[32]" %t.ptx | FileCheck %s --check-prefix=COUNT
// 4 (MX, one per block) + 8 + 4 + 8 (row scales, one per k32 step) + 4.
// COUNT: 28

func.func @mx(%x: tensor<256x512xf32>, %w: !qc.packed<256x512, mxfp8_e4m3>) -> tensor<256x256xf32> {
  %y = qc.matmul %x, %w act <mxfp8_e4m3> : tensor<256x512xf32>, !qc.packed<256x512, mxfp8_e4m3> -> tensor<256x256xf32>
  return %y : tensor<256x256xf32>
}
func.func @row_256(%x: tensor<256x512xf32>, %w: !qc.packed<256x512, e4m3>) -> tensor<256x256xbf16> {
  %y = qc.matmul %x, %w act <e4m3> : tensor<256x512xf32>, !qc.packed<256x512, e4m3> -> tensor<256x256xbf16>
  return %y : tensor<256x256xbf16>
}
func.func @row_128(%x: tensor<100x384xf32>, %w: !qc.packed<200x384, e4m3>) -> tensor<100x200xf32> {
  %y = qc.matmul %x, %w act <e4m3> : tensor<100x384xf32>, !qc.packed<200x384, e4m3> -> tensor<100x200xf32>
  return %y : tensor<100x200xf32>
}
func.func @per_tensor(%x: tensor<256x512xf32>, %w: !qc.packed<256x512, e4m3, granularity = tensor>) -> tensor<256x256xf16> {
  %y = qc.matmul %x, %w act <e4m3, granularity = tensor> : tensor<256x512xf32>, !qc.packed<256x512, e4m3, granularity = tensor> -> tensor<256x256xf16>
  return %y : tensor<256x256xf16>
}
func.func @e5m2_e4m3(%x: tensor<256x256xf32>, %w: !qc.packed<256x256, mxfp8_e4m3>) -> tensor<256x256xf32> {
  %y = qc.matmul %x, %w act <mxfp8_e5m2> : tensor<256x256xf32>, !qc.packed<256x256, mxfp8_e4m3> -> tensor<256x256xf32>
  return %y : tensor<256x256xf32>
}
