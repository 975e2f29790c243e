// RUN: quant-opt %s --split-input-file --qc-lower-gpu=chip=sm_120a \
// RUN:   --canonicalize --cse | FileCheck %s
// RUN: quant-opt %s --split-input-file --qc-lower-gpu=chip=sm_100a \
// RUN:   --canonicalize --cse | FileCheck %s --check-prefix=SM100

// sm_120a, NVFP4 weights x NVFP4 activations: x quantized on the GPU (the
// tensor statistics first, for the dynamic NV tensor scale), then
// mma.sync kind::mxf4nvf4 scale_vec::4X with ue4m3 scales reads both packed
// operands (no dequantization); 16 x 128 CTA tiles (grid 2 x 2 for 20 x 136).
// CHECK-LABEL: func.func @nvfp4
// CHECK: %[[W:.*]] = bufferization.to_buffer %{{.*}} : tensor<9796xi8> to memref<9796xi8>
// CHECK: %[[Y:.*]] = memref.alloc() {{.*}} : memref<20x136xf16>
// CHECK: %[[STATS:.*]] = memref.alloc() : memref<1x5xf32>
// CHECK: %[[XQ:.*]] = memref.alloc() {{.*}} : memref<1444xi8>
// CHECK: gpu.launch_func @qc_kernels::@qc_act_stats
// CHECK: gpu.launch_func @qc_kernels::@qc_quantize_act {{.*}} args(%{{.*}} : memref<20x128xf32>, %[[STATS]] : memref<1x5xf32>, %[[XQ]] : memref<1444xi8>)
// CHECK-NOT: qc_dequantize_act
// CHECK: gpu.launch_func @qc_kernels::@qc_mma_block_scale blocks in (%[[C2:.*]], %[[C2]], %{{.*}}) threads in (%[[C128:.*]], %{{.*}}, %{{.*}}) args(%[[XQ]] : memref<1444xi8>, %[[W]] : memref<9796xi8>, %[[Y]] : memref<20x136xf16>) {qc.operand_access = ["in", "in", "out"]}
//
// CHECK: gpu.func @qc_mma_block_scale(%[[X:.*]]: memref<1444xi8> {llvm.noalias, llvm.readonly}, %[[WA:.*]]: memref<9796xi8> {llvm.noalias, llvm.readonly}, %[[YA:.*]]: memref<20x136xf16> {llvm.noalias, llvm.writeonly})
// Rows past M = 20 read row 19; the scale row of lane l is l/4 + 8 (l % 2).
// CHECK: arith.minui %{{.*}}, %c19 : index
// CHECK: %[[ODD:.*]] = arith.remui %{{.*}}, %c2 : index
// CHECK: arith.muli %[[ODD]], %c8 : index
// Two k64 steps; per step 4 A registers (4-byte loads of 8 codes), the
// lane's 4 act scales (4 bytes after the 1280 code bytes), then per n tile
// 2 B registers, the 4 weight scales (after 8704 code bytes) and the MMA.
// CHECK: scf.for %{{.*}} = %c0 to %c2 step %c1 iter_args
// CHECK-COUNT-4: vector.load %[[X]][%{{.*}}] {alignment = 4 : i64} : memref<1444xi8>, vector<4xi8>
// CHECK: arith.addi %{{.*}}, %c1280 : index
// CHECK: vector.load %[[X]]
// CHECK-COUNT-2: vector.load %[[WA]][%{{.*}}] {alignment = 4 : i64} : memref<9796xi8>, vector<4xi8>
// CHECK: arith.addi %{{.*}}, %c8704 : index
// CHECK: vector.load %[[WA]]
// CHECK: nvvm.mma.block_scale A[{{.*}}] B[{{.*}}] C[{{.*}}] scaleA[{{.*}}] scaleB[{{.*}}] {blockScaleFormat = #nvvm.block_scale_format<ue4m3>, kind = #nvvm.block_scale_kind<mxf4nvf4>, multiplicandAPtxType = #nvvm.mma_type<e2m1>, multiplicandBPtxType = #nvvm.mma_type<e2m1>, scaleVecSize = #nvvm.scale_vec_size<x4>, shape = #nvvm.shape<m = 16, n = 8, k = 64>}
// CHECK-COUNT-3: nvvm.mma.block_scale
// The two f32 tensor scales (act at byte 1440, weights at 9792) multiply
// the result.
// CHECK: vector.load %[[X]][%c1440]
// CHECK: vector.load %[[WA]][%c9792]
// CHECK: arith.mulf
// CHECK: arith.truncf %{{.*}} : f32 to f16
// CHECK: memref.store %{{.*}}, %[[YA]]
//
// sm_100a has no kernel reading packed activations yet: fake quantization.
// SM100-LABEL: func.func @nvfp4
// SM100: @qc_quantize_act
// SM100: @qc_dequantize_act
// SM100-NOT: block_scale
func.func @nvfp4(%x: tensor<20x128xf32>, %w: !qc.packed<136x128, nvfp4>) -> tensor<20x136xf16> {
  %y = qc.matmul %x, %w act <nvfp4> : tensor<20x128xf32>, !qc.packed<136x128, nvfp4> -> tensor<20x136xf16>
  return %y : tensor<20x136xf16>
}

