// sm_90a W8A8 FP8 (M > 16, K % 128 == 0, E4M3 weights and act): the
// activations are quantized on the GPU (qc_quantize_act) and the FP8 wgmma
// GEMM reads both packed operands as bytes. 256 threads (two warpgroups), a
// 128x128 tile of y per CTA, K in stages through a cp.async ring in dynamic
// shared memory: codes copied 16 bytes at a time (cache = cg) into the
// core-matrix layout, each row's scale bytes with one 4-byte (stages of 128)
// or 8-byte (256) copy; wait for the stage, fence.proxy.async, barrier; the
// next stage's copies are issued after the stage's first wgmmas.
// RUN: quant-opt %s --split-input-file --qc-lower-gpu=chip=sm_90a | FileCheck %s
// With wgmma=false, on other chips, and where the FP8 kernel does not apply,
// no qc_wgmma_fp8_gemm:
// RUN: quant-opt %s --split-input-file --qc-lower-gpu="chip=sm_90a wgmma=false" | FileCheck %s --check-prefix=NOFP8
// RUN: quant-opt %s --split-input-file --qc-lower-gpu=chip=sm_80 | FileCheck %s --check-prefix=NOFP8
// The kernels lower to PTX (wgmma, cp.async):
// RUN: quant-opt %s --split-input-file --qc-lower-gpu=chip=sm_90a --quantc-gpu-to-ptx | FileCheck %s --check-prefix=PTX

// MXFP8 x MXFP8, K = 256: stages of 128 in 4 slots of 2 x 16 KiB tiles plus
// 256 x 4 scale bytes (33792 bytes), then 2 x 2048 decoded f32 scales:
// 4 x 33792 + 8192 = 143360 bytes of dynamic shared memory. Activations:
// 130 x 256 codes + 130 x 8 E8M0 = 34320 bytes; weights 320 x 256 + 320 x 8.
// Per stage: each MX block (k32) is one wgmma into a fresh accumulator
// (D zero), and after wait_group 1 the block before it is folded into the
// main accumulators: 64 FMAs (block x row scale x column scale) per block.
// Descriptors: LBO 128 >> 4 = 8 at bit 16, SBO 1024 >> 4 = 64 at bit 32:
// 274878431232.
// CHECK-LABEL: func.func @w8a8_mxfp8
// CHECK: gpu.launch_func  @qc_kernels::@qc_wgmma_fp8_gemm blocks in (%{{.*}}, %{{.*}}, %{{.*}}) threads in (%{{.*}}, %{{.*}}, %{{.*}}) dynamic_shared_memory_size %c143360_i32 args(%{{.*}} : memref<34320xi8>, %{{.*}} : memref<84480xi8>, %{{.*}} : memref<130x320xf32>)
// CHECK: gpu.func @qc_wgmma_fp8_gemm(%{{.*}}: memref<34320xi8> {llvm.noalias, llvm.readonly}, %{{.*}}: memref<84480xi8> {llvm.noalias, llvm.readonly}, %{{.*}}: memref<130x320xf32> {llvm.noalias, llvm.writeonly})
// CHECK-SAME: known_block_size = array<i32: 256, 1, 1>, known_grid_size = array<i32: 3, 2, 1>
// CHECK: gpu.dynamic_shared_memory
// CHECK-COUNT-8: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 16, cache = cg
// CHECK: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 4, cache = ca
// CHECK-NEXT: nvvm.cp.async.commit.group
// CHECK: scf.for
// CHECK-NEXT: nvvm.cp.async.wait.group 2
// CHECK: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// CHECK-NEXT: gpu.barrier
// CHECK: nvvm.wgmma.fence.aligned
// CHECK: arith.constant 274878431232 : i64
// CHECK: nvvm.wgmma.mma_async {{.*}}, <m = 64, n = 128, k = 32>, D[<f32>, <zero>], A[<e4m3>, <one>, <row>], B[<e4m3>, <one>, <col>]
// CHECK-NEXT: nvvm.wgmma.commit.group.sync.aligned
// The next copies go out while the first wgmma runs:
// CHECK: scf.if
// CHECK: nvvm.cp.async.shared.global
// CHECK: nvvm.cp.async.commit.group
// CHECK: nvvm.wgmma.mma_async {{.*}}, <m = 64, n = 128, k = 32>, D[<f32>, <zero>]
// CHECK-NEXT: nvvm.wgmma.commit.group.sync.aligned
// CHECK-NEXT: nvvm.wgmma.wait.group.sync.aligned 1
// CHECK-COUNT-64: llvm.intr.fma
// CHECK: nvvm.wgmma.mma_async {{.*}}, D[<f32>, <zero>]
// CHECK: nvvm.wgmma.wait.group.sync.aligned 1
// CHECK-COUNT-64: llvm.intr.fma
// CHECK: nvvm.wgmma.mma_async {{.*}}, D[<f32>, <zero>]
// CHECK: nvvm.wgmma.wait.group.sync.aligned 1
// CHECK-COUNT-64: llvm.intr.fma
// CHECK: nvvm.wgmma.wait.group.sync.aligned 0
// CHECK-COUNT-64: llvm.intr.fma
// CHECK-NOT: nvvm.wgmma.mma_async
// CHECK: scf.yield
// CHECK: nvvm.cp.async.wait.group 0
// CHECK-COUNT-64: memref.store

