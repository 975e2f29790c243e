// Weights known at compile time reach the sm_100a tcgen05 GEMM repacked into
// nv_sf128x4 (quantc/Formats/Layout.h): codes canonical, scales in NVIDIA's
// 128 x 4 scale-factor tiles, byte for byte what tcgen05.cp moves to tensor
// memory, so a stage's weight scale tiles are copied whole (32 threads x 16
// bytes each) instead of gathered 4 bytes per row. Activations (packed by
// qc_quantize_act, canonical) keep the per-row copies; weights only known
// at run time keep the canonical layout (qc-lower-gpu-tcgen05.mlir).
// RUN: quant-opt %s --split-input-file --qc-lower-gpu=chip=sm_100a \
// RUN:   --canonicalize --cse | FileCheck %s
// Other chips read the canonical weights.
// RUN: quant-opt %s --split-input-file --qc-lower-gpu=chip=sm_120a \
// RUN:   --canonicalize --cse | FileCheck %s --check-prefix=OTHER
// OTHER-NOT: nv_sf128x4

// NVFP4, N = 64, K = 256: 8192 bytes of codes, one row block of 128 (rows
// 64.. zero) x 4 column tiles of 512 bytes from byte 8192, the weights'
// f32 tensor scale at 10240 (canonical: 9216 of 9220).
// CHECK-LABEL: func.func @nvfp4
// CHECK: qc.constant {{.*}} : tensor<10244xi8> : !qc.packed<64x256, nvfp4, layout = nv_sf128x4>
// CHECK: gpu.launch_func @qc_kernels::@qc_tcgen05_block_scale_gemm {{.*}} args(%{{.*}} : memref<18724xi8>, %{{.*}} : memref<10244xi8>, %{{.*}} : memref<130x64xf32>)
// CHECK: gpu.func @qc_tcgen05_block_scale_gemm(
// The weight scale tiles: 16-byte copies from 8192 + 512 tile + 16 t (the
// row block times 4 column tiles plus the stage's column tiles).
// CHECK: %[[FIRST32:.*]] = arith.cmpi ult, %{{.*}}, %c32 : index
// CHECK: scf.if %[[FIRST32]] {
// CHECK-COUNT-4: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 16, cache = cg
// Then only the activations' scales, one word per row and tile.
// CHECK-COUNT-4: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 4, cache = ca
// CHECK-NOT: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 4, cache = ca
// CHECK: llvm.getelementptr %{{.*}}[10240] : (!llvm.ptr<1>) -> !llvm.ptr<1>, i8
func.func @nvfp4(%x: tensor<130x256xf32>) -> tensor<130x64xf32> {
  %c = arith.constant dense<0.75> : tensor<64x256xf32>
  %w = qc.quantize %c : tensor<64x256xf32> -> !qc.packed<64x256, nvfp4>
  %y = qc.matmul %x, %w act <nvfp4> : tensor<130x256xf32>, !qc.packed<64x256, nvfp4> -> tensor<130x64xf32>
  return %y : tensor<130x64xf32>
}

// -----

// MXFP4 with two matmuls on the same weights: one repacked constant.
// CHECK-LABEL: func.func @shared
// CHECK: qc.constant {{.*}} : !qc.packed<256x512, mxfp4, layout = nv_sf128x4>
// CHECK-NOT: qc.constant
// CHECK: gpu.launch_func @qc_kernels::@qc_tcgen05_block_scale_gemm
// CHECK-NOT: qc.constant
// CHECK: gpu.launch_func @qc_kernels::@qc_tcgen05_block_scale_gemm
func.func @shared(%x: tensor<256x512xf16>, %x2: tensor<256x512xf16>) -> (tensor<256x256xf16>, tensor<256x256xf16>) {
  %c = arith.constant dense<-1.5> : tensor<256x512xf32>
  %w = qc.quantize %c : tensor<256x512xf32> -> !qc.packed<256x512, mxfp4>
  %y = qc.matmul %x, %w act <mxfp4> : tensor<256x512xf16>, !qc.packed<256x512, mxfp4> -> tensor<256x256xf16>
  %y2 = qc.matmul %x2, %w act <mxfp4> : tensor<256x512xf16>, !qc.packed<256x512, mxfp4> -> tensor<256x256xf16>
  return %y, %y2 : tensor<256x256xf16>, tensor<256x256xf16>
}

// -----

// N = 1152: 128 x 256 CTA tiles; the last CTA's second half (rows 1152..)
// reads row block 8, the last (its results are not stored).
// CHECK-LABEL: func.func @wide
// CHECK: gpu.func @qc_tcgen05_block_scale_gemm(
// CHECK: scf.if
// CHECK: arith.minui %{{.*}}, %c8 : index
func.func @wide(%x: tensor<256x512xf32>) -> tensor<256x1152xf32> {
  %c = arith.constant dense<0.5> : tensor<1152x512xf32>
  %w = qc.quantize %c : tensor<1152x512xf32> -> !qc.packed<1152x512, nvfp4>
  %y = qc.matmul %x, %w act <nvfp4> : tensor<256x512xf32>, !qc.packed<1152x512, nvfp4> -> tensor<256x1152xf32>
  return %y : tensor<256x1152xf32>
}