// -----

// MXFP4 x MXFP4, decode (M = 1): the same MMA (one m16 tile reads the
// weights once), scale_vec::2X with ue8m0: 2 scale bytes per row and k64.
// CHECK-LABEL: func.func @mxfp4_decode
// CHECK: @qc_quantize_act
// CHECK: @qc_mma_block_scale
// CHECK: gpu.func @qc_mma_block_scale
// CHECK: vector.load %{{.*}} {alignment = 2 : i64} : memref<{{.*}}xi8>, vector<2xi8>
// CHECK: nvvm.mma.block_scale {{.*}} {blockScaleFormat = #nvvm.block_scale_format<ue8m0>, kind = #nvvm.block_scale_kind<mxf4nvf4>, multiplicandAPtxType = #nvvm.mma_type<e2m1>, multiplicandBPtxType = #nvvm.mma_type<e2m1>, scaleVecSize = #nvvm.scale_vec_size<x2>, shape = #nvvm.shape<m = 16, n = 8, k = 64>}
func.func @mxfp4_decode(%x: tensor<1x256xf32>, %w: !qc.packed<64x256, mxfp4>) -> tensor<1x64xf32> {
  %y = qc.matmul %x, %w act <mxfp4> : tensor<1x256xf32>, !qc.packed<64x256, mxfp4> -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// -----

// MXFP8: kind::mxf8f6f4 m16n8k32 scale_vec::1X, e5m2 activations x e4m3
// weights (A and B types may differ), one scale byte per row and k32.
// CHECK-LABEL: func.func @mxfp8
// CHECK: gpu.func @qc_mma_block_scale
// CHECK: scf.for %{{.*}} = %c0 to %c8 step %c1
// CHECK: memref.load
// CHECK: nvvm.mma.block_scale {{.*}} {blockScaleFormat = #nvvm.block_scale_format<ue8m0>, kind = #nvvm.block_scale_kind<mxf8f6f4>, multiplicandAPtxType = #nvvm.mma_type<e5m2>, multiplicandBPtxType = #nvvm.mma_type<e4m3>, scaleVecSize = #nvvm.scale_vec_size<x1>, shape = #nvvm.shape<m = 16, n = 8, k = 32>}
func.func @mxfp8(%x: tensor<64x256xbf16>, %w: !qc.packed<128x256, mxfp8_e4m3>) -> tensor<64x128xbf16> {
  %y = qc.matmul %x, %w act <mxfp8_e5m2> : tensor<64x256xbf16>, !qc.packed<128x256, mxfp8_e4m3> -> tensor<64x128xbf16>
  return %y : tensor<64x128xbf16>
}

// -----

// Kinds the block-scaled MMA does not pair (MXFP4 weights x MXFP8
// activations), and MXFP6 (its 8-bit containers in kind::mxf8f6f4 are not
// used yet): fake quantization and the float kernels.
// CHECK-LABEL: func.func @mixed_kinds
// CHECK: @qc_quantize_act
// CHECK: @qc_dequantize_act
// CHECK-NOT: block_scale
// CHECK-LABEL: func.func @mxfp6
// CHECK: @qc_dequantize_act
// CHECK-NOT: block_scale
func.func @mixed_kinds(%x: tensor<64x256xf32>, %w: !qc.packed<128x256, mxfp4>) -> tensor<64x128xf32> {
  %y = qc.matmul %x, %w act <mxfp8_e4m3> : tensor<64x256xf32>, !qc.packed<128x256, mxfp4> -> tensor<64x128xf32>
  return %y : tensor<64x128xf32>
}
func.func @mxfp6(%x: tensor<64x256xf32>, %w: !qc.packed<128x256, mxfp6_e2m3>) -> tensor<64x128xf32> {
  %y = qc.matmul %x, %w act <mxfp6_e2m3> : tensor<64x256xf32>, !qc.packed<128x256, mxfp6_e2m3> -> tensor<64x128xf32>
  return %y : tensor<64x128xf32>
}
