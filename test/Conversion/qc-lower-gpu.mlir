// RUN: quant-opt %s --split-input-file --verify-diagnostics \
// RUN:   --qc-lower-gpu=chip=sm_90a --canonicalize | FileCheck %s

// Decode (M <= 16): the GEMV kernel, 16-byte loads of the codes, shuffles.
// CHECK-LABEL: func.func @gemv_mxfp4
// CHECK-SAME: (%[[X:.*]]: tensor<1x256xf32>, %[[W:.*]]: !qc.packed<64x256, mxfp4>)
// CHECK: %[[XB:.*]] = bufferization.to_buffer %[[X]] read_only : tensor<1x256xf32> to memref<1x256xf32>
// CHECK: %[[BYTES:.*]] = builtin.unrealized_conversion_cast %[[W]] : !qc.packed<64x256, mxfp4> to tensor<8704xi8>
// CHECK: %[[WB:.*]] = bufferization.to_buffer %[[BYTES]] read_only : tensor<8704xi8> to memref<8704xi8>
// CHECK: %[[Y:.*]] = memref.alloc() {alignment = 64 : i64} : memref<1x64xf32>
// CHECK: gpu.launch_func @qc_kernels::@qc_gemv blocks in (%{{.*}}, %{{.*}}, %{{.*}}) threads in (%{{.*}}, %{{.*}}, %{{.*}}) args(%[[XB]] : memref<1x256xf32>, %[[WB]] : memref<8704xi8>, %[[Y]] : memref<1x64xf32>) {qc.operand_access = ["in", "in", "out"]}
// CHECK: %[[R:.*]] = bufferization.to_tensor %[[Y]] restrict writable
// CHECK: return %[[R]]
// CHECK: gpu.module @qc_kernels [#nvvm.target<O = 3, chip = "sm_90a", features = "+ptx80">]
// CHECK: gpu.func @qc_gemv(%{{.*}}: memref<1x256xf32> {llvm.noalias, llvm.readonly}, %{{.*}}: memref<8704xi8> {llvm.noalias, llvm.readonly}, %{{.*}}: memref<1x64xf32> {llvm.noalias, llvm.writeonly}) workgroup(%{{.*}} : memref<16xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}) kernel
// CHECK-SAME: known_block_size = array<i32: 128, 1, 1>, known_grid_size = array<i32: 16, 1, 1>
// CHECK: scf.for
// CHECK: vector.load %{{.*}} {alignment = 16 : i64} : memref<8704xi8>, vector<16xi8>
// CHECK: llvm.intr.fma
// CHECK: gpu.shuffle xor
// CHECK: gpu.barrier
func.func @gemv_mxfp4(%x: tensor<1x256xf32>, %w: !qc.packed<64x256, mxfp4>) -> tensor<1x64xf32> {
  %y = qc.matmul %x, %w : tensor<1x256xf32>, !qc.packed<64x256, mxfp4> -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// -----

// Prefill: 128x128 tiles in shared memory, mma.sync m16n8k16 f16 -> f32
// (on sm_90a the fallback of the wgmma kernel, which needs K % 64 == 0).
// Activations of rank 3 are collapsed to [M, K] and the result expanded.
// 4-bit codes take the staged path: x and code rows copied by cp.async
// (16-byte .cg) into a ring in dynamic shared memory (2 slots for f32
// activations: 2 x (16 + 2) KiB, then the double-buffered f16 tiles at 36
// KiB), 2 steps ahead; one barrier per step, after the wait for the next
// step's group: decoding step s + 1 and step s's MMAs share it.
// CHECK-LABEL: func.func @gemm_nvfp4
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0, 1], [2]] : tensor<2x100x224xf32> into tensor<200x224xf32>
// CHECK: gpu.launch_func @qc_kernels::@qc_mma_gemm {{.*}} dynamic_shared_memory_size %c77824_i32
// CHECK: tensor.expand_shape
// CHECK: gpu.func @qc_mma_gemm(
// CHECK-NOT: workgroup(
// CHECK-SAME: known_block_size = array<i32: 256, 1, 1>, known_grid_size = array<i32: 2, 2, 1>
// CHECK: %[[SHM:.*]] = gpu.dynamic_shared_memory
// CHECK: memref.view %[[SHM]][%c36864][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<2x128x40xf16, #gpu.address_space<workgroup>>
// CHECK: memref.view %[[SHM]][%c57344][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<2x128x40xf16, #gpu.address_space<workgroup>>
// CHECK: memref.view %[[SHM]][%c0][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<2x128x32xf32, #gpu.address_space<workgroup>>
// CHECK: memref.view %[[SHM]][%c32768][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<2x128x4xi32, #gpu.address_space<workgroup>>
// CHECK-COUNT-4: nvvm.cp.async.shared.global {{.*}}, 16, cache = cg
// CHECK: scf.if
// CHECK-NEXT: arith.
// CHECK: nvvm.cp.async.shared.global {{.*}}, 16, cache = cg
// CHECK: nvvm.cp.async.commit.group
// CHECK: nvvm.cp.async.commit.group
// CHECK-NEXT: nvvm.cp.async.wait.group 1
// CHECK-NEXT: gpu.barrier
// CHECK: scf.for
// CHECK-NEXT: nvvm.cp.async.wait.group 0
// CHECK-NEXT: gpu.barrier
// CHECK-NOT: gpu.barrier
// CHECK: nvvm.cp.async.commit.group
// CHECK-NOT: gpu.barrier
// CHECK: nvvm.mma.sync A[{{.*}}] B[{{.*}}] C[{{.*}}] {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (vector<2xf16>, vector<2xf16>, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// CHECK-NOT: gpu.barrier
// CHECK: scf.yield
// CHECK-NEXT: }
// CHECK-NEXT: nvvm.cp.async.wait.group 0
func.func @gemm_nvfp4(%x: tensor<2x100x224xf32>, %w: !qc.packed<192x224, nvfp4>) -> tensor<2x100x192xf32> {
  %y = qc.matmul %x, %w : tensor<2x100x224xf32>, !qc.packed<192x224, nvfp4> -> tensor<2x100x192xf32>
  return %y : tensor<2x100x192xf32>
}

