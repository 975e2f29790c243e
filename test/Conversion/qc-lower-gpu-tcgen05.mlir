// RUN: quant-opt %s --split-input-file --qc-lower-gpu=chip=sm_100a \
// RUN:   --canonicalize --cse | FileCheck %s
// Other chips never get the tcgen05 kernel.
// RUN: quant-opt %s --split-input-file --qc-lower-gpu=chip=sm_90a \
// RUN:   | FileCheck %s --check-prefix=OTHER
// RUN: quant-opt %s --split-input-file --qc-lower-gpu=chip=sm_120a \
// RUN:   | FileCheck %s --check-prefix=OTHER
// OTHER-NOT: tcgen05

// sm_100a, MXFP8: E5M2 activations x E4M3 weights, M = N = 200 (not
// multiples of the 128 x 128 CTA tile: grid 2 x 2, bounds checks), K = 1024
// = 8 stages of 128. Dynamic shared memory: 4 slots of 2 x 16 KiB of codes +
// 2 x 512 bytes of scale tiles, 4 mbarriers, the TMEM address word:
// 4 * 33792 + 32 + 16 = 135216 bytes.
// CHECK-LABEL: func.func @mxfp8
// CHECK: gpu.launch_func @qc_kernels::@qc_quantize_act
// CHECK-NOT: qc_dequantize_act
// CHECK: gpu.launch_func @qc_kernels::@qc_tcgen05_block_scale_gemm blocks in (%c2, %c2, %c1) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %c135216_i32 args(%{{.*}} : memref<{{.*}}xi8>, %{{.*}} : memref<{{.*}}xi8>, %{{.*}} : memref<200x200xf32>)
//
// CHECK: gpu.func @qc_tcgen05_block_scale_gemm(
// Instruction descriptors (Tcgen05Layout.h; A = e5m2 = 1 at bits 7-9, B =
// e4m3 = 0, N >> 3 = 16 at bits 17-22, UE8M0 bit 23, M >> 4 = 8 at bits
// 24-28) for MMA j = 0..3 of a stage: scale-factor IDs j of A (bits 29-30)
// and B (bits 4-5), i.e. byte j of the 32-bit TMEM scale column.
// CHECK-DAG: %[[I0:.*]] = arith.constant 144703616 : i32
// CHECK-DAG: %[[I1:.*]] = arith.constant 681574544 : i32
// CHECK-DAG: %[[I2:.*]] = arith.constant 1218445472 : i32
// CHECK-DAG: %[[I3:.*]] = arith.constant 1755316400 : i32
// Shared descriptors without swizzling, version bit 46: codes with LBO 128
// (bits 16-29: 8) and SBO 1024 (bits 32-45: 64); scale tiles with SBO 128.
// CHECK-DAG: %[[CODEDESC:.*]] = arith.constant 70643622608896 : i64
// CHECK-DAG: %[[SCALEDESC:.*]] = arith.constant 70403103916032 : i64
// CHECK-DAG: %[[C256:.*]] = arith.constant 256 : i32
// Warp 0 allocates 256 TMEM columns and relinquishes the permit; thread 0
// initializes one mbarrier per slot (arrival count 1).
// CHECK: %[[WARP0:.*]] = arith.cmpi ult, %{{.*}}, %c32 : index
// CHECK: scf.if %[[WARP0]] {
// CHECK-NEXT: nvvm.tcgen05.alloc %[[SLOT:.*]], %[[C256]] : !llvm.ptr<3>, i32
// CHECK-NEXT: nvvm.tcgen05.relinquish_alloc_permit
// CHECK: nvvm.mbarrier.init %{{.*}}, %c1_i32
// CHECK-COUNT-3: nvvm.mbarrier.init
// CHECK-NEXT: nvvm.fence.mbarrier.init
// Prologue: 3 stages in flight; per stage 8 + 8 16-byte copies of codes
// and one 4-byte copy of scales per operand.
// CHECK-COUNT-16: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 16, cache = cg
// CHECK-COUNT-2: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 4, cache = ca
// CHECK: nvvm.cp.async.commit.group
// CHECK: nvvm.tcgen05.fence <before>
// CHECK-NEXT: gpu.barrier
// CHECK-NEXT: nvvm.tcgen05.fence <after>
// CHECK-NEXT: %[[TMEM:.*]] = llvm.load %[[SLOT]] {alignment = 4 : i64} : !llvm.ptr<3> -> i32
// CHECK: scf.for %[[STAGE:.*]] = %c0 to %c8 step %c1 {
// CHECK-NEXT: nvvm.cp.async.wait.group 2
// CHECK-NEXT: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// CHECK-NEXT: gpu.barrier
// CHECK-NEXT: nvvm.tcgen05.fence <after>
// Thread 0: the slot's A and B scale tiles into TMEM columns 128 + 8 slot
// (+4 for B), then 4 MMAs (accumulate except the very first) and the commit.
// CHECK: scf.if
// CHECK: %[[SCALECOLS:.*]] = arith.addi %[[TMEM]], %{{.*}} : i32
// CHECK: %[[SA:.*]] = arith.ori %{{.*}}, %[[SCALEDESC]] : i64
// CHECK: nvvm.tcgen05.cp %{{.*}}, %[[SA]] {multicast = #nvvm.tcgen05_cp_multicast<warpx4>, shape = #nvvm.tcgen05_cp_shape<shape_32x128b>}
// CHECK: %[[SB:.*]] = arith.ori %{{.*}}, %[[SCALEDESC]] : i64
// CHECK: nvvm.tcgen05.cp %{{.*}}, %[[SB]] {multicast = #nvvm.tcgen05_cp_multicast<warpx4>, shape = #nvvm.tcgen05_cp_shape<shape_32x128b>}
// CHECK: %[[FIRST:.*]] = arith.cmpi ne, %[[STAGE]], %c0 : index
// CHECK: %[[ACC:.*]] = arith.extui %[[FIRST]] : i1 to i32
// CHECK: %[[DA:.*]] = arith.ori %{{.*}}, %[[CODEDESC]] : i64
// CHECK: %[[DB:.*]] = arith.ori %{{.*}}, %[[CODEDESC]] : i64
// CHECK: llvm.inline_asm has_side_effects asm_dialect = att "{\0A.reg .pred p;\0Asetp.ne.b32 p, $4, 0;\0Atcgen05.mma.cta_group::1.kind::mxf8f6f4.block_scale.scale_vec::1X [$0], $1, $2, $3, [$5], [$6], p;\0A}", "r,l,l,r,r,r,r" %[[TMEM]], %[[DA]], %[[DB]], %[[I0]], %[[ACC]], %[[SCALECOLS]], %[[SCB:.*]] : (i32, i64, i64, i32, i32, i32, i32) -> ()
// CHECK: llvm.inline_asm {{.*}}scale_vec::1X{{.*}} %[[TMEM]], %{{.*}}, %{{.*}}, %[[I1]], %c1_i32, %[[SCALECOLS]], %[[SCB]]
// CHECK: llvm.inline_asm {{.*}}scale_vec::1X{{.*}} %[[TMEM]], %{{.*}}, %{{.*}}, %[[I2]], %c1_i32, %[[SCALECOLS]], %[[SCB]]
// CHECK: llvm.inline_asm {{.*}}scale_vec::1X{{.*}} %[[TMEM]], %{{.*}}, %{{.*}}, %[[I3]], %c1_i32, %[[SCALECOLS]], %[[SCB]]
// CHECK: nvvm.tcgen05.commit %{{.*}} : !llvm.ptr<3>
// Refill of stage + 3 after the MMAs of stage - 1 completed (parity
// ((stage - 1) / 4) % 2 of slot (stage - 1) % 4).
// CHECK: scf.if
// CHECK: scf.if
// CHECK: nvvm.mbarrier.try_wait.parity
// CHECK: nvvm.cp.async.shared.global
// CHECK: nvvm.cp.async.commit.group
// Epilogue: the last stage (7: slot 3, phase 1) covers every MMA; each
// warp loads its 32 TMEM lanes, 32 columns at a time, rows checked < 200.
// CHECK: nvvm.cp.async.wait.group 0
// CHECK: nvvm.mbarrier.try_wait.parity %{{.*}}, %c1_i32, %c10000000_i32
// CHECK-NEXT: nvvm.tcgen05.fence <after>
// CHECK: %[[LANE:.*]] = arith.shli %{{.*}}, %c16_i32 : i32
// CHECK: %[[ROWS:.*]] = arith.addi %[[TMEM]], %[[LANE]] : i32
// CHECK: nvvm.tcgen05.ld %{{.*}} {shape = #nvvm.tcgen05_ldst_shape<shape_32x32b>} : vector<32xi32>
// CHECK-NEXT: nvvm.tcgen05.wait <load>
// CHECK: arith.cmpi ult, %{{.*}}, %c200 : index
// CHECK: memref.store
// CHECK-COUNT-3: nvvm.tcgen05.ld
// CHECK: nvvm.tcgen05.fence <before>
// CHECK-NEXT: gpu.barrier
// CHECK-NEXT: scf.if %[[WARP0]] {
// CHECK-NEXT: nvvm.tcgen05.fence <after>
// CHECK-NEXT: %[[BASE:.*]] = llvm.inttoptr %[[TMEM]] : i32 to !llvm.ptr<6>
// CHECK-NEXT: nvvm.tcgen05.dealloc %[[BASE]], %[[C256]] : !llvm.ptr<6>, i32
func.func @mxfp8(%x: tensor<200x1024xf32>, %w: !qc.packed<200x1024, mxfp8_e4m3>) -> tensor<200x200xf32> {
  %y = qc.matmul %x, %w act <mxfp8_e5m2> : tensor<200x1024xf32>, !qc.packed<200x1024, mxfp8_e4m3> -> tensor<200x200xf32>
  return %y : tensor<200x200xf32>
}