// NOFP8-LABEL: func.func @w8a8_mxfp8
// NOFP8-NOT: qc_wgmma_fp8_gemm

// PTX: wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3
// PTX: cp.async.cg.shared.global
func.func @w8a8_mxfp8(%x: tensor<130x256xf32>, %w: !qc.packed<320x256, mxfp8_e4m3>) -> tensor<130x320xf32> {
  %y = qc.matmul %x, %w act <mxfp8_e4m3> : tensor<130x256xf32>, !qc.packed<320x256, mxfp8_e4m3> -> tensor<130x320xf32>
  return %y : tensor<130x320xf32>
}

// -----

// Per-channel e4m3 weights x per-row e4m3 activations, K = 256: stages of
// 256 in 3 slots (3 x (2 x 32 KiB + 256 x 8) + 2 x 8 KiB = 219136 bytes),
// SBO 2048 >> 4 = 128 at bit 32 (8 << 16 | 128 << 32 = 549756338176); two groups of 4 wgmmas
// (the first D zero, the others D one), each group a block accumulator added
// to the main one (wait_group 1, then 0); the f32 scales of row and column
// multiply the sums in the epilogue. Activations: 200 x 256 codes + 200 f32.
// CHECK-LABEL: func.func @w8a8_e4m3
// CHECK: gpu.launch_func  @qc_kernels::@qc_wgmma_fp8_gemm{{.*}} dynamic_shared_memory_size %c219136_i32 args(%{{.*}} : memref<52000xi8>, %{{.*}} : memref<33280xi8>, %{{.*}} : memref<200x128xbf16>)
// CHECK: gpu.func @qc_wgmma_fp8_gemm
// CHECK-COUNT-16: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 16, cache = cg
// CHECK-NOT: cache = ca
// CHECK: scf.for
// CHECK-NEXT: nvvm.cp.async.wait.group 1
// CHECK-NOT: arith.shli
// CHECK: gpu.barrier
// CHECK: nvvm.wgmma.fence.aligned
// CHECK: arith.constant 549756338176 : i64
// CHECK: nvvm.wgmma.mma_async {{.*}}, <m = 64, n = 128, k = 32>, D[<f32>, <zero>], A[<e4m3>, <one>, <row>], B[<e4m3>, <one>, <col>]
// CHECK-COUNT-3: nvvm.wgmma.mma_async {{.*}}, D[<f32>, <one>]
// CHECK-NEXT: nvvm.wgmma.commit.group.sync.aligned
// CHECK: scf.if
// CHECK: nvvm.cp.async.commit.group
// CHECK-NEXT: nvvm.wgmma.fence.aligned
// CHECK: nvvm.wgmma.mma_async {{.*}}, D[<f32>, <zero>]
// CHECK-COUNT-3: nvvm.wgmma.mma_async {{.*}}, D[<f32>, <one>]
// CHECK-NEXT: nvvm.wgmma.commit.group.sync.aligned
// CHECK-NEXT: nvvm.wgmma.wait.group.sync.aligned 1
// CHECK-COUNT-64: arith.addf
// CHECK: nvvm.wgmma.wait.group.sync.aligned 0
// CHECK-COUNT-64: arith.addf
// CHECK-NOT: llvm.intr.fma
// CHECK: scf.yield
// CHECK-COUNT-34: llvm.load %{{.*}} {alignment = 4 : i64} : !llvm.ptr<1> -> f32
// CHECK: arith.mulf
// CHECK-NEXT: arith.mulf
// CHECK-NEXT: arith.truncf %{{.*}} : f32 to bf16

// NOFP8-LABEL: func.func @w8a8_e4m3
// NOFP8-NOT: qc_wgmma_fp8_gemm
func.func @w8a8_e4m3(%x: tensor<200x256xf32>, %w: !qc.packed<128x256, e4m3>) -> tensor<200x128xbf16> {
  %y = qc.matmul %x, %w act <e4m3> : tensor<200x256xf32>, !qc.packed<128x256, e4m3> -> tensor<200x128xbf16>
  return %y : tensor<200x128xbf16>
}

// -----