// -----

// f16 activations: 3 ring slots (3 x (8 + 2) KiB, tiles at 30 KiB), 3 steps
// ahead, the loop waiting with one group in flight.
// CHECK-LABEL: func.func @gemm_nvfp4_f16
// CHECK: gpu.launch_func @qc_kernels::@qc_mma_gemm {{.*}} dynamic_shared_memory_size %c71680_i32
// CHECK: gpu.func @qc_mma_gemm(
// CHECK: memref.view %{{.*}}[%c30720][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<2x128x40xf16, #gpu.address_space<workgroup>>
// CHECK: memref.view %{{.*}}[%c0][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<3x128x32xf16, #gpu.address_space<workgroup>>
// CHECK: nvvm.cp.async.wait.group 2
// CHECK: scf.for
// CHECK-NEXT: nvvm.cp.async.wait.group 1
// CHECK-NEXT: gpu.barrier
func.func @gemm_nvfp4_f16(%x: tensor<200x224xf16>, %w: !qc.packed<192x224, nvfp4>) -> tensor<200x192xf16> {
  %y = qc.matmul %x, %w : tensor<200x224xf16>, !qc.packed<192x224, nvfp4> -> tensor<200x192xf16>
  return %y : tensor<200x192xf16>
}

// -----

// Odd code widths (3 bits: a thread's 16 codes are 6 bytes, not whole
// shared-memory words) keep the register path: f16 tiles as workgroup
// buffers, global loads, two barriers per step.
// CHECK-LABEL: func.func @gemm_int3
// CHECK: gpu.launch_func @qc_kernels::@qc_mma_gemm
// CHECK-NOT: dynamic_shared_memory_size
// CHECK: gpu.func @qc_mma_gemm
// CHECK-SAME: workgroup(%{{.*}} : memref<128x40xf16, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %{{.*}} : memref<128x40xf16, #gpu.address_space<workgroup>> {llvm.align = 16 : i64})
// CHECK-NOT: nvvm.cp.async
// CHECK: scf.for
// CHECK: gpu.barrier
// CHECK: nvvm.mma.sync
// CHECK: gpu.barrier
// CHECK-NEXT: scf.yield
func.func @gemm_int3(%x: tensor<200x224xf32>, %w: !qc.packed<192x224, int3_g32>) -> tensor<200x192xf32> {
  %y = qc.matmul %x, %w : tensor<200x224xf32>, !qc.packed<192x224, int3_g32> -> tensor<200x192xf32>
  return %y : tensor<200x192xf32>
}

// -----

// K not a multiple of 32: the SIMT kernel, one thread per output.
// CHECK-LABEL: func.func @simt_int8
// CHECK: gpu.launch_func @qc_kernels::@qc_simt_matmul
// CHECK: gpu.func @qc_simt_matmul
// CHECK-SAME: known_block_size = array<i32: 128, 1, 1>, known_grid_size = array<i32: 1, 3, 1>
func.func @simt_int8(%x: tensor<3x100xf32>, %w: !qc.packed<10x100, int8>) -> tensor<3x10xf32> {
  %y = qc.matmul %x, %w : tensor<3x100xf32>, !qc.packed<10x100, int8> -> tensor<3x10xf32>
  return %y : tensor<3x10xf32>
}

// -----

// Two matmuls share the kernel module; names stay unique.
// CHECK-LABEL: func.func @two
// CHECK: gpu.launch_func @qc_kernels::@qc_gemv
// CHECK: gpu.launch_func @qc_kernels::@qc_gemv_0
// CHECK: gpu.func @qc_gemv(
// CHECK: gpu.func @qc_gemv_0(
func.func @two(%x: tensor<4x64xf32>, %w: !qc.packed<32x64, int4_g32>, %v: !qc.packed<64x32, mxfp8_e4m3>) -> tensor<4x64xf32> {
  %h = qc.matmul %x, %w : tensor<4x64xf32>, !qc.packed<32x64, int4_g32> -> tensor<4x32xf32>
  %y = qc.matmul %h, %v : tensor<4x32xf32>, !qc.packed<64x32, mxfp8_e4m3> -> tensor<4x64xf32>
  return %y : tensor<4x64xf32>
}

// -----

// Activation formats the GPU quantizer does not take stay for the CPU
// lowering (and no kernel module); qc-lower-gpu-act.mlir has those it takes.
// CHECK-LABEL: func.func @act_stays
// CHECK: qc.matmul
// CHECK-NOT: gpu.module
func.func @act_stays(%x: tensor<1x64xf32>, %w: !qc.packed<32x64, mxfp4>) -> tensor<1x32xf32> {
  // expected-remark @+1 {{qc-lower-gpu: left for the CPU lowering: 2-D blocks of activations are not implemented on the GPU}}
  %y = qc.matmul %x, %w act <int8, granularity = block2d, block = 1, block2 = 32> : tensor<1x64xf32>, !qc.packed<32x64, mxfp4> -> tensor<1x32xf32>
  return %y : tensor<1x32xf32>
}