// -----

// MXFP4 x MXFP4 (f16 in and out), K = 512 = 2 stages of 256: 8 scales per
// row per stage = 2 scale tiles per operand (4 tcgen05.cp), kind::mxf4nvf4
// scale_vec::2X, E2M1 = 1 for A and B; MMA j reads tile j / 2 with
// scale-factor ID 2 (j % 2) (two bytes per MMA).
// CHECK-LABEL: func.func @mxfp4
// CHECK: gpu.launch_func @qc_kernels::@qc_tcgen05_block_scale_gemm blocks in (%c2, %c2, %c1) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %c139312_i32
// CHECK: gpu.func @qc_tcgen05_block_scale_gemm(
// CHECK-DAG: %[[J0:.*]] = arith.constant 144704640 : i32
// CHECK-DAG: %[[J1:.*]] = arith.constant 1218446496 : i32
// CHECK: scf.for
// CHECK-COUNT-4: nvvm.tcgen05.cp
// CHECK: llvm.inline_asm {{.*}}kind::mxf4nvf4.block_scale.scale_vec::2X{{.*}} %{{.*}}, %{{.*}}, %{{.*}}, %[[J0]], %{{.*}}, %[[TA0:.*]], %[[TB0:.*]] :
// CHECK: llvm.inline_asm {{.*}}scale_vec::2X{{.*}} %{{.*}}, %{{.*}}, %{{.*}}, %[[J1]], %c1_i32, %[[TA0]], %[[TB0]] :
// CHECK: llvm.inline_asm {{.*}}scale_vec::2X{{.*}} %{{.*}}, %{{.*}}, %{{.*}}, %[[J0]], %c1_i32, %[[TA1:.*]], %[[TB1:.*]] :
// CHECK: llvm.inline_asm {{.*}}scale_vec::2X{{.*}} %{{.*}}, %{{.*}}, %{{.*}}, %[[J1]], %c1_i32, %[[TA1]], %[[TB1]] :
// CHECK: arith.truncf %{{.*}} : f32 to f16
func.func @mxfp4(%x: tensor<256x512xf16>, %w: !qc.packed<256x512, mxfp4>) -> tensor<256x256xf16> {
  %y = qc.matmul %x, %w act <mxfp4> : tensor<256x512xf16>, !qc.packed<256x512, mxfp4> -> tensor<256x256xf16>
  return %y : tensor<256x256xf16>
}