// K = 384 (not a multiple of 256): stages of 128, 4 slots of 2 x 16 KiB +
// 256 x 4 (unused) scale bytes.
// CHECK-LABEL: func.func @w8a8_e4m3_k384
// CHECK: gpu.launch_func  @qc_kernels::@qc_wgmma_fp8_gemm{{.*}} dynamic_shared_memory_size %c143360_i32
// CHECK: nvvm.cp.async.wait.group 2
// CHECK-COUNT-1: nvvm.wgmma.mma_async {{.*}}, D[<f32>, <zero>]
// CHECK-COUNT-3: nvvm.wgmma.mma_async {{.*}}, D[<f32>, <one>]
// CHECK-NEXT: nvvm.wgmma.commit.group.sync.aligned
// CHECK: nvvm.cp.async.commit.group
// CHECK-NEXT: nvvm.wgmma.wait.group.sync.aligned 0
func.func @w8a8_e4m3_k384(%x: tensor<64x384xf32>, %w: !qc.packed<128x384, e4m3>) -> tensor<64x128xf32> {
  %y = qc.matmul %x, %w act <e4m3> : tensor<64x384xf32>, !qc.packed<128x384, e4m3> -> tensor<64x128xf32>
  return %y : tensor<64x128xf32>
}

// -----

// E5M2 operands take the same kernel with the wgmma's E5M2 type, per operand
// (A = the activations, B = the weights).
// CHECK-LABEL: func.func @w8a8_e5m2
// CHECK: gpu.func @qc_wgmma_fp8_gemm(
// CHECK: nvvm.wgmma.mma_async {{.*}}, D[<f32>, <zero>], A[<e5m2>, <one>, <row>], B[<e5m2>, <one>, <col>]
// CHECK: gpu.func @qc_wgmma_fp8_gemm_0(
// CHECK: nvvm.wgmma.mma_async {{.*}}, D[<f32>, <zero>], A[<e5m2>, <one>, <row>], B[<e4m3>, <one>, <col>]
// PTX: wgmma.mma_async.sync.aligned.m64n128k32.f32.e5m2.e5m2
// PTX: wgmma.mma_async.sync.aligned.m64n128k32.f32.e5m2.e4m3
func.func @w8a8_e5m2(%x: tensor<128x128xf32>, %w: !qc.packed<128x128, mxfp8_e5m2>) -> tensor<128x128xf32> {
  %y = qc.matmul %x, %w act <mxfp8_e5m2> : tensor<128x128xf32>, !qc.packed<128x128, mxfp8_e5m2> -> tensor<128x128xf32>
  return %y : tensor<128x128xf32>
}
func.func @e5m2_act_e4m3_weights(%x: tensor<128x128xf32>, %w: !qc.packed<128x128, mxfp8_e4m3>) -> tensor<128x128xf32> {
  %y = qc.matmul %x, %w act <mxfp8_e5m2> : tensor<128x128xf32>, !qc.packed<128x128, mxfp8_e4m3> -> tensor<128x128xf32>
  return %y : tensor<128x128xf32>
}

// -----

// Where the FP8 kernel does not apply, qc_wgmma_fp8_gemm is not used: K not
// a multiple of 128, decode rows (M <= 16), MX weights with row-scaled
// activations, MXINT8 activations.
// CHECK-LABEL: func.func @not_fp8
// CHECK-NOT: qc_wgmma_fp8_gemm
// CHECK: return
func.func @not_fp8(%x: tensor<64x96xf32>, %w: !qc.packed<128x96, mxfp8_e4m3>, %x2: tensor<16x256xf32>, %w2: !qc.packed<128x256, mxfp8_e4m3>, %x3: tensor<64x256xf32>, %w3: !qc.packed<128x256, mxfp8_e5m2>) -> (tensor<64x128xf32>, tensor<16x128xf32>, tensor<64x128xf32>, tensor<64x128xf32>) {
  %y = qc.matmul %x, %w act <mxfp8_e4m3> : tensor<64x96xf32>, !qc.packed<128x96, mxfp8_e4m3> -> tensor<64x128xf32>
  %y2 = qc.matmul %x2, %w2 act <mxfp8_e4m3> : tensor<16x256xf32>, !qc.packed<128x256, mxfp8_e4m3> -> tensor<16x128xf32>
  %y3 = qc.matmul %x3, %w2 act <e4m3> : tensor<64x256xf32>, !qc.packed<128x256, mxfp8_e4m3> -> tensor<64x128xf32>
  %y4 = qc.matmul %x3, %w3 act <mxint8> : tensor<64x256xf32>, !qc.packed<128x256, mxfp8_e5m2> -> tensor<64x128xf32>
  return %y, %y2, %y3, %y4 : tensor<64x128xf32>, tensor<16x128xf32>, tensor<64x128xf32>, tensor<64x128xf32>
}
