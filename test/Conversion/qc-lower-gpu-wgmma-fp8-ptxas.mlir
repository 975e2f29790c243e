// The FP8 wgmma GEMMs assemble for sm_90a without spills and without
// wgmma serialization (ptxas says "Potential Performance Loss: wgmma.mma_async
// instructions are serialized" when the accumulators do not fit the 255
// registers): MXFP8 x MXFP8 (stages of 128) and per-channel e4m3 x per-row
// e4m3 at K % 256 == 0 (stages of 256) and K % 256 != 0 (128), with f32 and
// bf16 results.
// REQUIRES: ptxas
// RUN: quant-opt %s --qc-lower-gpu=chip=sm_90a --quantc-gpu-to-ptx -o %t.mlir
// RUN: %python %lit_tools/extract_ptx.py %t.mlir %t.ptx
// RUN: %ptxas -arch=sm_90a -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s
// CHECK-NOT: serialized
// CHECK-COUNT-4: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// CHECK-NOT: serialized
// RUN: grep -c "wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3" %t.ptx | FileCheck %s --check-prefix=COUNT
// 4 (MX, one per block) + 8 + 4 + 8 (row scales, one per k32 step).
// COUNT: 24

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