// -----

// NVFP4 x NVFP4, M = 130, N = 64, K = 256 (one stage): 16 scales per row =
// 4 tiles per operand, scale_vec::4X with UE4M3 (bit 23 clear), ID 0, MMA j
// reading tile j; the first MMA overwrites the accumulator (enable 0). The
// f32 tensor scales of x (byte 18720 of its 18724) and W (9216 of 9220)
// multiply the result.
// CHECK-LABEL: func.func @nvfp4
// CHECK: gpu.launch_func @qc_kernels::@qc_act_stats
// CHECK: gpu.launch_func @qc_kernels::@qc_quantize_act
// CHECK: gpu.launch_func @qc_kernels::@qc_tcgen05_block_scale_gemm blocks in (%c1, %c2, %c1) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %c147504_i32 args(%{{.*}} : memref<18724xi8>, %{{.*}} : memref<9220xi8>, %{{.*}} : memref<130x64xf32>)
// CHECK: gpu.func @qc_tcgen05_block_scale_gemm(
// CHECK: %[[NV:.*]] = arith.constant 136316032 : i32
// CHECK-COUNT-8: nvvm.tcgen05.cp
// CHECK: llvm.inline_asm {{.*}}kind::mxf4nvf4.block_scale.scale_vec::4X{{.*}} %[[NV]], %c0_i32,
// CHECK-COUNT-3: llvm.inline_asm {{.*}}scale_vec::4X{{.*}} %[[NV]], %c1_i32,
// CHECK: llvm.getelementptr %{{.*}}[18720] : (!llvm.ptr<1>) -> !llvm.ptr<1>, i8
// CHECK: %[[SX:.*]] = llvm.load %{{.*}} {alignment = 4 : i64} : !llvm.ptr<1> -> f32
// CHECK: llvm.getelementptr %{{.*}}[9216] : (!llvm.ptr<1>) -> !llvm.ptr<1>, i8
// CHECK: %[[SW:.*]] = llvm.load %{{.*}} {alignment = 4 : i64} : !llvm.ptr<1> -> f32
// CHECK: %[[S:.*]] = arith.mulf %[[SX]], %[[SW]] : f32
// CHECK: nvvm.tcgen05.ld
// CHECK: arith.mulf %{{.*}}, %[[S]] : f32
func.func @nvfp4(%x: tensor<130x256xf32>, %w: !qc.packed<64x256, nvfp4>) -> tensor<130x64xf32> {
  %y = qc.matmul %x, %w act <nvfp4> : tensor<130x256xf32>, !qc.packed<64x256, nvfp4> -> tensor<130x64xf32>
  return %y : tensor<130x64xf32>
}

