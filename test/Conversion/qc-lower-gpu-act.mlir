// RUN: quant-opt %s --split-input-file --verify-diagnostics \
// RUN:   --qc-lower-gpu=chip=sm_80 --canonicalize --cse | FileCheck %s

// qc.matmul with `act` on a chip without a kernel reading packed
// activations: qc_quantize_act writes x in mxfp4's canonical layout (64x64
// codes = 2048 bytes, then 128 E8M0 scales), qc_dequantize_act decodes it
// back to f32, and the GEMV runs on that.
// CHECK-LABEL: func.func @mxfp4_fallback
// CHECK-SAME: (%[[X:.*]]: tensor<4x64xf32>,
// CHECK: %[[XB:.*]] = bufferization.to_buffer %[[X]] read_only : tensor<4x64xf32> to memref<4x64xf32>
// CHECK: %[[WB:.*]] = bufferization.to_buffer %{{.*}} read_only : tensor<1088xi8> to memref<1088xi8>
// CHECK: %[[Y:.*]] = memref.alloc() {alignment = 64 : i64} : memref<4x32xf32>
// CHECK: %[[PACKED:.*]] = memref.alloc() {alignment = 64 : i64} : memref<136xi8>
// CHECK: %[[FAKE:.*]] = memref.alloc() {alignment = 64 : i64} : memref<4x64xf32>
// CHECK: gpu.launch_func @qc_kernels::@qc_quantize_act blocks in (%[[C1:.*]], %[[C1]], %[[C1]]) threads in (%[[C128:.*]], %[[C1]], %[[C1]]) args(%[[XB]] : memref<4x64xf32>, %[[PACKED]] : memref<136xi8>) {qc.operand_access = ["in", "out"]}
// CHECK: gpu.launch_func @qc_kernels::@qc_dequantize_act {{.*}} args(%[[PACKED]] : memref<136xi8>, %[[FAKE]] : memref<4x64xf32>) {qc.operand_access = ["in", "out"]}
// CHECK: gpu.launch_func @qc_kernels::@qc_gemv {{.*}} args(%[[FAKE]] : memref<4x64xf32>, %[[WB]] : memref<1088xi8>, %[[Y]] : memref<4x32xf32>)
//
// A block of 32 = 4 chunks of 8 is 4 threads' (32 blocks a CTA): each
// reduces its chunk, the 4 meet in shared memory in 2 steps, the block's
// first thread stores the E8M0 scale (floor(log2 amax) - 2) at byte 128 +
// block, and each thread its chunk's 8 codes (4 bytes) through arith.truncf
// to f4E2M1FN.
// CHECK: gpu.func @qc_quantize_act(%[[XA:.*]]: memref<4x64xf32> {llvm.noalias, llvm.readonly}, %[[OUT:.*]]: memref<136xi8> {llvm.noalias, llvm.writeonly}) workgroup(%[[SH:.*]] : memref<4x128xf32, #gpu.address_space<workgroup>>
// CHECK-SAME: known_block_size = array<i32: 128, 1, 1>, known_grid_size = array<i32: 1, 1, 1>
// CHECK: %[[TID:.*]] = gpu.thread_id x
// CHECK: %[[LANE:.*]] = arith.remui %[[TID]], %c4
// CHECK: %[[G:.*]] = arith.addi
// CHECK: %[[VALID:.*]] = arith.cmpi ult, %[[G]], %c8
// CHECK: %[[END:.*]] = arith.select %[[VALID]], %c4, %c0
// CHECK: %[[STATS:.*]]:4 = scf.for %{{.*}} = %[[LANE]] to %[[END]] step %c4
// CHECK-COUNT-8: memref.load %[[XA]]
// CHECK: memref.store %[[STATS]]#0, %[[SH]][%c0, %[[TID]]]
// CHECK: gpu.barrier
// CHECK: arith.cmpi ult, %[[LANE]], %c2
// CHECK: arith.maxnumf
// CHECK: gpu.barrier
// CHECK: arith.cmpi ult, %[[LANE]], %c1
// CHECK: gpu.barrier
// CHECK-NOT: gpu.barrier
// CHECK: arith.subi %{{.*}}, %c129_i32
// CHECK: %[[SCALEAT:.*]] = arith.addi %[[G]], %c128
// CHECK: memref.store %{{.*}}, %[[OUT]][%[[SCALEAT]]] : memref<136xi8>
// CHECK: scf.for %{{.*}} = %[[LANE]] to %[[END]] step %c4
// CHECK-COUNT-8: arith.truncf %{{.*}} : f32 to f4E2M1FN
// CHECK-COUNT-4: memref.store %{{.*}}, %[[OUT]][%{{.*}}] : memref<136xi8>
//
// qc_dequantize_act: one thread per 8 elements, a 4-byte load of their
// codes, the scale of their block, 8 stores.
// CHECK: gpu.func @qc_dequantize_act(%{{.*}}: memref<136xi8> {llvm.noalias, llvm.readonly}, %[[FX:.*]]: memref<4x64xf32> {llvm.noalias, llvm.writeonly})
// CHECK: vector.load %{{.*}} : memref<136xi8>, vector<4xi8>
// CHECK-COUNT-8: memref.store %{{.*}}, %[[FX]]
func.func @mxfp4_fallback(%x: tensor<4x64xf32>, %w: !qc.packed<32x64, mxfp4>) -> tensor<4x32xf32> {
  %y = qc.matmul %x, %w act <mxfp4> : tensor<4x64xf32>, !qc.packed<32x64, mxfp4> -> tensor<4x32xf32>
  return %y : tensor<4x32xf32>
}

