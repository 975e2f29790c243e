// sm_90a prefill (M > 16, K % 64 == 0): the wgmma kernel. 256 threads (two
// warpgroups), a 128x128 tile of y per CTA, shared tiles of 128x64 bf16 in
// the wgmma core-matrix layout (8 rows x 16 bytes per core matrix, K-adjacent
// core matrices 128 bytes apart, 8-row groups 1024), four
// wgmma.mma_async.m64n128k16 bf16 x bf16 -> f32 per K step of 64 between
// the fences and the wait, A row-major and B column-major (both K-major).
// The descriptors carry LBO 128 >> 4 = 8 at bit 16 and SBO 1024 >> 4 = 64
// at bit 32: 8 << 16 | 64 << 32 = 274878431232.
// RUN: quant-opt %s --split-input-file --qc-lower-gpu=chip=sm_90a | FileCheck %s
// With wgmma=false, and on other chips, the same matmul takes mma.sync:
// RUN: quant-opt %s --split-input-file --qc-lower-gpu="chip=sm_90a wgmma=false" | FileCheck %s --check-prefix=MMA
// RUN: quant-opt %s --split-input-file --qc-lower-gpu=chip=sm_100a | FileCheck %s --check-prefix=MMA
// The whole kernel lowers to PTX (wgmma through inline PTX):
// RUN: quant-opt %s --split-input-file --qc-lower-gpu=chip=sm_90a --quantc-gpu-to-ptx | FileCheck %s --check-prefix=PTX

// 8-bit codes take the staged path: x and code rows by cp.async into a ring
// of raw slots in dynamic shared memory, then the double-buffered bf16 tiles
// A and B (2 x 16 KiB each). With f32 x a slot is 32 + 8 KiB: not even 2
// fit beside the tiles in 113 KiB (two CTAs per SM), so the lone CTA takes 4
// (224 KiB), 3 groups in flight. Per step: the wait for the next step's
// copies and one barrier, the refill, step s's wgmmas, the decode of step
// s + 1 into the other buffer (fenced) while they run, and the wgmma wait.
// CHECK-LABEL: func.func @gemm_mxfp8
// CHECK: gpu.launch_func  @qc_kernels::@qc_wgmma_gemm blocks in (%{{.*}}, %{{.*}}, %{{.*}}) threads in (%{{.*}}, %{{.*}}, %{{.*}}) dynamic_shared_memory_size %c229376_i32
// CHECK: gpu.func @qc_wgmma_gemm(
// CHECK-NOT: workgroup(
// CHECK-SAME: known_block_size = array<i32: 256, 1, 1>, known_grid_size = array<i32: 3, 2, 1>
// CHECK: %[[SHM:.*]] = gpu.dynamic_shared_memory
// CHECK: memref.view %[[SHM]][%{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<16384xbf16, #gpu.address_space<workgroup>>
// CHECK: memref.view %[[SHM]][%{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<16384xbf16, #gpu.address_space<workgroup>>
// CHECK: memref.view %[[SHM]][%{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<4x128x64xf32, #gpu.address_space<workgroup>>
// CHECK: memref.view %[[SHM]][%{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<4x128x16xi32, #gpu.address_space<workgroup>>
// CHECK: nvvm.cp.async.shared.global {{.*}}, 16, cache = cg
// CHECK-COUNT-4: nvvm.cp.async.commit.group
// CHECK-NEXT: nvvm.cp.async.wait.group 3
// CHECK-NEXT: gpu.barrier
// CHECK-COUNT-8: vector.store %{{.*}} {alignment = 16 : i64} : memref<16384xbf16, #gpu.address_space<workgroup>>, vector<8xbf16>
// CHECK: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// CHECK: scf.for
// CHECK-NEXT: nvvm.cp.async.wait.group 2
// CHECK-NEXT: gpu.barrier
// CHECK-NOT: gpu.barrier
// CHECK: nvvm.cp.async.commit.group
// CHECK: nvvm.wgmma.fence.aligned
// CHECK: arith.constant 274878431232 : i64
// CHECK-COUNT-4: nvvm.wgmma.mma_async {{.*}}, <m = 64, n = 128, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <col>]
// CHECK: nvvm.wgmma.commit.group.sync.aligned
// CHECK-NOT: gpu.barrier
// CHECK: scf.if
// CHECK-COUNT-8: vector.store %{{.*}} {alignment = 16 : i64} : memref<16384xbf16, #gpu.address_space<workgroup>>, vector<8xbf16>
// CHECK: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// CHECK-NEXT: }
// CHECK-NEXT: nvvm.wgmma.wait.group.sync.aligned 0
// CHECK-NEXT: scf.yield
// CHECK-NEXT: }
// CHECK-NEXT: nvvm.cp.async.wait.group 0
// CHECK-COUNT-64: memref.store

// MMA-LABEL: func.func @gemm_mxfp8
// MMA: gpu.launch_func  @qc_kernels::@qc_mma_gemm
// MMA-NOT: wgmma

// PTX: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
func.func @gemm_mxfp8(%x: tensor<130x256xf32>, %w: !qc.packed<320x256, mxfp8_e4m3>) -> tensor<130x320xf32> {
  %y = qc.matmul %x, %w : tensor<130x256xf32>, !qc.packed<320x256, mxfp8_e4m3> -> tensor<130x320xf32>
  return %y : tensor<130x320xf32>
}

// -----

// Odd code widths (3 bits) keep the register path: the tiles as workgroup
// buffers, two barriers per step around the wgmmas and their wait.
// CHECK-LABEL: func.func @gemm_int3
// CHECK: gpu.launch_func  @qc_kernels::@qc_wgmma_gemm
// CHECK-NOT: dynamic_shared_memory_size
// CHECK: gpu.func @qc_wgmma_gemm
// CHECK-SAME: workgroup(%{{.*}} : memref<8192xbf16, #gpu.address_space<workgroup>> {llvm.align = 128 : i64}, %{{.*}} : memref<8192xbf16, #gpu.address_space<workgroup>> {llvm.align = 128 : i64})
// CHECK-SAME: known_block_size = array<i32: 256, 1, 1>, known_grid_size = array<i32: 3, 2, 1>
// CHECK-NOT: nvvm.cp.async
// CHECK: memref.extract_aligned_pointer_as_index
// CHECK: scf.for
// CHECK-COUNT-8: vector.store %{{.*}} {alignment = 16 : i64} : memref<8192xbf16, #gpu.address_space<workgroup>>, vector<8xbf16>
// CHECK: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// CHECK-NEXT: gpu.barrier
// CHECK-NEXT: nvvm.wgmma.fence.aligned
// CHECK: arith.constant 274878431232 : i64
// CHECK-COUNT-4: nvvm.wgmma.mma_async {{.*}}, <m = 64, n = 128, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <col>]
// CHECK: nvvm.wgmma.commit.group.sync.aligned
// CHECK-NEXT: nvvm.wgmma.wait.group.sync.aligned 0
// CHECK-NEXT: gpu.barrier
// CHECK: scf.yield
// CHECK-COUNT-64: memref.store

// MMA-LABEL: func.func @gemm_int3
// MMA: gpu.launch_func  @qc_kernels::@qc_mma_gemm
// MMA-NOT: wgmma

// PTX: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
func.func @gemm_int3(%x: tensor<130x256xf32>, %w: !qc.packed<320x256, int3_g32>) -> tensor<130x320xf32> {
  %y = qc.matmul %x, %w : tensor<130x256xf32>, !qc.packed<320x256, int3_g32> -> tensor<130x320xf32>
  return %y : tensor<130x320xf32>
}