// -----

// What keeps today's path on sm_100a: M <= gemv-max-rows (the GEMV on the
// fake-quantized x), K not a multiple of the stage (256 for FP4), and kinds
// the MMA does not pair.
// CHECK-LABEL: func.func @decode
// CHECK: @qc_dequantize_act
// CHECK: @qc_gemv
// CHECK-NOT: tcgen05
// CHECK-LABEL: func.func @fp4_short_k
// CHECK: @qc_dequantize_act
// CHECK-NOT: tcgen05
// CHECK-LABEL: func.func @mixed_kinds
// CHECK: @qc_dequantize_act
// CHECK-NOT: tcgen05
func.func @decode(%x: tensor<4x512xf32>, %w: !qc.packed<256x512, mxfp4>) -> tensor<4x256xf32> {
  %y = qc.matmul %x, %w act <mxfp4> : tensor<4x512xf32>, !qc.packed<256x512, mxfp4> -> tensor<4x256xf32>
  return %y : tensor<4x256xf32>
}
func.func @fp4_short_k(%x: tensor<256x384xf32>, %w: !qc.packed<256x384, nvfp4>) -> tensor<256x256xf32> {
  %y = qc.matmul %x, %w act <nvfp4> : tensor<256x384xf32>, !qc.packed<256x384, nvfp4> -> tensor<256x256xf32>
  return %y : tensor<256x256xf32>
}
func.func @mixed_kinds(%x: tensor<256x512xf32>, %w: !qc.packed<256x512, mxfp4>) -> tensor<256x256xf32> {
  %y = qc.matmul %x, %w act <mxfp8_e4m3> : tensor<256x512xf32>, !qc.packed<256x512, mxfp4> -> tensor<256x256xf32>
  return %y : tensor<256x256xf32>
}