// -----

// NVFP4 with a dynamic tensor scale: qc_act_stats reduces the tensor (per
// CTA of 256 threads: statistics in shared memory, a barrier, thread 0
// writes the CTA's max |x|, max finite |x|, NaN/Inf, min, max), then every
// thread of qc_quantize_act combines the CTAs' partials (the tensor scale:
// max finite |x| / (6 * 448), 1 for zero tensors), quantizes its block of 16
// (E4M3 scale at byte 96 + block), and thread 0 stores the f32 tensor scale
// at byte 108.
// CHECK-LABEL: func.func @nvfp4_dynamic
// CHECK: %[[STATS:.*]] = memref.alloc() : memref<1x5xf32>
// CHECK: %[[PACKED:.*]] = memref.alloc() {{.*}} : memref<112xi8>
// CHECK: gpu.launch_func @qc_kernels::@qc_act_stats blocks in (%[[C1:.*]], %[[C1]], %[[C1]]) threads in (%[[C256:.*]], %[[C1]], %[[C1]]) args(%[[XB:.*]] : memref<3x64xf16>, %[[STATS]] : memref<1x5xf32>) {qc.operand_access = ["in", "out"]}
// CHECK: gpu.launch_func @qc_kernels::@qc_quantize_act {{.*}} args(%[[XB]] : memref<3x64xf16>, %[[STATS]] : memref<1x5xf32>, %[[PACKED]] : memref<112xi8>) {qc.operand_access = ["in", "in", "out"]}
// CHECK: gpu.func @qc_act_stats(%[[X:.*]]: memref<3x64xf16> {{.*}}, %[[OUT:.*]]: memref<1x5xf32> {llvm.noalias, llvm.writeonly}) workgroup(%[[SHARED:.*]] : memref<5x256xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64})
// CHECK: %[[TID:.*]] = gpu.thread_id x
// CHECK: scf.for %{{.*}} = %{{.*}} to %c192 step %c256
// CHECK: memref.store %{{.*}}, %[[SHARED]][%c4, %[[TID]]]
// CHECK: gpu.barrier
// CHECK: scf.if
// CHECK: scf.for %{{.*}} = %c0 to %c256 step %c1
// CHECK: memref.store %{{.*}}, %[[OUT]][%{{.*}}, %c4] : memref<1x5xf32>
// CHECK: gpu.func @qc_quantize_act(%{{.*}}: memref<3x64xf16> {{.*}}, %[[PARTS:.*]]: memref<1x5xf32> {llvm.noalias, llvm.readonly}, %[[BYTES:.*]]: memref<112xi8> {llvm.noalias, llvm.writeonly})
// CHECK-NOT: gpu.barrier
// One CTA of partials here (the combining loop folds away).
// CHECK: %[[FINITE:.*]] = memref.load %[[PARTS]][%c0, %c1] : memref<1x5xf32>
// CHECK: %[[AMAX:.*]] = arith.maxnumf %[[FINITE]], %cst
// CHECK: arith.divf %[[AMAX]], %cst
// CHECK: arith.addi %{{.*}}, %c96 : index
// CHECK: memref.store %{{.*}}, %[[BYTES]][%c108]
// CHECK: memref.store %{{.*}}, %[[BYTES]][%c111]
func.func @nvfp4_dynamic(%x: tensor<3x64xf16>, %w: !qc.packed<32x64, nvfp4>) -> tensor<3x32xf16> {
  %y = qc.matmul %x, %w act <nvfp4> : tensor<3x64xf16>, !qc.packed<32x64, nvfp4> -> tensor<3x32xf16>
  return %y : tensor<3x32xf16>
}

