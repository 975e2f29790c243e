// RUN: quant-opt %s --split-input-file --qc-lower-gpu=chip=sm_120a \
// RUN:   --canonicalize --cse | FileCheck %s
// RUN: quant-opt %s --split-input-file --qc-lower-gpu=chip=sm_100a \
// RUN:   --canonicalize --cse | FileCheck %s --check-prefix=SM100

// sm_120a, NVFP4 weights x NVFP4 activations: x quantized on the GPU (the
// tensor statistics first, for the dynamic NV tensor scale), then
// mma.sync kind::mxf4nvf4 scale_vec::4X with ue4m3 scales reads both packed
// operands (no dequantization). M <= 16: the small-M kernel, 16 x 128 CTA
// tiles (grid 2 x 1 for 12 x 136), fragments straight from global memory.
// CHECK-LABEL: func.func @nvfp4
// CHECK: %[[W:.*]] = bufferization.to_buffer %{{.*}} : tensor<9796xi8> to memref<9796xi8>
// CHECK: %[[Y:.*]] = memref.alloc() {{.*}} : memref<12x136xf16>
// CHECK: %[[STATS:.*]] = memref.alloc() : memref<1x5xf32>
// CHECK: %[[XQ:.*]] = memref.alloc() {{.*}} : memref<868xi8>
// CHECK: gpu.launch_func @qc_kernels::@qc_act_stats
// CHECK: gpu.launch_func @qc_kernels::@qc_quantize_act {{.*}} args(%{{.*}} : memref<12x128xf32>, %[[STATS]] : memref<1x5xf32>, %[[XQ]] : memref<868xi8>)
// CHECK-NOT: qc_dequantize_act
// CHECK: gpu.launch_func @qc_kernels::@qc_mma_block_scale blocks in (%c2, %c1, %{{.*}}) threads in (%[[C128:.*]], %{{.*}}, %{{.*}}) args(%[[XQ]] : memref<868xi8>, %[[W]] : memref<9796xi8>, %[[Y]] : memref<12x136xf16>) {qc.operand_access = ["in", "in", "out"]}
//
// CHECK: gpu.func @qc_mma_block_scale(%[[X:.*]]: memref<868xi8> {llvm.noalias, llvm.readonly}, %[[WA:.*]]: memref<9796xi8> {llvm.noalias, llvm.readonly}, %[[YA:.*]]: memref<12x136xf16> {llvm.noalias, llvm.writeonly})
// Rows past M = 12 read row 11; the scale row of lane l is l/4 + 8 (l % 2).
// CHECK: arith.minui %{{.*}}, %c11 : index
// CHECK: %[[ODD:.*]] = arith.remui %{{.*}}, %c2 : index
// CHECK: arith.muli %[[ODD]], %c8 : index
// Two k64 steps; per step 4 A registers (4-byte loads of 8 codes), the
// lane's 4 act scales (4 bytes after the 768 code bytes), then per n tile
// 2 B registers, the 4 weight scales (after 8704 code bytes) and the MMA.
// CHECK: scf.for %{{.*}} = %c0 to %c2 step %c1 iter_args
// CHECK-COUNT-4: vector.load %[[X]][%{{.*}}] {alignment = 4 : i64} : memref<868xi8>, vector<4xi8>
// CHECK: arith.addi %{{.*}}, %c768 : index
// CHECK: vector.load %[[X]]
// CHECK-COUNT-2: vector.load %[[WA]][%{{.*}}] {alignment = 4 : i64} : memref<9796xi8>, vector<4xi8>
// CHECK: arith.addi %{{.*}}, %c8704 : index
// CHECK: vector.load %[[WA]]
// CHECK: nvvm.mma.block_scale A[{{.*}}] B[{{.*}}] C[{{.*}}] scaleA[{{.*}}] scaleB[{{.*}}] {blockScaleFormat = #nvvm.block_scale_format<ue4m3>, kind = #nvvm.block_scale_kind<mxf4nvf4>, multiplicandAPtxType = #nvvm.mma_type<e2m1>, multiplicandBPtxType = #nvvm.mma_type<e2m1>, scaleVecSize = #nvvm.scale_vec_size<x4>, shape = #nvvm.shape<m = 16, n = 8, k = 64>}
// CHECK-COUNT-3: nvvm.mma.block_scale
// The two f32 tensor scales (act at byte 864, weights at 9792) multiply
// the result.
// CHECK: vector.load %[[X]][%c864]
// CHECK: vector.load %[[WA]][%c9792]
// CHECK: arith.mulf
// CHECK: arith.truncf %{{.*}} : f32 to f16
// CHECK: memref.store %{{.*}}, %[[YA]]
//
// sm_100a: M = 12 <= gemv-max-rows and K = 128 (its tcgen05 kernel takes
// M > 16 and K % 256 == 0 for FP4): fake quantization.
// SM100-LABEL: func.func @nvfp4
// SM100: @qc_quantize_act
// SM100: @qc_dequantize_act
// SM100-NOT: block_scale
// SM100-LABEL: func.func @mxfp4_decode
func.func @nvfp4(%x: tensor<12x128xf32>, %w: !qc.packed<136x128, nvfp4>) -> tensor<12x136xf16> {
  %y = qc.matmul %x, %w act <nvfp4> : tensor<12x128xf32>, !qc.packed<136x128, nvfp4> -> tensor<12x136xf16>
  return %y : tensor<12x136xf16>
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

// M > 16: the staged GEMM. MXFP8, e5m2 activations x e4m3 weights
// (kind::mxf8f6f4 m16n8k32 scale_vec::1X, A and B types may differ):
// 128 x 128 CTA tiles, 256 threads, 4 ring slots of 17408 bytes (two
// 128 x 64-byte code tiles, then a 4-byte scale window per row).
// CHECK-LABEL: func.func @mxfp8
// CHECK: gpu.launch_func @qc_kernels::@qc_block_scale_gemm blocks in (%c1, %c1, %c1) threads in (%c256, %c1, %c1) dynamic_shared_memory_size %c69632_i32
// CHECK: gpu.func @qc_block_scale_gemm(
// CHECK: gpu.dynamic_shared_memory
// Prologue: stages 0-2, each 2 16-byte chunks per thread and operand
// (row-chunk XOR swizzle), one scale window per thread, one commit group.
// CHECK: arith.xori
// CHECK-COUNT-4: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 16, cache =  cg
// CHECK-NEXT: arith.cmpi ult
// CHECK: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 4, cache =  ca
// CHECK-NEXT: nvvm.cp.async.commit.group
// CHECK-COUNT-2: nvvm.cp.async.commit.group
// K = 256: 4 stages of 64; wait for this stage, barrier, refill 3 ahead.
// CHECK: scf.for %{{.*}} = %c0 to %c4 step %c1 iter_args
// CHECK-NEXT: nvvm.cp.async.wait.group 2
// CHECK-NEXT: gpu.barrier
// CHECK: scf.if
// CHECK-COUNT-4: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 16, cache =  cg
// CHECK: nvvm.cp.async.commit.group
// Fragments by ldmatrix x4 (8-bit codes as b16 pairs), the scale byte of
// the stage and k step shifted down from its window, 16 MMAs per k32 step.
// CHECK: nvvm.ldmatrix %{{.*}} {eltType = #nvvm.ld_st_matrix_elt_type<b16>, layout = #nvvm.mma_layout<row>, num = 4 : i32, shape = #nvvm.ld_st_matrix_shape<m = 8, n = 8>}
// CHECK: llvm.load %{{.*}} {alignment = 4 : i64} : !llvm.ptr<3> -> i32
// CHECK: arith.shrui
// CHECK: nvvm.mma.block_scale {{.*}} {blockScaleFormat = #nvvm.block_scale_format<ue8m0>, kind = #nvvm.block_scale_kind<mxf8f6f4>, multiplicandAPtxType = #nvvm.mma_type<e5m2>, multiplicandBPtxType = #nvvm.mma_type<e4m3>, scaleVecSize = #nvvm.scale_vec_size<x1>, shape = #nvvm.shape<m = 16, n = 8, k = 32>}
// CHECK-COUNT-31: nvvm.mma.block_scale
// CHECK-NOT: nvvm.mma.block_scale
// CHECK: scf.yield
// CHECK: nvvm.cp.async.wait.group 0
// CHECK: arith.truncf %{{.*}} : f32 to bf16
func.func @mxfp8(%x: tensor<64x256xbf16>, %w: !qc.packed<128x256, mxfp8_e4m3>) -> tensor<64x128xbf16> {
  %y = qc.matmul %x, %w act <mxfp8_e5m2> : tensor<64x256xbf16>, !qc.packed<128x256, mxfp8_e4m3> -> tensor<64x128xbf16>
  return %y : tensor<64x128xbf16>
}

// -----

// NVFP4 prefill: kind::mxf4nvf4 on the staged GEMM, stages of 128 codes
// (64 bytes), 8-byte scale windows (4 E4M3 scales per k64 step, word j of
// the window for step j): slots of 18432 bytes; grid 1 x 2 for 200 x 64.
// CHECK-LABEL: func.func @nvfp4_prefill
// CHECK: gpu.launch_func @qc_kernels::@qc_block_scale_gemm blocks in (%c1, %c2, %c1) threads in (%c256, %c1, %c1) dynamic_shared_memory_size %c73728_i32
// CHECK: gpu.func @qc_block_scale_gemm(
// CHECK-COUNT-4: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 16, cache =  cg
// CHECK: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 8, cache =  ca
// CHECK: scf.for %{{.*}} = %c0 to %c2 step %c1 iter_args
// CHECK: nvvm.ldmatrix %{{.*}} {eltType = #nvvm.ld_st_matrix_elt_type<b16>
// CHECK-NOT: arith.shrui
// CHECK: nvvm.mma.block_scale {{.*}} {blockScaleFormat = #nvvm.block_scale_format<ue4m3>, kind = #nvvm.block_scale_kind<mxf4nvf4>, multiplicandAPtxType = #nvvm.mma_type<e2m1>, multiplicandBPtxType = #nvvm.mma_type<e2m1>, scaleVecSize = #nvvm.scale_vec_size<x4>, shape = #nvvm.shape<m = 16, n = 8, k = 64>}
// CHECK: scf.yield
// The tensor scales (act after 25600 code + 3200 scale bytes, weights
// after 8192 + 1024) multiply the result.
// CHECK: vector.load %{{.*}}[%c28800]
// CHECK: vector.load %{{.*}}[%c9216]
// CHECK: arith.mulf
// CHECK: arith.truncf %{{.*}} : f32 to f16
func.func @nvfp4_prefill(%x: tensor<200x256xf16>, %w: !qc.packed<64x256, nvfp4>) -> tensor<200x64xf16> {
  %y = qc.matmul %x, %w act <nvfp4> : tensor<200x256xf16>, !qc.packed<64x256, nvfp4> -> tensor<200x64xf16>
  return %y : tensor<200x64xf16>
}

// -----

// W4A8 (MXFP4 weights x MXFP8 E4M3 activations): kind::mxf8f6f4, A e4m3,
// B e2m1. The weight codes go to shared memory 8 bytes (16 codes) per
// 16-byte chunk, the upper 8 padding (the .b4x16_p64 source format);
// ldmatrix .m8n16 .b8x16.b4x16_p64 puts each code in bits 0-3 of a byte and
// the MMA reads E2M1 in bits 2-5: one shift left by 2 per register.
// CHECK-LABEL: func.func @w4a8
// CHECK: gpu.func @qc_block_scale_gemm(
// CHECK-COUNT-2: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 16, cache =  cg
// CHECK-COUNT-2: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 8, cache =  ca
// CHECK: scf.for
// CHECK: nvvm.ldmatrix %{{.*}} {eltType = #nvvm.ld_st_matrix_elt_type<b16>
// CHECK: nvvm.ldmatrix %{{.*}} {eltType = #nvvm.ld_st_matrix_elt_type<b8x16.b4x16_p64>, layout = #nvvm.mma_layout<row>, num = 4 : i32, shape = #nvvm.ld_st_matrix_shape<m = 8, n = 16>}
// CHECK-COUNT-4: arith.shli %{{.*}}, %c2_i32 : i32
// CHECK: nvvm.mma.block_scale {{.*}} {blockScaleFormat = #nvvm.block_scale_format<ue8m0>, kind = #nvvm.block_scale_kind<mxf8f6f4>, multiplicandAPtxType = #nvvm.mma_type<e4m3>, multiplicandBPtxType = #nvvm.mma_type<e2m1>, scaleVecSize = #nvvm.scale_vec_size<x1>, shape = #nvvm.shape<m = 16, n = 8, k = 32>}
// CHECK-NOT: qc_dequantize_act
func.func @w4a8(%x: tensor<64x256xf32>, %w: !qc.packed<128x256, mxfp4>) -> tensor<64x128xf32> {
  %y = qc.matmul %x, %w act <mxfp8_e4m3> : tensor<64x256xf32>, !qc.packed<128x256, mxfp4> -> tensor<64x128xf32>
  return %y : tensor<64x128xf32>
}

// -----

// MXFP6: E3M2 activations x E2M3 weights. 16 FP6 codes are 12 bytes at a
// multiple of 4: three 4-byte copies per chunk (.b6x16_p32, 4 bytes of
// padding); ldmatrix .b8x16.b6x16_p32 leaves each code in bits 0-5 of its
// byte, where the MMA reads FP6 (no shift).
// CHECK-LABEL: func.func @mxfp6
// CHECK: gpu.func @qc_block_scale_gemm(
// CHECK-COUNT-12: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 4, cache =  ca
// CHECK-NEXT: arith.cmpi ult
// CHECK: scf.for
// CHECK: nvvm.ldmatrix %{{.*}} {eltType = #nvvm.ld_st_matrix_elt_type<b8x16.b6x16_p32>, layout = #nvvm.mma_layout<row>, num = 4 : i32, shape = #nvvm.ld_st_matrix_shape<m = 8, n = 16>}
// CHECK-NOT: arith.shli
// CHECK: nvvm.mma.block_scale {{.*}} {blockScaleFormat = #nvvm.block_scale_format<ue8m0>, kind = #nvvm.block_scale_kind<mxf8f6f4>, multiplicandAPtxType = #nvvm.mma_type<e3m2>, multiplicandBPtxType = #nvvm.mma_type<e2m3>, scaleVecSize = #nvvm.scale_vec_size<x1>, shape = #nvvm.shape<m = 16, n = 8, k = 32>}
func.func @mxfp6(%x: tensor<64x256xf32>, %w: !qc.packed<128x256, mxfp6_e2m3>) -> tensor<64x128xf32> {
  %y = qc.matmul %x, %w act <mxfp6_e3m2> : tensor<64x256xf32>, !qc.packed<128x256, mxfp6_e2m3> -> tensor<64x128xf32>
  return %y : tensor<64x128xf32>
}

// -----

// Decode (M = 1) of a pair the small-M kernel lacks (MXFP6 x MXFP8): the
// staged GEMM (one row tile).
// CHECK-LABEL: func.func @mxfp6_decode
// CHECK: gpu.launch_func @qc_kernels::@qc_block_scale_gemm blocks in (%c2, %c1, %c1)
// CHECK: multiplicandAPtxType = #nvvm.mma_type<e4m3>, multiplicandBPtxType = #nvvm.mma_type<e3m2>
func.func @mxfp6_decode(%x: tensor<1x256xf32>, %w: !qc.packed<256x256, mxfp6_e3m2>) -> tensor<1x256xf32> {
  %y = qc.matmul %x, %w act <mxfp8_e4m3> : tensor<1x256xf32>, !qc.packed<256x256, mxfp6_e3m2> -> tensor<1x256xf32>
  return %y : tensor<1x256xf32>
}

// -----

// K % 128 != 0 leaves mixed pairs to fake quantization and the float
// kernels (the staged GEMM copies whole 4-byte scale windows).
// CHECK-LABEL: func.func @mixed_k160
// CHECK: @qc_quantize_act
// CHECK: @qc_dequantize_act
// CHECK-NOT: block_scale
func.func @mixed_k160(%x: tensor<64x160xf32>, %w: !qc.packed<128x160, mxfp4>) -> tensor<64x128xf32> {
  %y = qc.matmul %x, %w act <mxfp8_e4m3> : tensor<64x160xf32>, !qc.packed<128x160, mxfp4> -> tensor<64x128xf32>
  return %y : tensor<64x128xf32>
}