// -----

// N >= 1024: 128 x 256 CTA tiles (grid 4 x 1 for 1024 columns), the MMA's
// N = 256 (bits 17-22: 32), 16 + 8 16-byte code copies and per stage one A
// and two B scale tiles (the B halves adjacent: columns n / 32 of the B
// scales), 512 TMEM columns (256 accumulator + 4 slots x 12), 8 loads of 32
// columns in the epilogue. Shared memory 4 x (16 + 32 KiB + 3 x 512) + 48.
// CHECK-LABEL: func.func @mxfp8_wide
// CHECK: gpu.launch_func @qc_kernels::@qc_tcgen05_block_scale_gemm blocks in (%c4, %c1, %c1) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %c202800_i32
// CHECK: gpu.func @qc_tcgen05_block_scale_gemm(
// CHECK-DAG: %[[W0:.*]] = arith.constant 146800640 : i32
// CHECK-DAG: %[[C512:.*]] = arith.constant 512 : i32
// CHECK: nvvm.tcgen05.alloc %{{.*}}, %[[C512]]
// CHECK-COUNT-24: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 16, cache = cg
// CHECK-COUNT-3: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 4, cache = ca
// CHECK: scf.for
// CHECK: nvvm.tcgen05.cp
// CHECK: %[[SB:.*]] = arith.addi %[[SA:.*]], %c4_i32 : i32
// CHECK-NEXT: llvm.inttoptr %[[SB]] : i32 to !llvm.ptr<6>
// CHECK: nvvm.tcgen05.cp
// CHECK: arith.addi %[[SA]], %c8_i32 : i32
// CHECK: nvvm.tcgen05.cp
// CHECK-NOT: nvvm.tcgen05.cp
// CHECK: llvm.inline_asm {{.*}}scale_vec::1X{{.*}} %[[W0]], %{{.*}}, %[[SA]], %[[SB]] :
// CHECK-COUNT-8: nvvm.tcgen05.ld
// CHECK-NOT: nvvm.tcgen05.ld
// CHECK: nvvm.tcgen05.dealloc %{{.*}}, %[[C512]]
func.func @mxfp8_wide(%x: tensor<128x512xf32>, %w: !qc.packed<1024x512, mxfp8_e4m3>) -> tensor<128x1024xf32> {
  %y = qc.matmul %x, %w act <mxfp8_e4m3> : tensor<128x512xf32>, !qc.packed<1024x512, mxfp8_e4m3> -> tensor<128x1024xf32>
  return %y : tensor<128x1024xf32>
}