// -----

// A calibrated amax fixes the NV tensor scale (12.5 / 2688): no tensor
// reduction (2 threads per block of 16, one step), thread 0 stores the
// constant.
// CHECK-LABEL: func.func @nvfp4_static
// CHECK: gpu.func @qc_quantize_act
// CHECK-NOT: @qc_act_stats
// CHECK-COUNT-2: gpu.barrier
// CHECK-NOT: gpu.barrier
// CHECK: arith.cmpi eq, %{{.*}}, %c0 : index
// CHECK: memref.store %{{.*}}, %{{.*}}[%c108] : memref<112xi8>
// CHECK: gpu.func @qc_dequantize_act
func.func @nvfp4_static(%x: tensor<3x64xf32>, %w: !qc.packed<32x64, nvfp4>) -> tensor<3x32xf32> {
  %y = qc.matmul %x, %w act <nvfp4, amax = 12.5> : tensor<3x64xf32>, !qc.packed<32x64, nvfp4> -> tensor<3x32xf32>
  return %y : tensor<3x32xf32>
}

// -----

// Per tensor: qc_act_stats, then thread 0 of qc_quantize_act stores the one
// f32 scale (amax / 127) at byte 192 and every thread quantizes a chunk of 8
// int8 codes (24 chunks).
// CHECK-LABEL: func.func @int8_per_tensor
// CHECK: @qc_act_stats
// CHECK: gpu.func @qc_quantize_act(%{{.*}}: memref<3x64xf32> {{.*}}, %{{.*}}: memref<1x5xf32> {{.*}}, %[[OUT:.*]]: memref<196xi8>
// CHECK: arith.cmpi ult, %{{.*}}, %c24 : index
// CHECK: arith.divf %{{.*}}, %cst{{.*}} : f32
// CHECK: scf.if
// CHECK: memref.store %{{.*}}, %[[OUT]][%c192]
// CHECK: scf.if
// CHECK: math.roundeven
// CHECK-NOT: arith.truncf
// CHECK-COUNT-8: memref.store %{{.*}}, %[[OUT]]
func.func @int8_per_tensor(%x: tensor<3x64xf32>, %w: !qc.packed<32x64, int8>) -> tensor<3x32xf32> {
  %y = qc.matmul %x, %w act <int8, granularity = tensor> : tensor<3x64xf32>, !qc.packed<32x64, int8> -> tensor<3x32xf32>
  return %y : tensor<3x32xf32>
}

// -----

// What the quantizer does not take stays for the CPU lowering.
// CHECK-LABEL: func.func @act_k_not_multiple_of_8
// CHECK: qc.matmul
func.func @act_k_not_multiple_of_8(%x: tensor<2x36xf32>, %w: !qc.packed<8x36, int8>) -> tensor<2x8xf32> {
  // expected-remark @+1 {{qc-lower-gpu: left for the CPU lowering: quantized activations need K to be a multiple of 8 on the GPU}}
  %y = qc.matmul %x, %w act <int8> : tensor<2x36xf32>, !qc.packed<8x36, int8> -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}
