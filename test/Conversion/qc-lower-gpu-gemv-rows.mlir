// RUN: quant-opt %s --qc-lower-gpu="chip=sm_90a gemv-rows=16" | FileCheck %s --check-prefix=R16
// RUN: quant-opt %s --qc-lower-gpu="chip=sm_90a" | FileCheck %s --check-prefix=AUTO
// RUN: not quant-opt %s --qc-lower-gpu="chip=sm_90a gemv-rows=129" -o %t 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: not ls %t

// gemv-rows sets the rows of W per GEMV CTA (x is read once per CTA for all
// of them): 64 rows in 4 CTAs of 16 at M = 1, M x R = 16 outputs per CTA
// (16 floats of partials per warp), 16 chunk loads per thread and chunk. At
// M = 16 it is clamped to 128 / M = 8 (a CTA writes its outputs one per
// thread). Automatic: 4 rows at M <= 4, 2 above.

// R16-LABEL: gpu.func @qc_gemv(
// R16-SAME:    workgroup(%{{.*}} : memref<64xf32, #gpu.address_space<workgroup>>
// R16-SAME:    known_block_size = array<i32: 128, 1, 1>, known_grid_size = array<i32: 4, 1, 1>
// R16-COUNT-16: vector.load %{{.*}} : memref<8704xi8>, vector<16xi8>
// R16-NOT:     vector.load %{{.*}} : memref<8704xi8>
// R16:         gpu.return
// R16-LABEL: gpu.func @qc_gemv_0(
// R16-SAME:    workgroup(%{{.*}} : memref<512xf32, #gpu.address_space<workgroup>>
// R16-SAME:    known_grid_size = array<i32: 8, 1, 1>

// AUTO-LABEL: gpu.func @qc_gemv(
// AUTO-SAME:    known_grid_size = array<i32: 16, 1, 1>
// AUTO-LABEL: gpu.func @qc_gemv_0(
// AUTO-SAME:    known_grid_size = array<i32: 32, 1, 1>

// BAD: error: qc-lower-gpu: gemv-rows must be 0 (automatic) or 1 to 128, got 129

func.func @decode(%x: tensor<1x256xf32>, %w: !qc.packed<64x256, mxfp4>) -> tensor<1x64xf32> {
  %y = qc.matmul %x, %w : tensor<1x256xf32>, !qc.packed<64x256, mxfp4> -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}
func.func @decode16(%x: tensor<16x256xf32>, %w: !qc.packed<64x256, mxfp4>) -> tensor<16x64xf32> {
  %y = qc.matmul %x, %w : tensor<16x256xf32>, !qc.packed<64x256, mxfp4> -> tensor<16x64xf32>
  return %y : tensor<16x64xf32>
}
